"""``rebound check``: the senders' question from the shell."""
from __future__ import annotations

import click

from webhook.cli.common import STREAM, TENANT, emit, subscription_param, tenant_store


@click.command("check")
@click.argument("tenant", type=TENANT)
@click.argument("address", nargs=-1, required=True)
@click.option("--stream", type=STREAM)
@click.option("--subscription", callback=subscription_param)
def check(tenant: str, address: tuple[str, ...], stream: str | None, subscription: str | None) -> None:
    """May TENANT send to ADDRESS...? One JSON answer per address (an address that is not one
    is answered, as invalid_syntax)."""
    with tenant_store(tenant) as store:
        for answer in store.check(tenant, list(address), stream=stream, subscription=subscription):
            emit(answer.to_dict())
