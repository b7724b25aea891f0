"""What the ``rebound`` commands take, as click parameter types.

Bad input is a usage error (exit status 2) naming the argument and the problem, found
before anything connects to Redis; commands receive the value in the form the store keeps
(a normalised address, an IDNA domain, epoch seconds). ``OneLineErrors`` makes every
usage error of every command a single line on stderr.
"""
from __future__ import annotations

import contextlib

import click


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
