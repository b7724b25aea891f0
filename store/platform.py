"""Platform-wide facts, one copy for all tenants: the operator's lists and shared bounces.

- Blocked domains (``domain_blocked``): the domain's owner asked for no mail from this
  service. A block covers the domain and its subdomains.
- Blocked addresses (``platform_blocked``): people who asked for no mail from anyone on
  this service, and known spam traps. Also derived: an address that complained at
  ``complaint_tenants`` different tenants (0: never).
- Shared bounces (``globally_bounced``): tenants that opt in to give report their hard
  bounces here; tenants that opt in to receive see them for a window. Other tenants are
  known only by a short keyed tag, and answers never name them or show their diagnostics.
  Giving needs the operator's permission (:meth:`Platform.allow_giver`): a tenant's bounces
  change other tenants' answers, so a tenant could otherwise make any address unsendable
  everywhere by reporting made-up bounces. Receiving stays the tenant's own choice. Only the
  bounces of tenants allowed *now* count: taking a tenant off the list takes its bounces
  out of every answer at once.
"""
from __future__ import annotations

import hashlib
import time
from importlib import resources
from typing import TYPE_CHECKING

import orjson

from store import audit
from store.keys import PLATFORM_BUCKETS, Keys, platform_bucket_of

if TYPE_CHECKING:
    import redis

PLATFORM_LUA = resources.files("store").joinpath("platform.lua").read_text("utf-8")
BLOCK_KINDS = ("opt_out", "trap")
#: Complaining tenants remembered per address (the most recent ones): the largest useful
#: ``complaint_tenants`` (REBOUND_COMPLAINT_TENANTS), since a higher threshold could never be
#: reached. Bounded because the record is read on every check of the address.
COMPLAINTS_KEPT = 16
#: Tenants' shared bounces remembered per address (the most recent ones).
BOUNCES_KEPT = 4


def tenant_tag(tenant: str) -> str:
    """How a tenant appears in shared records: enough to tell tenants apart, nothing more."""
    return hashlib.blake2b(tenant.encode("utf-8"), digest_size=4, key=b"rebound-share").hexdigest()


