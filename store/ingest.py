"""Applying classified events to the store: idempotent, atomic per event, bulk per batch."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources

import orjson
import redis

from classifier.events import Event
from classifier.verdict import Verdict
from store.keys import Keys, bucket_of
from store.policy import Policy
from store.stream import ApplyStream

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
        stream = self.open(tenant, policy, raw)
        stream.add(items)
        return self.result(stream.finish())

    def open(self, tenant: str, policy: Policy, raw: bytes | None = None) -> ApplyStream:
        """A batch applied as a stream (see store/stream.py): add(), then finish()."""
        return ApplyStream(self, tenant, policy, raw)

    def result(self, replies: list) -> ApplyResult:
        result = ApplyResult()
        for reply in replies:
            effects = self.effects(reply)
            result.effects.append(effects)
            if effects is None:
                result.duplicates += 1
            else:
                result.accepted += 1
        return result

    def load_script(self) -> None:
        self.r.script_load(APPLY_LUA)

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
            self.load_script()
            pipe.command_stack.extend(stack)          # execute() emptied the pipeline
            return pipe.execute()

    @staticmethod
    def effects(reply) -> list[str] | None:
        return None if reply == 0 else orjson.loads(reply)
