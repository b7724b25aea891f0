"""``rebound senders``: the sending side's health."""
from __future__ import annotations

import click

from webhook.cli.common import TENANT, emit_indented, tenant_store


@click.group("senders")
def senders() -> None:
    """The sending side's health (failures that never suppress a recipient)."""


@senders.command("status")
@click.argument("tenant", type=TENANT)
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 35))
def senders_status(tenant: str, days: int) -> None:
    with tenant_store(tenant) as store:
        out = store.senders.status(tenant, days=days)
    emit_indented(out)
