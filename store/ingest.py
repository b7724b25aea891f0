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
        self._dedup_arg, self._history_arg = str(dedup_seconds), str(history_max)

    def raw_command(self, tenant: str, raw: bytes) -> tuple[str, tuple]:
        """Keep the raw payload (bounded) so history can be reclassified later: its ref, and
        the command that stores it."""
        ref = hashlib.blake2b(raw, digest_size=16).hexdigest()
        return ref, ("SET", self.keys.raw(tenant, ref), raw[: self.raw_max_bytes], "EX", self.raw_seconds)

    def apply(self, tenant: str, items: list[tuple[Event, Verdict | None]], policy: Policy,
              raw: bytes | None = None) -> ApplyResult:
        """Apply every event in one streamed round trip per batch (plus script loading).

        Raises redis errors untouched: the caller must not acknowledge anything then. A
        retried batch is safe, because each event is applied at most once.
        """
        if not items:
            return ApplyResult()
        now = str(int(time.time()))
        ref, keep_raw = self.raw_command(tenant, raw) if raw else (None, None)

        def commands():
            if keep_raw:
                yield keep_raw
            for event, verdict in items:
                yield self.command(tenant, event.recipient, idempotency_digest(event),
                                   plan(event, verdict, policy), history_entry(event, verdict, ref), now)

        replies = self.stream(commands())
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

    def stream(self, commands, chunk: int = 128) -> list:
        """Send commands in chunks as they are built, then read every reply: one round trip
        like a pipeline, but Redis runs the first chunks while Python builds the next ones.

        On any error the connection is dropped (never reused half-read). Replies naming an
        unknown script (Redis restarted, SCRIPT FLUSH) load it and run everything again,
        which is safe because each event is applied at most once.
        """
        commands = iter(commands)
        try:
            replies, sent = self._stream_once(commands, chunk)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            # a pooled connection that went stale across a Redis restart: one more try on a
            # fresh one, with everything (safe: each event is applied at most once)
            sent = getattr(exc, "rebound_sent", [])
            replies, sent = self._stream_once(iter([*sent, *commands]), chunk)
        errors = [r for r in replies if isinstance(r, redis.exceptions.ResponseError)]
        if errors:
            if all(isinstance(e, redis.exceptions.NoScriptError) for e in errors):
                self.r.script_load(APPLY_LUA)
                return self.stream(iter(sent), chunk)
            raise errors[0]
        return replies

    def _stream_once(self, commands, chunk: int) -> tuple[list, list[tuple]]:
        sent: list[tuple] = []
        pending: list[tuple] = []
        pool = self.r.connection_pool
        conn = pool.get_connection()
        try:
            for args in commands:
                pending.append(args)
                if len(pending) >= chunk:
                    conn.send_packed_command(conn.pack_commands(pending))
                    sent.extend(pending)
                    pending = []
            if pending:
                conn.send_packed_command(conn.pack_commands(pending))
                sent.extend(pending)
                pending = []
            replies = []
            for _ in sent:
                try:
                    replies.append(conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    replies.append(exc)
        except BaseException as exc:
            conn.disconnect()
            exc.rebound_sent = sent + pending          # what the caller may send again
            raise
        finally:
            pool.release(conn)
        return replies, sent

    def command(self, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
                now: str) -> tuple:
        """One run of the apply script, as command arguments (EVALSHA: the script's text is
        sent once, when Redis asks for it)."""
        b = bucket_of(address)
        return ("EVALSHA", self.script.sha, 3, self.keys.records(tenant, b), self.keys.dedup(tenant, b, digest),
                self.keys.history(tenant, b, address), address, orjson.dumps(ops), entry, self._dedup_arg,
                self._history_arg, now)

    def queue(self, pipe, tenant: str, address: str, digest: str, ops: list[dict], entry: bytes,
              now: str) -> None:
        """Queue one run of the apply script on ``pipe`` (shared with manual changes); run
        the pipeline with :meth:`execute`."""
        pipe.execute_command(*self.command(tenant, address, digest, ops, entry, now))

    def execute(self, pipe) -> list:
        """Run a pipeline of queued apply calls; after a Redis restart or SCRIPT FLUSH, load
        the script and run the same commands again (safe: each event applies at most once)."""
        stack = list(pipe.command_stack)
        try:
            return pipe.execute()
        except redis.exceptions.NoScriptError:
            self.r.script_load(APPLY_LUA)
            pipe.command_stack.extend(stack)          # execute() emptied the pipeline
            return pipe.execute()

    @staticmethod
    def effects(reply) -> list[str] | None:
        return None if reply == 0 else orjson.loads(reply)
