"""Applying classified events to the store: idempotent, atomic per event, bulk per batch.

One streamed round trip per batch (store/stream.py) carries, per event, the run of the
apply script on the address's record, and where the policy says so a change to the
platform-wide record (a bounce shared with other tenants, a delivery that clears one, a
complaint). Sender-side failures (blocks,
authentication, throttling, content: ``classifier.taxonomy.SENDER_SIDE``) never touch the
recipient's record: they are counted on the tenant's sender health instead, once per
event (duplicates are known only after the first round trip, so this is a second one, for
batches with new events, which it also counts per day for the console: store/daily.py; retried once when the
connection drops, and logged as an error when it still fails, since the events themselves
are stored and acknowledged).

Events whose verdict needs an analyst's review go to the tenant's review queue
(store/review.py) in the same follow-up round trip, so that only new events count.

Every event, engagement events included, gets a dedup marker (``REBOUND_DEDUP_DAYS``) and a
history entry (``REBOUND_HISTORY_MAX`` per address, dropped ``REBOUND_HISTORY_DAYS`` after the
last one): ESPs retry, and an address's activity is what people ask about. A send and the
delivery of the same message count once towards the frequency cap through the record's
ring of recent message digests (see apply.lua).
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from importlib import resources

import orjson
import redis

from classifier.events import Event, Kind
from classifier.taxonomy import SENDER_SIDE
from classifier.verdict import Verdict
from store.client import storage
from store.daily import Daily
from store.keys import Keys, bucket_of
from store.platform import Platform
from store.policy import Policy
from store.raw import RawPayloads
from store.review import Review
from store.senders import SenderHealth
from store.stream import ApplyStream

log = logging.getLogger("rebound.store")
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


def history_entry(event: Event, verdict: Verdict | None, raw_ref: str | None = None) -> bytes:
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
    if raw_ref is not None and event.raw_ref is None:
        entry["raw_ref"] = raw_ref
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
                 review: Review | None = None, complaint_tenants: int = 0):
        self.r = client
        self.keys = keys
        self.dedup_seconds = dedup_seconds
        self.history_max = history_max
        self.history_seconds = history_seconds
        self.raw = RawPayloads(client, keys, seconds=raw_seconds, max_bytes=raw_max_bytes)
        self.platform = platform or Platform(client, keys)
        self.senders = senders or SenderHealth(client, keys)
        self.review = review or Review(client, keys)
        self.daily = Daily(client, keys)
        self.complaint_tenants = complaint_tenants
        self.script = client.register_script(APPLY_LUA)
        self._dedup_arg, self._history_arg = str(dedup_seconds), str(history_max)
        self._history_ttl = str(history_seconds)

    def apply(self, tenant: str, items: list[tuple[Event, Verdict | None]], policy: Policy,
              raw: bytes | None = None, now: float | None = None) -> ApplyResult:
        """Apply every event in one streamed round trip per batch (plus script loading).

        Raises redis errors untouched: the caller must not acknowledge anything then. A
        retried batch is safe, because each event is applied at most once. ``now`` (default:
        the clock) is when suppressions that have ended are pruned.
        """
        if not items:
            return ApplyResult()
        stream = self.open(tenant, policy, raw, now)
        stream.add(items)
        return self.result(stream.finish())

    def open(self, tenant: str, policy: Policy, raw: bytes | None = None, now: float | None = None) -> ApplyStream:
        """A batch applied as a stream (see store/stream.py): add(), then finish()."""
        return ApplyStream(self, tenant, policy, raw, now)

    def result(self, replies: list) -> ApplyResult:
        """``replies``: one per event, as ApplyStream.finish() gives them."""
        result = ApplyResult()
        for reply in replies:
            effects = self.effects(reply)
            result.effects.append(effects)
            if effects is None:
                result.duplicates += 1
            else:
                result.accepted += 1
        return result

    def after_apply(self, tenant: str, items: list[tuple[Event, Verdict | None]], replies: list,
                    raw_ref: str | None = None) -> None:
        """What needs to know which events were new (``replies``, one per event, 0 for a
        duplicate), in one round trip, only when some are new: they are counted per day
        (store/daily.py, the console's overview), the accepted sender-side failures are
        counted on the tenant's sender health, and verdicts that need review are queued for
        the analysts."""
        fresh = [(item, reply) for item, reply in zip(items, replies) if reply != 0]
        if not fresh:
            return
        new = [item for item, _ in fresh]
        daily = (new, [self.effects(reply) for _, reply in fresh])
        sender_side = [(e, v) for e, v in new if is_sender_side(v)]
        review = self.review.command(tenant, new, raw_ref)
        # The events are stored, and an ESP's retry of the batch would be dropped as a
        # duplicate: failing the request now would lose these for good without saving
        # anything. So a dropped connection is retried once (the writes are one MULTI/EXEC:
        # a connection lost before EXEC leaves nothing half written), and a failure that
        # remains is logged loudly, with what was lost.
        error: Exception | None = None
        for _attempt in (1, 2):
            try:
                self._follow_up(tenant, sender_side, review, daily)
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                error = exc
            except redis.exceptions.RedisError as exc:
                error = exc
                break
        log.error("daily counts, sender health and review items of a stored batch were not written",
                  extra={"tenant": tenant, "sender_side_events": len(sender_side),
                         "review_events": sum(1 for _, v in new if v is not None and v.needs_review)},
                  exc_info=error)

    def _follow_up(self, tenant: str, sender_side: list, review: tuple | None, daily: tuple) -> None:
        pipe = self.r.pipeline(transaction=True)
        self.daily.queue(pipe, tenant, *daily, now=time.time())
        if sender_side:
            self.senders.queue(pipe, tenant, sender_side)
        if review is not None:
            pipe.execute_command(*review)
        try:
            replies = pipe.execute()
        except redis.exceptions.NoScriptError:
            # only the review script can be missing (a Redis restart, SCRIPT FLUSH); the
            # counters before it were applied, so only the script call is sent again
            self.review.load_script()
            replies = [self.r.execute_command(*review)]
        if review is not None and replies[-1][1]:
            self.review.trim(tenant)                 # the queue went beyond its bound

    def platform_commands(self, tenant: str, event: Event, verdict: Verdict | None, policy: Policy) -> list[tuple]:
        """This event's platform-wide changes (shared bounces, deliveries that clear them,
        complaints), as commands sent with the batch."""
        t = int(event.time.timestamp())
        if event.kind is Kind.COMPLAINT and self.complaint_tenants:
            return [self.platform.complaint_command(event.recipient, tenant, t)]
        if not policy.sharing.give:
            return []
        if event.kind is Kind.DELIVERED:
            return [self.platform.delivery_command(event.recipient, t)]
        if (event.kind is Kind.BOUNCE and verdict is not None and verdict.hard
                and verdict.category == "nonexistent_account" and verdict.confidence >= policy.min_confidence):
            return [self.platform.bounce_command(event.recipient, tenant, t, verdict.reason, event.status)]
        return []

    def load_script(self) -> None:
        """Load the scripts of a batch on every node (a restart, SCRIPT FLUSH or a promoted
        replica forgot them)."""
        storage(self.r).load(APPLY_LUA)
        self.platform.load_script()

    def command(self, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
                now: str, *, dedup: bool = True, history: str = "a", op: str = "") -> tuple:
        """One run of the apply script, as command arguments (EVALSHA: the script's text is
        sent once, when Redis asks for it).

        ``dedup`` False applies without a dedup marker (for idempotent operations);
        ``history`` is "a" (always keep ``entry``) or "e" (only if something changed);
        ``op``: the operation's id, kept in the dedup marker with the effects, so that the
        same operation run again answers what it did (apply.lua).
        """
        b = bucket_of(address)
        return ("EVALSHA", self.script.sha, 3, self.keys.records(tenant, b), self.keys.dedup(tenant, b, digest),
                self.keys.history(tenant, b, address), address, orjson.dumps(ops), entry,
                self._dedup_arg if dedup else "0", self._history_arg, now, history, self._history_ttl, op)

    def queue(self, pipe, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
              now: str, **kw) -> None:
        """Queue one run of the apply script on ``pipe`` (a transaction of the address's slot)."""
        pipe.execute_command(*self.command(tenant, address, digest, ops, entry, now, **kw))

    def run(self, commands: list[tuple]) -> list:
        """Run apply commands (pipelined, per server on a cluster); after a Redis restart,
        SCRIPT FLUSH or a failover, the scripts are loaded and only the commands Redis
        refused are sent again. An error reply raises."""
        replies = storage(self.r).run(commands, self.load_script)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    @staticmethod
    def effects(reply) -> list[str] | None:
        return None if reply == 0 else orjson.loads(reply)

