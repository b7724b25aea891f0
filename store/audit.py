"""The audit trails: who changed what by hand, when and why (a Redis stream per tenant, and
one for the platform's operator), bounded to the newest :data:`AUDIT_MAXLEN` entries."""
from __future__ import annotations

import hashlib
import time

import orjson

AUDIT_MAXLEN = 100_000


def entry_json(entry: dict) -> bytes:
    """An entry as stored (``time``: now, unless it says)."""
    return orjson.dumps({"time": int(time.time()), **entry})


def queue(pipe, key: str, entry: dict) -> None:
    """Add ``entry`` to the trail at ``key``, on ``pipe`` (a pipeline, or a client for a
    write of its own)."""
    pipe.xadd(key, {"json": entry_json(entry)}, maxlen=AUDIT_MAXLEN, approximate=True)


#: Remove a field of a hash and, only if it was there, audit that, as one step (the hash and
#: the trail share a hash tag). KEYS: hash, trail; ARGV: field, entry JSON, trail length.
UNLIST_LUA = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'json', ARGV[2])
return 1
"""


def read(client, key: str, count: int = 100) -> list[dict]:
    """The newest ``count`` entries, newest first, each with its stream id."""
    rows = client.xrevrange(key, count=count)
    return [iso_time({"id": i.decode(), **orjson.loads(fields[b"json"])}) for i, fields in rows]


def iso_time(entry: dict) -> dict:
    """An entry as answers show it: its time in ISO 8601 UTC (stored as epoch seconds)."""
    from store.records import iso

    if "time" in entry:
        entry["time"] = iso(entry["time"])
    return entry


#: Add a change's audit entries (none, one or two) and remove its intent, as one step (both
#: keys share the tenant's hash tag): an entry that cannot be written leaves the intent for
#: the recovery pass. KEYS: trail, intents; ARGV: trail length, operation id, entries.
AUDIT_INTENT_LUA = """
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'json', ARGV[i])
end
return redis.call('HDEL', KEYS[2], ARGV[2])
"""
AUDIT_INTENT_SHA = hashlib.sha1(AUDIT_INTENT_LUA.encode()).hexdigest()


def finish_intent(client, keys, tenant: str, op: str, entries: list[bytes]) -> None:
    """Add ``entries`` to the tenant's trail and remove the intent ``op``, in one step
    (store/suppressions.py: a person's change in three steps)."""
    from store.client import storage

    layer = storage(client)
    command = ("EVALSHA", AUDIT_INTENT_SHA, 2, keys.audit(tenant), keys.intents(tenant), str(AUDIT_MAXLEN), op,
               *entries)
    [done] = layer.run([command], lambda: layer.load(AUDIT_INTENT_LUA))
    if isinstance(done, Exception):
        raise done
