"""``rebound platform``: the operator's lists, for every tenant."""
from __future__ import annotations

import click
import orjson

from webhook.cli.common import ACTOR, ADDRESS, DOMAIN, TENANT, emit, open_store


@click.group("platform")
def platform() -> None:
    """The operator's lists, for every tenant: blocked domains and blocked addresses."""


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
    with open_store() as store:
        store.platform.block_domain(domain, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"domain": domain, "blocked": True}).decode())


@platform.command("unblock-domain")
@click.argument("domain", type=DOMAIN)
@click.option("--note", required=True, help="why (audited)")
def platform_unblock_domain(domain: str, note: str) -> None:
    """Lift domain_blocked from DOMAIN."""
    with open_store() as store:
        _unblocked("domain", domain, store.platform.unblock_domain(domain, actor=ACTOR, note=note))


@platform.command("block-address")
@click.argument("address", type=ADDRESS)
@click.option("--kind", type=click.Choice(["opt_out", "trap"]), required=True)
@click.option("--note")
def platform_block_address(address: str, kind: str, note: str | None) -> None:
    """No mail to ADDRESS from any tenant (platform_blocked)."""
    with open_store() as store:
        store.platform.block_address(address, kind=kind, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"address": address, "blocked": True}).decode())


@platform.command("unblock-address")
@click.argument("address", type=ADDRESS)
@click.option("--note", required=True, help="why (audited)")
def platform_unblock_address(address: str, note: str) -> None:
    """Lift platform_blocked from ADDRESS."""
    with open_store() as store:
        _unblocked("address", address, store.platform.unblock_address(address, actor=ACTOR, note=note))


@platform.command("allow-giver")
@click.argument("tenant", type=TENANT)
@click.option("--note")
def platform_allow_giver(tenant: str, note: str | None) -> None:
    """TENANT may give its hard bounces to the shared pool (its policy's sharing.give)."""
    with open_store() as store:
        if not store.tenants.exists(tenant):
            raise click.ClickException(f"no tenant {tenant!r} (see `rebound tenants list`)")
        store.platform.allow_giver(tenant, actor=ACTOR, note=note)
    click.echo(orjson.dumps({"tenant": tenant, "may_give": True}).decode())


@platform.command("disallow-giver")
@click.argument("tenant", type=TENANT)
@click.option("--note", required=True, help="why (audited)")
def platform_disallow_giver(tenant: str, note: str) -> None:
    """TENANT's bounces stop counting for other tenants, at once."""
    with open_store() as store:
        if not store.platform.disallow_giver(tenant, actor=ACTOR, note=note):
            raise click.ClickException(f"{tenant} is not allowed to give")
    click.echo(orjson.dumps({"tenant": tenant, "may_give": False}).decode())


@platform.command("list")
def platform_list() -> None:
    """Every blocked domain and address, and the tenants allowed to give bounces, one JSON
    object per line."""
    with open_store() as store:
        for domain, entry in store.platform.blocked_domains().items():
            emit({"domain": domain, **entry})
        for address, entry in store.platform.blocked_addresses():
            emit({"address": address, **entry})
        for tenant, entry in store.platform.givers().items():
            emit({"giver": tenant, **entry})
