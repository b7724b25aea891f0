"""`rebound policy`, `rebound suppressions`, `rebound platform`, `rebound senders`, `rebound dns`:
the store's commands (registered by webhook/cli.py)."""
from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import sys
import tempfile
import uuid

import click
import orjson

from store.reasons import SUPPRESSION_REASONS, TENANT_SETTABLE
from webhook.cli_params import ADDRESS, DOMAIN, MOMENT, TENANT

ACTOR = "cli"


def _cli():
    from webhook import cli               # the group's helpers (imported late: cli imports us)

    return cli


@contextlib.contextmanager
def tenant_store(tenant: str):
    """The store, for a TENANT argument that names an existing tenant (else a usage error)."""
    cli = _cli()
    with cli.open_store(cli.load_settings()) as store:
        if not store.tenants.exists(tenant):
            raise click.BadParameter(f"no tenant {tenant!r} (`rebound tenants list` lists them)",
                                     param_hint="TENANT")
        yield store


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


def subscription_param(ctx, param, value: str | None) -> str | None:
    """A --subscription in its stored spelling (store/subscriptions.py), or a usage error."""
    from store.subscriptions import SubscriptionError, subscription_name

    try:
        return subscription_name(value)
    except SubscriptionError as exc:
        raise click.BadParameter(str(exc)) from None


# -- policy -------------------------------------------------------------------------------------

@click.group("policy")
def policy() -> None:
    """Show and change a tenant's policy (overrides on top of store/policy_defaults.json)."""


@policy.command("show")
@click.argument("tenant", type=TENANT)
@click.option("--overrides", "only_overrides", is_flag=True, help="only the tenant's overrides")
def policy_show(tenant: str, only_overrides: bool) -> None:
    """Print the effective policy of TENANT as JSON."""
    with tenant_store(tenant) as store:
        out = store.policy_overrides(tenant) if only_overrides else store.policy(tenant).model_dump(mode="json")
    sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")


