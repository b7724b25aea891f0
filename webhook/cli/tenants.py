"""``rebound tenants``: create and list tenants, manage their API keys."""
from __future__ import annotations

import click

from webhook.cli.common import TENANT, TENANT_NAME, emit, open_store, tenant_store


@click.group("tenants")
def tenants() -> None:
    """Create and list tenants, manage their API keys."""


@tenants.command("create")
@click.argument("name", type=TENANT_NAME)
@click.option("--key-only", is_flag=True, help="print the API key alone (KEY=$(rebound tenants create X --key-only))")
def tenants_create(name: str, key_only: bool) -> None:
    """Create a tenant; prints {"tenant": ID, "api_key": KEY} (the key is shown only here)."""
    from store import TenantError

    with open_store() as store:
        try:
            tenant, key = store.tenants.create(name)
        except TenantError as exc:
            raise click.ClickException(str(exc)) from None
    if key_only:
        click.echo(key)
        return
    emit({"tenant": tenant, "api_key": key})


@tenants.command("add-key")
@click.argument("tenant", type=TENANT)
def tenants_add_key(tenant: str) -> None:
    """Issue another API key for TENANT (for rotation; revoke the old one after)."""
    with tenant_store(tenant) as store:
        emit({"tenant": tenant, "api_key": store.tenants.add_key(tenant)})


@tenants.command("revoke-key")
@click.argument("api_key")
def tenants_revoke_key(api_key: str) -> None:
    """Revoke an API key."""
    with open_store() as store:
        if not store.tenants.revoke_key(api_key):
            raise click.ClickException("no such API key")
    emit({"revoked": True})


@tenants.command("list")
def tenants_list() -> None:
    """List tenants (never their keys)."""
    with open_store() as store:
        for row in store.tenants.list():
            emit(row)
