"""Bounces held for review: stored, never applied, until a person decides.

A message that came to a signed return path whose token does not verify (forged, damaged,
expired, or naming someone else than the report does) proves nothing about the recipients
it names, so it must not suppress anyone; but it may be a real bounce of a misconfigured
sender, so it is not thrown away either. It is kept here, per tenant: what was found in it
(recipients, codes, diagnostics), why it is held, when and how it came, and a reference to
the message itself, kept as a raw payload (``REBOUND_RAW_RETENTION_DAYS``). The same message
held again is one entry with a count. At most ``HELD_MAX`` entries per tenant are kept, the
oldest dropped first.

``rebound returnpath held`` and ``GET /v1/returnpath/held`` list them; releasing one (the CLI
or the API) applies the message as an ordinary bounce, dropping it discards it.
"""
from __future__ import annotations

import time

import orjson
import redis

from store.keys import Keys
from store.raw import RawPayloads, ref_of

HELD_MAX = 1000


class Held:
    def __init__(self, client: redis.Redis, keys: Keys, raw: RawPayloads, max_items: int = HELD_MAX):
        self.r, self.keys, self.raw = client, keys, raw
        self.max_items = max_items

    def add(self, tenant: str, raw: bytes, entry: dict, now: float | None = None) -> str:
        """Keep ``raw`` and what was found in it (``entry``: reason, via, rcpt, recipients...);
        returns its id. One MULTI: the entry and its message are kept together or not at all."""
        now = time.time() if now is None else now
        ref = ref_of(raw)
        items, order = self.keys.held_items(tenant), self.keys.held_order(tenant)
        found = self.r.hget(items, ref)
        count = (orjson.loads(found).get("count", 1) + 1) if found else 1
        record = {**entry, "id": ref, "raw_ref": ref, "received": int(now), "count": count, "size": len(raw)}
        _, commands = self.raw.commands(tenant, raw, "inbound", str(int(now)))
        pipe = self.r.pipeline(transaction=True)
        for command in commands:
            pipe.execute_command(*command)
        pipe.hset(items, ref, orjson.dumps(record))
        pipe.zadd(order, {ref: now})
        pipe.execute()
        self._trim(tenant)
        return ref

    def _trim(self, tenant: str) -> None:
        order = self.keys.held_order(tenant)
        extra = self.r.zcard(order) - self.max_items
        if extra > 0:
            old = [m.decode() for m in self.r.zrange(order, 0, extra - 1)]
            pipe = self.r.pipeline(transaction=True)
            pipe.zrem(order, *old)
            pipe.hdel(self.keys.held_items(tenant), *old)
            pipe.execute()

    def list(self, tenant: str, limit: int = 100) -> list[dict]:
        """Newest first."""
        ids = self.r.zrevrange(self.keys.held_order(tenant), 0, max(0, limit - 1))
        if not ids:
            return []
        found = self.r.hmget(self.keys.held_items(tenant), ids)
        return [orjson.loads(v) for v in found if v is not None]

    def get(self, tenant: str, item_id: str) -> dict | None:
        found = self.r.hget(self.keys.held_items(tenant), item_id)
        return orjson.loads(found) if found else None

    def count(self, tenant: str) -> int:
        return int(self.r.zcard(self.keys.held_order(tenant)))

    def drop(self, tenant: str, item_id: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self.keys.held_order(tenant), item_id)
        pipe.hdel(self.keys.held_items(tenant), item_id)
        return bool(pipe.execute()[1])
