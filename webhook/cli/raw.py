"""``rebound raw``: the payload an event came from."""
from __future__ import annotations

import sys

import click
import orjson

from webhook.cli.common import tenant_store


@click.group("raw")
def raw() -> None:
    """Raw payloads kept for failures, complaints and unsubscribes (also GET /v1/raw/REF)."""


@raw.command("show")
@click.argument("ref")
@click.option("--tenant", required=True, help="the tenant whose payload it is")
@click.option("--body", is_flag=True, help="write the payload's bytes alone (e.g. to `rebound classify -`)")
def raw_show(ref: str, tenant: str, body: bool) -> None:
    """The raw payload REF (a raw_ref of a history entry or a review example) as one JSON
    object with what is known of it; --body: the stored bytes alone."""
    with tenant_store(tenant) as store:
        found = store.raw.body(tenant, ref) if body else store.raw.get(tenant, ref)
    if found is None:
        raise click.ClickException(f"{tenant!r} has no raw payload {ref!r} (unknown, or older than the retention)")
    sys.stdout.buffer.write(found if body else orjson.dumps(found) + b"\n")
