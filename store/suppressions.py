"""Changes made by people: manual suppressions, unsuppressions, and the audit trail.

They go through the same apply script as events, so a manual change and an event racing
for the same address cannot lose each other's update, and both land in the history.
"""
from __future__ import annotations

import time
import uuid

import orjson
import redis

from store.ingest import Ingest
from store.keys import Keys, bucket_of
from store.policy import Policy, _suppression
from store.reasons import TENANT_SETTABLE

AUDIT_MAXLEN = 100_000


class NotSuppressed(LookupError):
    """DELETE of an address that has nothing a tenant can lift."""


class Suppressions:
    def __init__(self, client: redis.Redis, keys: Keys, ingest: Ingest):
        self.r = client
        self.keys = keys
        self.ingest = ingest

    def _run(self, tenant: str, address: str, ops: list[dict], entry: dict, audit: dict | None):
        now = int(time.time())
        pipe = self.r.pipeline(transaction=False)
        self.ingest.queue(pipe, tenant, address, uuid.uuid4().hex, ops,
                          orjson.dumps({"time": now, **entry}), str(now))
        if audit is not None:
            pipe.xadd(self.keys.audit(tenant), {"json": orjson.dumps({"time": now, **audit})},
                      maxlen=AUDIT_MAXLEN, approximate=True)
        return self.ingest.effects(self.ingest.execute(pipe)[0])

    def suppress(self, tenant: str, address: str, *, actor: str, note: str | None = None,
                 code: str = "manual", subscription: str | None = None,
                 until: int | None = None) -> list[str]:
        if code not in TENANT_SETTABLE:
            raise ValueError(f"{code!r} cannot be set by hand; settable: {', '.join(sorted(TENANT_SETTABLE))}")
        if code == "unsubscribed" and not subscription:
            raise ValueError("code 'unsubscribed' needs a subscription")
        now = int(time.time())
        evidence = {"by": actor, **({"note": note} if note else {})}
        sup = _suppression(code, now, evidence, sub=subscription if code == "unsubscribed" else None)
        if until is not None:
            sup["u"] = int(until)
        entry = {"kind": "suppress", "code": code, "by": actor, "note": note, "subscription": subscription,
                 "until": until}
        audit = {"action": "suppress", "address": address, **entry}
        return self._run(tenant, address, [{"op": "suppress", "sup": sup}], entry, audit)

    def unsuppress(self, tenant: str, address: str, *, actor: str, note: str, policy: Policy,
                   codes: list[str] | None = None) -> list[str]:
        """Lift the given codes (default: everything the tenant can lift) and reset counters."""
        now = int(time.time())
        lift = sorted(codes or TENANT_SETTABLE)
        ops = [{"op": "lift", "keys": lift, "t": now},
               {"op": "reset", "ks": list(policy.bounces), "t": now}]
        entry = {"kind": "unsuppress", "by": actor, "note": note, "codes": codes}
        effects = self._run(tenant, address, ops, entry, None)
        lifted = [fx[1:] for fx in effects or [] if fx.startswith("-")]
        if not lifted:
            raise NotSuppressed(address)
        audit = {"action": "unsuppress", "address": address, "by": actor, "note": note, "lifted": lifted}
        self.r.xadd(self.keys.audit(tenant), {"json": orjson.dumps({"time": now, **audit})},
                    maxlen=AUDIT_MAXLEN, approximate=True)
        return lifted

    def history(self, tenant: str, address: str, limit: int = 100) -> list[dict]:
        raw = self.r.lrange(self.keys.history(tenant, bucket_of(address), address), 0, limit - 1)
        return [orjson.loads(x) for x in raw]

    def audit(self, tenant: str, count: int = 100) -> list[dict]:
        rows = self.r.xrevrange(self.keys.audit(tenant), count=count)
        return [{"id": i.decode(), **orjson.loads(fields[b"json"])} for i, fields in rows]