def _value(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _save(store, tenant: str, change) -> None:
    """Apply ``change`` to the overrides atomically (Store.update_policy_overrides)."""
    from pydantic import ValidationError

    from store import SharingNotAllowed

    try:
        store.update_policy_overrides(tenant, change)
    except SharingNotAllowed as exc:
        raise click.ClickException(f"the policy was not changed: {exc}") from None
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(policy)'}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors(include_url=False)]
        raise click.UsageError("the policy was not changed: " + "; ".join(problems)) from None


@policy.command("set")
@click.argument("tenant", type=TENANT)
@click.argument("assignments", nargs=-1)
@click.option("--file", "file", type=click.File("rb"), help="a JSON object to merge into the overrides")
def policy_set(tenant: str, assignments: tuple[str, ...], file) -> None:
    """Set overrides: PATH=VALUE, VALUE in JSON (a bare word is a string). Examples:

    \b
      rebound policy set acme frequency_cap.per_month.marketing=8
      rebound policy set acme sharing.give=true sharing.receive=true
      rebound policy set acme 'streams.role_address=["marketing","transactional"]'
      rebound policy set acme bounces.account_disabled.soft_after=3
    """
    if not assignments and file is None:
        raise click.UsageError("give PATH=VALUE assignments or --file")
    from store.policy import merge_patch, set_path

    doc = None
    if file is not None:
        try:
            doc = orjson.loads(file.read())
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"--file is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise click.ClickException("--file must hold a JSON object")
    pairs = []
    for a in assignments:
        path, eq, value = a.partition("=")
        if not eq or not path:
            raise click.UsageError(f"{a!r} is not PATH=VALUE")
        pairs.append((path.strip(), _value(value)))

    def change(overrides: dict) -> dict:
        if doc is not None:
            overrides = merge_patch(overrides, doc)
        for path, value in pairs:
            overrides = set_path(overrides, path, value)
        return overrides

    with tenant_store(tenant) as store:
        _save(store, tenant, change)
        click.echo(orjson.dumps(store.policy_overrides(tenant)).decode())


@policy.command("unset")
@click.argument("tenant", type=TENANT)
@click.argument("paths", nargs=-1, required=True)
def policy_unset(tenant: str, paths: tuple[str, ...]) -> None:
    """Remove overrides (back to the defaults), e.g. `rebound policy unset acme sharing`."""
    from store.policy import unset_path

    def change(overrides: dict) -> dict:
        missing = []
        for p in paths:
            rest = unset_path(overrides, p)
            if rest is None:
                missing.append(p)
            else:
                overrides = rest
        if missing:
            raise click.ClickException(f"not overridden: {', '.join(missing)}")
        return overrides

    with tenant_store(tenant) as store:
        _save(store, tenant, change)
        click.echo(orjson.dumps(store.policy_overrides(tenant)).decode())


# -- suppressions ---------------------------------------------------------------------------------

@click.group("suppressions")
def suppressions() -> None:
    """Import and export a tenant's stored suppressions as CSV."""


@suppressions.command("import")
@click.argument("tenant", type=TENANT)
@click.argument("file", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option("--code", type=click.Choice(sorted(TENANT_SETTABLE)), default="manual", show_default=True,
              help="code for rows without a code column")
@click.option("--note", help="note for rows without a note column")
@click.option("--subscription", callback=subscription_param, help="subscription for code 'unsubscribed'")
@click.option("--stream", type=click.Choice(["marketing", "transactional"]), help="block only this stream")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def suppressions_import(tenant: str, file: str, code: str, note: str | None, subscription: str | None,
                        stream: str | None, batch: int) -> None:
    """Import FILE (CSV with an `address` header and optional code, subscription, stream,
    since, until, note columns, e.g. an export; or one address per line; `-` for stdin).
    Prints a JSON summary; rejected lines go to stderr."""
    from store.listing import ImportDefaults, parse_import

    defaults = ImportDefaults(code=code, note=note, stream=stream, subscription=subscription)
    raw = _import_source(file)
    size = os.fstat(raw.fileno()).st_size
    import_id = uuid.uuid4().hex[:12]
    progress = Progress(size, f"importing {os.path.basename(file)}", "bytes")
    total = new = rejected = 0
    rows: list[dict] = []

    def lines():
        for line in raw:
            progress.update(len(line))
            yield line

    with tenant_store(tenant) as store:
        try:
            for line_no, row, error in parse_import(codecs.iterdecode(lines(), "utf-8-sig"), defaults):
                total += 1
                if error:
                    rejected += 1
                    click.echo(f"line {line_no}: {error}", err=True)
                    continue
                rows.append(row)
                if len(rows) >= batch:
                    new += store.suppressions.import_rows(tenant, rows, actor=ACTOR, import_id=import_id)
                    rows = []
            if rows:
                new += store.suppressions.import_rows(tenant, rows, actor=ACTOR, import_id=import_id)
        finally:
            progress.close()
            raw.close()
            store.suppressions.audit_import(tenant, actor=ACTOR, import_id=import_id, imported=new,
                                            rejected=rejected, source=os.path.basename(file))
    click.echo(orjson.dumps({"import_id": import_id, "rows": total, "new": new, "rejected": rejected}).decode())


def _import_source(file: str):
    """The file to import, checked whole first (stdin spooled to a temporary file): a broken
    file (not UTF-8, a NUL byte, bad quoting) imports nothing."""
    from store.listing import ImportFileError, check_import_file

    if file == "-":
        raw = tempfile.TemporaryFile()
        shutil.copyfileobj(sys.stdin.buffer, raw)
        raw.seek(0)
    else:
        raw = open(file, "rb")
    try:
        check_import_file(codecs.iterdecode(raw, "utf-8-sig"))
    except ImportFileError as exc:
        raw.close()
        raise click.ClickException(f"{file}: {exc}") from None
    raw.seek(0)
    return raw


@suppressions.command("export")
@click.argument("tenant", type=TENANT)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file to write (default: stdout)")
@click.option("--code", type=click.Choice(sorted(SUPPRESSION_REASONS)), multiple=True,
              help="only these codes (repeatable)")
@click.option("--stream", type=click.Choice(["marketing", "transactional"]), help="only those blocking this stream")
@click.option("--domain", type=DOMAIN, help="only addresses at this domain or its subdomains")
@click.option("--since", type=MOMENT, help="only suppressions that started at or after (ISO 8601)")
def suppressions_export(tenant: str, output: str | None, code: tuple[str, ...], stream: str | None,
                        domain: str | None, since: int | None) -> None:
    """Export TENANT's stored suppressions as CSV (one row per suppression), streamed."""
    from store.keys import BUCKETS
    from store.listing import Filters, csv_lines

    try:
        filters = Filters.build(codes=code, stream=stream, domain=domain, since=since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--code") from None
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    progress = Progress(BUCKETS, "exporting", "buckets")
    count = 0
    try:
        with tenant_store(tenant) as store:
            def counted(rows):
                nonlocal count
                for row in rows:
                    count += 1
                    yield row
            rows = store.listing.export_rows(tenant, store.policy(tenant), filters, progress=progress.update)
            for chunk in csv_lines(counted(rows)):
                out.write(chunk)
    finally:
        progress.close()
        if output:
            out.close()
    click.echo(f"exported {count} suppressions", err=True)


# -- platform lists -------------------------------------------------------------------------------

@click.group("platform")
def platform() -> None:
    """The operator's lists, for every tenant: blocked domains and blocked addresses."""


def _store():
    cli = _cli()
    return cli.open_store(cli.load_settings())


def _unblocked(what: str, value: str, lifted: bool) -> None:
    """The answer to an unblock; one that found nothing to lift is an error (exit 1)."""
    if not lifted:
        raise click.ClickException(f"{value} is not blocked")
    click.echo(orjson.dumps({what: value, "blocked": False}).decode())


@platform.command("block-domain")
@click.argument("domain", type=DOMAIN)
@click.option("--note")
def platform_block_domain(domain: str, note: str | None) -> None:
    """The owner of DOMAIN asked for no mail from this service (domain_blocked)."""
    with _store() as store:
        store.platform.block_domain(domain, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"domain": domain, "blocked": True}).decode())


@platform.command("unblock-domain")
@click.argument("domain", type=DOMAIN)
@click.option("--note", required=True, help="why (audited)")
def platform_unblock_domain(domain: str, note: str) -> None:
    """Lift domain_blocked from DOMAIN."""
    with _store() as store:
        _unblocked("domain", domain, store.platform.unblock_domain(domain, actor=ACTOR, note=note))


@platform.command("block-address")
@click.argument("address", type=ADDRESS)
@click.option("--kind", type=click.Choice(["opt_out", "trap"]), required=True)
@click.option("--note")
def platform_block_address(address: str, kind: str, note: str | None) -> None:
    """No mail to ADDRESS from any tenant (platform_blocked)."""
    with _store() as store:
        store.platform.block_address(address, kind=kind, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"address": address, "blocked": True}).decode())


