"""``rebound providers``: a tenant's ESP webhook credentials from the shell."""
from __future__ import annotations

import click

from webhook.cli.common import PROVIDER, TENANT, emit, load_settings, tenant_store


@click.group("providers")
def providers() -> None:
    """ESP webhook credentials per tenant (set, rotate, show, delete)."""


@providers.command("set")
@click.argument("tenant", type=TENANT)
@click.argument("provider", type=PROVIDER)
@click.argument("values", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.option("--grace-hours", type=click.FloatRange(0, 24 * 90),
              help="how long changed values stay valid (default REBOUND_ROTATION_GRACE_HOURS)")
def providers_set(tenant: str, provider: str, values: tuple[str, ...], grace_hours: float | None) -> None:
    """Set TENANT's credentials for PROVIDER; NAME= (empty) removes a name.

    \b
    sendgrid   public_key=<base64 SPKI> | oauth_token=...
    mailgun    signing_key=...
    ses        topic_arns=arn:aws:sns:...,...  auto_confirm=true|false
    postmark   username=... password=...
    sparkpost  username=... password=...  |  token=...
    mandrill   webhook_key=... url=<exactly as configured at Mandrill>
    mailjet    username=... password=...
    brevo      token=...  |  username=... password=...
    resend     secret=whsec_...
    mailersend signing_secret=...
    postal     public_key=<the p= value of `postal default-dkim-record`>
    mailtrap   signing_secret=...
    scaleway   topic_arns=arn:scw:sns:...,...  auto_confirm=true|false
    unisender-go  api_key=...
    """
    from store.credentials import CredentialsError, CredentialsUnreadable
    from webhook.provider_config import configure

    changes = {}
    for n, item in enumerate(values, 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            # never echoed: a forgotten "NAME=" leaves the bare secret here
            raise click.UsageError(f"value {n} is not NAME=VALUE (it is not shown: it may be a secret)")
        changes[name.strip()] = value
    hours = load_settings().rotation_grace_hours if grace_hours is None else grace_hours
    with tenant_store(tenant) as store:
        try:
            emit(configure(store, tenant, provider, changes, int(hours * 3600)))
        except CredentialsError as exc:               # a name or value that cannot be set
            raise click.UsageError(str(exc)) from None
        except CredentialsUnreadable as exc:
            raise click.ClickException(str(exc)) from None


@providers.command("show")
@click.argument("tenant", type=TENANT)
@click.argument("provider", type=PROVIDER, required=False)
def providers_show(tenant: str, provider: str | None) -> None:
    """Show TENANT's configured providers (secrets as ***)."""
    from store.credentials import CredentialsUnreadable
    from webhook.provider_config import describe

    with tenant_store(tenant) as store:
        creds = store.credentials
        try:
            if provider:
                found = creds.get(tenant, provider)
                if found is None:
                    raise click.ClickException(f"{tenant!r} has no {provider} credentials")
                emit(describe(found))
            else:
                for found in creds.all(tenant).values():
                    emit(describe(found))
        except CredentialsUnreadable as exc:
            raise click.ClickException(str(exc)) from None


@providers.command("delete")
@click.argument("tenant", type=TENANT)
@click.argument("provider", type=PROVIDER)
def providers_delete(tenant: str, provider: str) -> None:
    """Remove TENANT's credentials for PROVIDER at once (its webhooks are refused from then on)."""

    with tenant_store(tenant) as store:
        if not store.credentials.delete(tenant, provider):
            raise click.ClickException(f"{tenant!r} has no {provider} credentials")
    emit({"provider": provider, "deleted": True})


@providers.command("genkey")
def providers_genkey() -> None:
    """Print a new key for REBOUND_SECRET_KEY (put it first; keep the old one after it until
    every stored credential has been set again)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())
