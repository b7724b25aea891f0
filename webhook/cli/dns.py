"""``rebound dns``: recipient-domain DNS checks as the service sees them."""
from __future__ import annotations

import click

from webhook.cli.common import DOMAIN, emit, open_store


@click.group("dns")
def dns() -> None:
    """Recipient-domain DNS checks (what invalid_domain is based on)."""


@dns.command("check")
@click.argument("domains", nargs=-1, required=True, type=DOMAIN)
@click.option("--fresh", is_flag=True, help="ask DNS now, ignoring (and replacing) the cached verdict")
def dns_check(domains: tuple[str, ...], fresh: bool) -> None:
    """Does each DOMAIN accept mail? One JSON line per domain."""
    from store.records import iso

    with open_store() as store:
        if store.dns is None:
            raise click.ClickException("DNS checks are off (REBOUND_DNS_CHECKS=false)")
        for name in domains:
            if fresh:
                store.dns.forget(name)
            fact = store.dns.check(name)
            emit({"domain": name, "status": fact.status, "accepts_mail": None if fact.status == "unknown"
                  else not fact.invalid, "detail": fact.detail,
                  "checked": iso(fact.checked)})