@platform.command("unblock-address")
@click.argument("address", type=ADDRESS)
@click.option("--note", required=True, help="why (audited)")
def platform_unblock_address(address: str, note: str) -> None:
    """Lift platform_blocked from ADDRESS."""
    with _store() as store:
        _unblocked("address", address, store.platform.unblock_address(address, actor=ACTOR, note=note))


@platform.command("allow-giver")
@click.argument("tenant", type=TENANT)
@click.option("--note")
def platform_allow_giver(tenant: str, note: str | None) -> None:
    """TENANT may give its hard bounces to the shared pool (its policy's sharing.give)."""
    with _store() as store:
        if not store.tenants.exists(tenant):
            raise click.ClickException(f"no tenant {tenant!r} (see `rebound tenants list`)")
        store.platform.allow_giver(tenant, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"tenant": tenant, "may_give": True}).decode())


@platform.command("disallow-giver")
@click.argument("tenant", type=TENANT)
@click.option("--note", required=True, help="why (audited)")
def platform_disallow_giver(tenant: str, note: str) -> None:
    """TENANT's bounces stop counting for other tenants, at once."""
    with _store() as store:
        if not store.platform.disallow_giver(tenant, actor=ACTOR, note=note):
            raise click.ClickException(f"{tenant} is not allowed to give")
    click.echo(orjson.dumps({"tenant": tenant, "may_give": False}).decode())


@platform.command("list")
def platform_list() -> None:
    """Every blocked domain and address, and the tenants allowed to give bounces, one JSON
    object per line."""
    emit = _cli().emit
    with _store() as store:
        for domain, entry in store.platform.blocked_domains().items():
            emit({"domain": domain, **entry})
        for address, entry in store.platform.blocked_addresses():
            emit({"address": address, **entry})
        for tenant, entry in store.platform.givers().items():
            emit({"giver": tenant, **entry})


# -- sender health and DNS ------------------------------------------------------------------------

@click.group("senders")
def senders() -> None:
    """The sending side's health (failures that never suppress a recipient)."""


@senders.command("status")
@click.argument("tenant", type=TENANT)
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 35))
def senders_status(tenant: str, days: int) -> None:
    with tenant_store(tenant) as store:
        out = store.senders.status(tenant, days=days)
    sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")


@click.group("dns")
def dns() -> None:
    """Recipient-domain DNS checks (what invalid_domain is based on)."""


@dns.command("check")
@click.argument("domains", nargs=-1, required=True, type=DOMAIN)
@click.option("--fresh", is_flag=True, help="ask DNS now, ignoring (and replacing) the cached verdict")
def dns_check(domains: tuple[str, ...], fresh: bool) -> None:
    """Does each DOMAIN accept mail? One JSON line per domain."""
    from store.records import iso

    emit = _cli().emit
    with _store() as store:
        if store.dns is None:
            raise click.ClickException("DNS checks are off (REBOUND_DNS_CHECKS=false)")
        for name in domains:
            if fresh:
                store.dns.forget(name)
            fact = store.dns.check(name)
            emit({"domain": name, "status": fact.status, "accepts_mail": None if fact.status == "unknown"
                  else not fact.invalid, "detail": fact.detail,
                  "checked": iso(fact.checked)})


COMMANDS = [policy, suppressions, platform, senders, dns]