class Platform:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys
        self.script = client.register_script(PLATFORM_LUA)
        self.unlist_script = client.register_script(audit.UNLIST_LUA)

    # -- sent alongside ingest (store/stream.py) --------------------------------------------
    def command(self, address: str, op: dict) -> tuple:
        """One run of platform.lua as command arguments (EVALSHA, like the apply script)."""
        return ("EVALSHA", self.script.sha, 1, self.keys.platform_records(platform_bucket_of(address)), address,
                orjson.dumps(op))

    def load_script(self) -> None:
        from store.client import storage      # here: `rebound config` imports this module, not Redis

        layer = storage(self.r)
        layer.load(PLATFORM_LUA)
        layer.load(audit.UNLIST_LUA)

    def bounce_command(self, address: str, tenant: str, t: int, reason: str, status: str | None) -> tuple:
        return self.command(address, {"op": "bounce", "tn": tenant_tag(tenant), "t": t, "r": reason,
                                      "s": status or "", "keep": BOUNCES_KEPT})

    def delivery_command(self, address: str, t: int) -> tuple:
        return self.command(address, {"op": "delivered", "t": t})

    def complaint_command(self, address: str, tenant: str, t: int) -> tuple:
        return self.command(address, {"op": "complaint", "tn": tenant_tag(tenant), "t": t, "keep": COMPLAINTS_KEPT})

    def queue(self, pipe, address: str, op: dict) -> None:
        self.script(keys=[self.keys.platform_records(platform_bucket_of(address))],
                    args=[address, orjson.dumps(op)], client=pipe)

    # -- the operator's lists -------------------------------------------------------------
    def _audit(self, pipe, entry: dict) -> None:
        audit.queue(pipe, self.keys.platform_audit(), entry)

    def block_address(self, address: str, *, kind: str, actor: str, note: str | None = None) -> bool:
        if kind not in BLOCK_KINDS:
            raise ValueError(f"kind must be one of {', '.join(BLOCK_KINDS)}")
        entry = {"kind": kind, "t": int(time.time()), "by": actor, **({"note": note} if note else {})}
        pipe = self.r.pipeline(transaction=False)
        self.queue(pipe, address, {"op": "block", "o": entry})
        self._audit(pipe, {"action": "block_address", "address": address, **entry})
        return bool(pipe.execute()[0])

    def unblock_address(self, address: str, *, actor: str, note: str) -> bool:
        pipe = self.r.pipeline(transaction=False)
        self.queue(pipe, address, {"op": "unblock"})
        changed = bool(pipe.execute()[0])
        if changed:
            pipe = self.r.pipeline(transaction=False)
            self._audit(pipe, {"action": "unblock_address", "address": address, "by": actor, "note": note})
            pipe.execute()
        return changed

    def address(self, address: str) -> dict | None:
        raw = self.r.hget(self.keys.platform_records(platform_bucket_of(address)), address)
        return orjson.loads(raw) if raw else None

    def blocked_addresses(self, buckets_per_trip: int = 32):
        """Every operator-blocked address, bucket by bucket: (address, entry). Buckets are
        read a few per round trip (the console's operator page lists the first ones)."""
        for first in range(0, PLATFORM_BUCKETS, buckets_per_trip):
            pipe = self.r.pipeline(transaction=False)
            for b in range(first, min(first + buckets_per_trip, PLATFORM_BUCKETS)):
                pipe.hgetall(self.keys.platform_records(b))
            for fields in pipe.execute():
                for addr, raw in sorted(fields.items()):
                    rec = orjson.loads(raw)
                    if rec.get("o"):
                        yield addr.decode(), rec["o"]

    def _list(self, key: str, name: str, *, action: str, what: str, actor: str, note: str | None) -> bool:
        """Add ``name`` to the operator's list at ``key``, audited in the same transaction."""
        entry = {"t": int(time.time()), "by": actor, **({"note": note} if note else {})}
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, name, orjson.dumps(entry))
        self._audit(pipe, {"action": action, what: name, **entry})
        return bool(pipe.execute()[0])

    def _unlist(self, key: str, name: str, *, action: str, what: str, actor: str, note: str) -> bool:
        """Remove ``name`` from the list at ``key`` and audit it, as one step; False if absent."""
        entry = audit.entry_json({"action": action, what: name, "by": actor, "note": note})
        return bool(self.unlist_script(keys=[key, self.keys.platform_audit()],
                                       args=[name, entry, audit.AUDIT_MAXLEN]))

    def block_domain(self, domain: str, *, actor: str, note: str | None = None) -> bool:
        return self._list(self.keys.blocked_domains(), domain, action="block_domain", what="domain", actor=actor,
                          note=note)

    def unblock_domain(self, domain: str, *, actor: str, note: str) -> bool:
        return self._unlist(self.keys.blocked_domains(), domain, action="unblock_domain", what="domain",
                            actor=actor, note=note)

    # -- who may give bounces to the shared pool ---------------------------------------------
    def allow_giver(self, tenant: str, *, actor: str, note: str | None = None) -> bool:
        return self._list(self.keys.sharing_givers(), tenant, action="allow_giver", what="tenant", actor=actor,
                          note=note)

    def disallow_giver(self, tenant: str, *, actor: str, note: str) -> bool:
        """Take the permission back; the tenant's shared bounces stop counting at once."""
        return self._unlist(self.keys.sharing_givers(), tenant, action="disallow_giver", what="tenant",
                            actor=actor, note=note)

    def givers(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in sorted(self.r.hgetall(self.keys.sharing_givers()).items())}

    def may_give(self, tenant: str) -> bool:
        return bool(self.r.hexists(self.keys.sharing_givers(), tenant))

    def blocked_domains(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in sorted(self.r.hgetall(self.keys.blocked_domains()).items())}

    def audit(self, count: int = 100) -> list[dict]:
        return audit.read(self.r, self.keys.platform_audit(), count)
