"""``rebound review``: the analysts' queue: list it, export the labels."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from webhook.cli.common import TENANT, open_store, tenant_store


@click.group("review")
def review() -> None:
    """The analysts' review queue: verdicts the classifier was unsure of (also GET /v1/review)."""


@review.command("list")
@click.argument("tenant", type=TENANT)
@click.option("--order", type=click.Choice(["oldest", "count"]), default="count", show_default=True)
@click.option("--review-reason", type=click.Choice(["unknown", "low-confidence", "conflict"]))
@click.option("--category", help="only items whose verdict has this category")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def review_list(tenant: str, order: str, review_reason: str | None, category: str | None, limit: int) -> None:
    """TENANT's open items, one JSON object per line (label them with POST /v1/review/ID)."""
    from store.review import Filters

    try:
        filters = Filters(review=review_reason, category=category)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--review-reason/--category") from None
    with tenant_store(tenant) as store:
        page = store.review.page(tenant, order=order, filters=filters, limit=limit)
        for item in page["items"]:
            sys.stdout.buffer.write(orjson.dumps(item) + b"\n")
        click.echo(orjson.dumps(store.review.stats(tenant)).decode(), err=True)


@review.command("export")
@click.option("--tenant", "tenants", type=TENANT, multiple=True,
              help="only this tenant's labels (repeatable; default: every tenant)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="file to write (default: stdout)")
def review_export(tenants: tuple[str, ...], output: Path | None) -> None:
    """Analysts' labels as training records (JSONL, classifier/training/README.md), for
    `rebound train --extra FILE`."""
    count = 0
    with open_store() as store:
        known = {row["tenant"] for row in store.tenants.list()}
        unknown = sorted(set(tenants) - known)
        if unknown:
            raise click.BadParameter(f"no tenant(s) {', '.join(unknown)} (`rebound tenants list` lists them)",
                                     param_hint="--tenant")
        out = output.open("wb") if output else sys.stdout.buffer
        try:
            for tenant in tenants or sorted(known):
                for record in store.review.training_records(tenant):
                    out.write(orjson.dumps(record) + b"\n")
                    count += 1
        finally:
            if output:
                out.close()
    click.echo(f"exported {count} labels", err=True)
