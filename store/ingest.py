"""Applying classified events to the store: idempotent, atomic per event, bulk per batch."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from importlib import resources

import orjson
import redis

from classifier.events import Event
from classifier.verdict import Verdict
from store.keys import Keys, bucket_of
from store.policy import Policy, plan

APPLY_LUA = resources.files("store").joinpath("apply.lua").read_text("utf-8")


@dataclass
class ApplyResult:
    accepted: int = 0
    duplicates: int = 0
    #: per input event: the effects ("+previously_bounced", "-mailbox_full") or None for a duplicate
    effects: list[list[str] | None] = field(default_factory=list)


def idempotency_digest(event: Event) -> str:
    """Same provider event for the same recipient and kind -> same digest.

    The recipient is part of it because some providers (SES, raw DSNs) report several
    recipients under one message id.
    """
    key = f"{event.provider}\x00{event.event_id}\x00{event.recipient}\x00{event.kind.value}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=12).hexdigest()


def history_entry(event: Event, verdict: Verdict | None) -> bytes:
    entry = {
        "id": event.event_id, "kind": event.kind.value, "provider": event.provider,
        "time": int(event.time.timestamp()),
    }
    for name in ("recipient_raw", "stream", "subscription", "status", "reply_code", "diagnostic",
                 "remote_mta", "smtp_phase", "provider_class", "feedback_type", "message_id",
                 "raw_ref", "reporter"):
        value = getattr(event, name)
        if value is not None:
            entry[name] = value
    if event.extra:
        entry["extra"] = event.extra
    if verdict is not None:
        entry["verdict"] = verdict.to_dict()
    return orjson.dumps(entry)


class Ingest:
    def __init__(self, client: redis.Redis, keys: Keys, *, dedup_seconds: int, history_max: int,
                 raw_seconds: int, raw_max_bytes: int):
        self.r = client
        self.keys = keys
        self.dedup_seconds = dedup_seconds
        self.history_max = history_max
        self.raw_seconds = raw_seconds
        self.raw_max_bytes = raw_max_bytes
        self.script = client.register_script(APPLY_LUA)

    def store_raw(self, pipe, tenant: str, raw: bytes) -> str:
        """Keep the raw payload (bounded) so history can be reclassified later; return its ref."""
        ref = hashlib.blake2b(raw, digest_size=16).hexdigest()
        pipe.set(self.keys.raw(tenant, ref), raw[: self.raw_max_bytes], ex=self.raw_seconds)
        return ref

    def apply(self, tenant: str, items: list[tuple[Event, Verdict | None]], policy: Policy,
              raw: bytes | None = None) -> ApplyResult:
        """Apply every event in one pipeline: one round trip per batch (plus script loading).

        Raises redis errors untouched: the caller must not acknowledge anything then. A
        retried batch is safe, because each event is applied at most once.
        """
        if not items:
            return ApplyResult()
        now = str(int(time.time()))
        pipe = self.r.pipeline(transaction=False)
        ref = self.store_raw(pipe, tenant, raw) if raw else None
        for event, verdict in items:
            if ref and event.raw_ref is None:
                event = event.with_(raw_ref=ref)
            self.queue(pipe, tenant, event.recipient, idempotency_digest(event),
                       plan(event, verdict, policy), history_entry(event, verdict), now)
        replies = pipe.execute()
        if ref:
            replies = replies[1:]
        result = ApplyResult()
        for reply in replies:
            effects = self.effects(reply)
            result.effects.append(effects)
            if effects is None:
                result.duplicates += 1
            else:
                result.accepted += 1
        return result

    def queue(self, pipe, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
              now: str) -> None:
        """Queue one run of the apply script on ``pipe`` (shared with manual changes)."""
        b = bucket_of(address)
        keys = [self.keys.records(tenant, b), self.keys.dedup(tenant, b, digest),
                self.keys.history(tenant, b, address)]
        self.script(keys=keys, args=[address, orjson.dumps(ops), entry, str(self.dedup_seconds),
                                     str(self.history_max), now], client=pipe)

    @staticmethod
    def effects(reply) -> list[str] | None:
        return None if reply == 0 else orjson.loads(reply)
