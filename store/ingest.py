"""Applying classified events to the store: idempotent, atomic per event, bulk per batch.

One pipeline per batch carries, per event, the run of the apply script on the address's
record, and where the policy says so a change to the platform-wide record (a bounce shared
with other tenants, a delivery that clears one, a complaint). Sender-side failures (blocks,
authentication, throttling, content: ``classifier.taxonomy.SENDER_SIDE``) never touch the
recipient's record: they are counted on the tenant's sender health instead, once per
event (duplicates are known only after the first round trip, so this is a second one, and
only for batches that have such failures).

Engagement events (send, delivered, open, click) arrive for nearly every message, so they
cost no per-event dedup key and no history entry unless they changed a suppression: their
operations are idempotent, and messages are counted once through the record's ring of
recent message digests (see apply.lua).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from importlib import resources

import orjson
import redis

from classifier.events import Event, Kind
from classifier.taxonomy import SENDER_SIDE
from classifier.verdict import Verdict
from store.keys import Keys, bucket_of
from store.platform import Platform
from store.policy import ENGAGEMENT_KINDS, Policy, plan
from store.senders import SenderHealth

APPLY_LUA = resources.files("store").joinpath("apply.lua").read_text("utf-8")


@dataclass
class ApplyResult:
    accepted: int = 0
    duplicates: int = 0
    #: per input event: the effects ("+previously_bounced", "-mailbox_full") or None for a duplicate
    effects: list[list[str] | None] = field(default_factory=list)
    #: events counted on the sender's health instead of the recipient's record
    sender_side: int = 0


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
                 "raw_ref"):
        value = getattr(event, name)
        if value is not None:
            entry[name] = value
    if event.extra:
        entry["extra"] = event.extra
    if verdict is not None:
        entry["verdict"] = verdict.to_dict()
    return orjson.dumps(entry)


def is_sender_side(verdict: Verdict | None) -> bool:
    return verdict is not None and verdict.category in SENDER_SIDE


class Ingest:
    def __init__(self, client: redis.Redis, keys: Keys, *, dedup_seconds: int, history_max: int,
                 raw_seconds: int, raw_max_bytes: int, history_seconds: int = 0,
                 platform: Platform | None = None, senders: SenderHealth | None = None,
                 complaint_tenants: int = 0):
        self.r = client
        self.keys = keys
        self.dedup_seconds = dedup_seconds
        self.history_max = history_max
        self.history_seconds = history_seconds
        self.raw_seconds = raw_seconds
        self.raw_max_bytes = raw_max_bytes
        self.platform = platform or Platform(client, keys)
        self.senders = senders or SenderHealth(client, keys)
        self.complaint_tenants = complaint_tenants
        self.script = client.register_script(APPLY_LUA)

    def store_raw(self, pipe, tenant: str, raw: bytes) -> str:
        """Keep the raw payload (bounded) so history can be reclassified later; return its ref."""
        ref = hashlib.blake2b(raw, digest_size=16).hexdigest()
        pipe.set(self.keys.raw(tenant, ref), raw[: self.raw_max_bytes], ex=self.raw_seconds)
        return ref

    def apply(self, tenant: str, items: list[tuple[Event, Verdict | None]], policy: Policy,
              raw: bytes | None = None, now: float | None = None) -> ApplyResult:
        """Apply every event in one pipeline: one round trip per batch (plus script loading).

        Raises redis errors untouched: the caller must not acknowledge anything then. A
        retried batch is safe, because each event is applied at most once. ``now`` (default:
        the clock) is when suppressions that have ended are pruned.
        """
        if not items:
            return ApplyResult()
        now = str(int(time.time() if now is None else now))
        pipe = self.r.pipeline(transaction=False)
        ref = self.store_raw(pipe, tenant, raw) if raw else None
        slots: list[int | None] = []          # per event: its reply's index, None if not sent
        n = 1 if ref else 0
        for event, verdict in items:
            if ref and event.raw_ref is None:
                event = event.with_(raw_ref=ref)
            ops = plan(event, verdict, policy)
            engagement = event.kind in ENGAGEMENT_KINDS
            if engagement and not ops:
                slots.append(None)            # nothing to change, nothing worth keeping
            else:
                self.queue(pipe, tenant, event.recipient, idempotency_digest(event), ops,
                           history_entry(event, verdict), now,
                           dedup=not engagement, history="e" if engagement else "a")
                slots.append(n)
                n += 1
            n += self._platform_ops(pipe, tenant, event, verdict, policy)
        replies = pipe.execute()
        result = ApplyResult()
        counted = []
        for (event, verdict), slot in zip(items, slots):
            effects = [] if slot is None else self.effects(replies[slot])
            result.effects.append(effects)
            if effects is None:
                result.duplicates += 1
                continue
            result.accepted += 1
            if is_sender_side(verdict):
                counted.append((event, verdict))
        if counted:
            result.sender_side = len(counted)
            self.senders.record(tenant, counted)
        return result

    def _platform_ops(self, pipe, tenant: str, event: Event, verdict: Verdict | None, policy: Policy) -> int:
        """Queue this event's platform-wide changes; return how many replies they add."""
        t = int(event.time.timestamp())
        if event.kind is Kind.COMPLAINT and self.complaint_tenants:
            self.platform.complaint(pipe, event.recipient, tenant, t)
            return 1
        if not policy.sharing.give:
            return 0
        if event.kind is Kind.DELIVERED:
            self.platform.shared_delivery(pipe, event.recipient, t)
            return 1
        if (event.kind is Kind.BOUNCE and verdict is not None and verdict.hard
                and verdict.category == "nonexistent_account" and verdict.confidence >= policy.min_confidence):
            self.platform.share_bounce(pipe, event.recipient, tenant, t, verdict.reason, event.status)
            return 1
        return 0

    def queue(self, pipe, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
              now: str, *, dedup: bool = True, history: str = "a") -> None:
        """Queue one run of the apply script on ``pipe`` (shared with manual changes).

        ``dedup`` False applies without a dedup marker (for idempotent operations);
        ``history`` is "a" (always keep ``entry``) or "e" (only if something changed).
        """
        b = bucket_of(address)
        keys = [self.keys.records(tenant, b), self.keys.dedup(tenant, b, digest),
                self.keys.history(tenant, b, address)]
        self.script(keys=keys, args=[address, orjson.dumps(ops), entry,
                                     str(self.dedup_seconds) if dedup else "0",
                                     str(self.history_max), now, history, str(self.history_seconds)],
                    client=pipe)

    @staticmethod
    def effects(reply) -> list[str] | None:
        return None if reply == 0 else orjson.loads(reply)

