"""Raw payloads: the request bodies (ESP webhooks, raw DSNs) that failures, complaints and
unsubscribes came from, so that history can be reclassified when the classifier improves
and a suppression can be audited against what the ESP or the remote server really said.

Only requests that carry such an event are kept: a batch of deliveries, opens, clicks or
sends holds nothing a reclassification or an audit needs, and those are most of the
traffic (memory). A payload is kept ``REBOUND_RAW_RETENTION_DAYS``, cut to
``REBOUND_RAW_MAX_BYTES``, in a hash with what is known of it (when, from which
provider, its full size); its reference (``raw_ref`` in history entries and review
examples) is a digest of the whole body, so the same body sent again is kept once.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import UTC, datetime

import redis

from classifier.events import Event, Kind
from store.keys import Keys

#: the kinds of event whose request is kept
KEEPS_RAW = frozenset({Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP, Kind.COMPLAINT, Kind.UNSUBSCRIBE})
REF = re.compile(r"[0-9a-f]{32}")


def keeps_raw(event: Event) -> bool:
    return event.kind in KEEPS_RAW


def ref_of(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


#: Keeps a payload unless its tenant's quota is spent; 1 kept (or kept already), 0 not.
#: KEYS: the payload, then the tenant's byte counters of the retention's days, today's first.
#: The counters expire a day after the payloads they count, so the sum is never less than
#: what is held (a payload counts until its day's counter goes: the safe side).
KEEP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local n = string.len(ARGV[1])
local used = 0
for i = 2, #KEYS do used = used + tonumber(redis.call('GET', KEYS[i]) or '0') end
if used + n > tonumber(ARGV[6]) then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'size', ARGV[2], 'received', ARGV[3], 'provider', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('INCRBY', KEYS[2], n)
redis.call('EXPIRE', KEYS[2], ARGV[7])
return 1
"""
DAY = 86400


class RawPayloads:
    """``quota``: bytes of payloads one tenant may keep at once (None: no quota)."""

    def __init__(self, client: redis.Redis, keys: Keys, *, seconds: int, max_bytes: int, quota: int | None = None):
        self.r, self.keys = client, keys
        self.seconds, self.max_bytes = seconds, max_bytes
        self.quota = quota

    def usage_keys(self, tenant: str, now: int) -> list[str]:
        """The tenant's daily byte counters that can still count a payload held, today's first."""
        today = now // DAY
        return [f"{self.keys.p}:t:{{{tenant}}}:rawq:{day}" for day in range(today, today - self.seconds // DAY - 2, -1)]

    def commands(self, tenant: str, raw: bytes, provider: str, now: str) -> tuple[str, list[tuple]]:
        """The payload's reference and the command that keeps it (sent with the batch; its
        reply says whether it was kept)."""
        ref = ref_of(raw)
        keys = [self.keys.raw(tenant, ref), *self.usage_keys(tenant, int(now))]
        quota = self.quota if self.quota is not None else 1 << 62
        return ref, [("EVAL", KEEP, len(keys), *keys, raw[: self.max_bytes], len(raw), now, provider,
                      self.seconds, quota, self.seconds + DAY)]

    def used(self, tenant: str, now: int | None = None) -> int:
        """Bytes counted against the tenant's quota now."""
        values = self.r.mget(self.usage_keys(tenant, int(time.time() if now is None else now)))
        return sum(int(v) for v in values if v)

    def get(self, tenant: str, ref: str) -> dict | None:
        """The payload ``ref`` of ``tenant`` and what is known of it; None when unknown or
        expired (or another tenant's: the key is the tenant's own)."""
        if not REF.fullmatch(ref):
            return None
        key = self.keys.raw(tenant, ref)
        pipe = self.r.pipeline(transaction=False)
        pipe.type(key)
        pipe.hgetall(key)
        pipe.get(key)
        pipe.ttl(key)
        kind, fields, legacy, ttl = pipe.execute(raise_on_error=False)
        if kind == b"string":                     # kept before metadata was: the bytes alone
            fields = {b"body": legacy}
        elif kind != b"hash":
            return None
        body = fields.get(b"body", b"")
        size = int(fields.get(b"size") or len(body))
        try:
            payload, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(body).decode("ascii"), "base64"
        received = fields.get(b"received")
        return {
            "ref": ref,
            "provider": (fields.get(b"provider") or b"").decode() or None,
            "received": _iso(int(received)) if received else None,
            "expires": _iso(time.time() + ttl) if ttl >= 0 else None,
            "size": size,
            "truncated": len(body) < size,
            "encoding": encoding,
            "payload": payload,
        }

    def body(self, tenant: str, ref: str) -> bytes | None:
        """The stored bytes alone (as cut to REBOUND_RAW_MAX_BYTES)."""
        found = self.get(tenant, ref)
        if found is None:
            return None
        return base64.b64decode(found["payload"]) if found["encoding"] == "base64" else found["payload"].encode()
