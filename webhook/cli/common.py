"""What every ``rebound`` command shares: settings, the store, output, progress, and the
click parameter types of its arguments.

Command modules import this module and nothing of each other, so no command module can
import another in a cycle; and it imports nothing heavy (click and orjson): what a command
needs beyond that it imports when it runs, so ``rebound --help`` and ``rebound config``
start at once.

Bad input is a usage error (exit status 2) naming the argument and the problem, found
before anything connects to Redis; commands receive the value in the form the store keeps
(a normalised address, an IDNA domain, epoch seconds). ``OneLineErrors`` makes every usage
error of every command a single line on stderr.
"""
from __future__ import annotations

import contextlib
import sys

import click
import orjson

#: Who the audit trail says changed something from the shell.
ACTOR = "cli"


# -- settings, store, output ----------------------------------------------------------------------

def load_settings(**overrides):
    """The validated REBOUND_* settings (with ``overrides`` from options); a bad one is an
    error naming the variable."""
    from webhook.settings import ConfigError, Settings

    try:
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def command_redis(settings):
    """The settings of a command's Redis: the configured one, or the embedded one (started
    for the command if `rebound serve` is not running, and said so when it is a new, empty
    store). A Redis that cannot be started or reached is a ClickException naming it."""
    import redis

    from webhook import redact
    from webhook.embedded import EmbeddedRedis, EmbeddedRedisError

    embedded = None
    try:
        if settings.redis_url is None:
            new = not EmbeddedRedis.has_data(settings.data_dir)
            embedded = EmbeddedRedis(settings.data_dir).start()
            if new:
                click.echo(f"rebound: no store in {settings.data_dir.resolve()} yet: a new, empty one was started "
                           "there (the service's is under its REBOUND_DATA_DIR, or at its REBOUND_REDIS_URL; "
                           "`rebound config` shows this command's)", err=True)
            settings = settings.model_copy(update={"redis_url": embedded.url})
        yield settings
    except EmbeddedRedisError as exc:
        raise click.ClickException(str(exc)) from None
    except redis.ConnectionError as exc:
        raise click.ClickException(f"cannot reach Redis at {redact.url(settings.effective_redis_url)}: {exc}") from None
    finally:
        if embedded is not None:
            embedded.stop()


@contextlib.contextmanager
def open_store(settings=None):
    """A Store on the command's Redis (:func:`command_redis`)."""
    from webhook.services import build_store

    with command_redis(settings or load_settings()) as settings:
        store = build_store(settings)
        store.ping()
        yield store


@contextlib.contextmanager
def tenant_store(tenant: str):
    """The store, for a TENANT argument that names an existing tenant (else a usage error)."""
    with open_store() as store:
        if not store.tenants.exists(tenant):
            raise click.BadParameter(f"no tenant {tenant!r} (`rebound tenants list` lists them)",
                                     param_hint="TENANT")
        yield store


def emit(obj) -> None:
    """One JSON object on one line of stdout, flushed (a pipe's reader sees it at once)."""
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.flush()


def emit_indented(obj) -> None:
    """One JSON document, indented for a person to read."""
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")


class Progress:
    """Progress on stderr: a bar on a terminal, a line per tenth of the work otherwise (logs, CI)."""

    def __init__(self, total: int | None, label: str, unit: str):
        self.total, self.label, self.unit = total, label, unit
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr) if self.tty and total else None
        self.decile = 0
        if self.bar:
            self.bar.__enter__()

    def update(self, n: int) -> None:
        self.done += n
        if self.bar:
            self.bar.update(n)
        elif self.total and self.done * 10 // self.total > self.decile:
            self.decile = self.done * 10 // self.total
            click.echo(f"{self.label}: {self.done * 100 // self.total}% ({self.done}/{self.total} {self.unit})",
                       err=True)

    def close(self) -> None:
        if self.bar:
            self.bar.__exit__(None, None, None)


# -- usage errors -------------------------------------------------------------------------------

class OneLineErrors(click.Group):
    """Usage errors as one line (``Error: ... (try 'rebound x -h')``) instead of click's
    usage block: a script's log or a person's terminal gets the problem, not four lines.
    For the root group; its subcommands' errors pass through it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _one_line():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        with _one_line():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line():
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise                                   # a group named alone: its help, as asked
    except click.UsageError as exc:
        if exc.ctx is None:
            raise
        raise click.UsageError(f"{exc.format_message()} (try '{exc.ctx.command_path} -h')") from None


# -- parameter types ------------------------------------------------------------------------------

class Checked(click.ParamType):
    """A value passed through ``check``, which returns the form commands use or raises
    ValueError saying what is wrong: that becomes the usage error."""

    def __init__(self, name: str, check):
        self.name, self.check = name, check

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value                        # a default, already converted
        try:
            return self.check(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _address(value: str) -> str:
    """An email address, normalised as the store keeps it."""
    from classifier.address import normalise

    return normalise(value)


def _domain(value: str) -> str:
    """A domain name (lower-case IDNA), as the lists keep it."""
    from store.companies import clean_domain

    return clean_domain(value)


def _tenant(value: str) -> str:
    """A tenant id (``rebound tenants list``); whether it exists is checked with the store."""
    from store.tenants import TENANT_ID

    if not TENANT_ID.match(value):
        raise ValueError(f"{value!r} is not a tenant id (lower-case letters, digits and dashes)")
    return value


def _tenant_name(value: str) -> str:
    """A new tenant's name: anything a tenant id can be made from."""
    from store.tenants import slug

    slug(value)
    return value


def _moment(value: str) -> int:
    """An ISO 8601 date or time (UTC if it names no offset), as epoch seconds."""
    from datetime import datetime

    from store.records import parse_time

    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-11-26 or "
                         "2026-11-26T10:00:00Z)") from None
    return parse_time(value)            # its own ValueError (a time the store refuses) says why


def _provider(value: str) -> str:
    """An ESP with a webhook module (sendgrid, mailgun, ...)."""
    from webhook.esp import PROVIDERS

    if value not in PROVIDERS:
        raise ValueError(f"no webhook provider {value!r}; known: {', '.join(PROVIDERS)}")
    return value


ADDRESS = Checked("address", _address)
DOMAIN = Checked("domain", _domain)
TENANT = Checked("tenant", _tenant)
TENANT_NAME = Checked("name", _tenant_name)
MOMENT = Checked("time", _moment)
PROVIDER = Checked("provider", _provider)
STREAM = click.Choice(["marketing", "transactional"])


def subscription_param(ctx, param, value: str | None) -> str | None:
    """A --subscription in its stored spelling (store/subscriptions.py), or a usage error."""
    from store.subscriptions import SubscriptionError, subscription_name

    try:
        return subscription_name(value)
    except SubscriptionError as exc:
        raise click.BadParameter(str(exc)) from None
