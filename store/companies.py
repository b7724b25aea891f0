"""Organisations that opted out of one tenant's mail (``company_opted_out``), by domain.

A company asking "no more mail to anyone here" is a tenant-level list of domains; an
opt-out of ``acme.com`` covers ``eu.acme.com`` too (the answer names the listed domain).
"""
from __future__ import annotations

import time

import orjson
import redis

from classifier.address import AddressError, normalise_domain
from store import audit
from store.keys import Keys


def clean_domain(domain: str) -> str:
    """A domain as lists store it (lower-case IDNA), or ValueError."""
    try:
        d = normalise_domain(domain.strip().lstrip("@"))
    except AddressError as exc:
        raise ValueError(str(exc)) from None
    if "@" in d or "." not in d or d.startswith("[") or " " in d:
        raise ValueError(f"{domain!r} is not a domain name")
    return d


class Companies:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def add(self, tenant: str, domain: str, *, actor: str, note: str | None = None) -> bool:
        entry = {"t": int(time.time()), "by": actor, **({"note": note} if note else {})}
        return bool(self.r.hset(self.keys.companies(tenant), clean_domain(domain), orjson.dumps(entry)))

    def remove(self, tenant: str, domain: str, *, actor: str, note: str) -> bool:
        """Lift an organisation's opt-out; audited like any unsuppression."""
        d = clean_domain(domain)
        removed = bool(self.r.hdel(self.keys.companies(tenant), d))
        if removed:
            audit.queue(self.r, self.keys.audit(tenant),
                        {"action": "company_opt_out_removed", "domain": d, "by": actor, "note": note})
        return removed

    def list(self, tenant: str) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in sorted(self.r.hgetall(self.keys.companies(tenant)).items())}
