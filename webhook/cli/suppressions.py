"""``rebound suppressions``: a tenant's stored suppressions as CSV, in and out."""
from __future__ import annotations

import codecs
import os
import shutil
import sys
import tempfile
import uuid

import click
import orjson

from store.reasons import SUPPRESSION_REASONS, TENANT_SETTABLE
from webhook.cli.common import ACTOR, DOMAIN, MOMENT, STREAM, TENANT, Progress, subscription_param, tenant_store


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
@click.option("--stream", type=STREAM, help="block only this stream")
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
@click.option("--stream", type=STREAM, help="only those blocking this stream")
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
