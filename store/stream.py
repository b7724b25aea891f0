"""A batch applied as a stream: one round trip, with Redis working while Python builds.

A pipeline packs every command, sends them, then waits: Redis idles while Python prepares
the batch, Python idles while Redis runs it. Here commands go out in chunks as soon as they
are built (possibly while the request is still being parsed), and every reply is read at
the end: still one round trip per batch, but the two sides overlap.

On a Redis Cluster each command goes to the primary of its slot, one connection per
primary (store/client.py's CommandStream): still one round trip per server, all in parallel.

Failure handling keeps the store's promise (nothing acknowledged is lost, nothing counts
twice): any error drops the connection rather than reuse it half-read; the commands of a
connection that failed (stale across a Redis restart, a primary that died), that Redis
refused for a forgotten script (restart, SCRIPT FLUSH, a promoted replica) or for a slot
that moved are sent again, and only those. The replays are safe because the apply script
applies each event at most once, and exact: the batch's operation id in each dedup marker
makes a replayed event answer the effects it had, not "duplicate" (apply.lua).
"""
from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime


from store.policy import Policy, plan
from store.raw import keeps_raw
from store.records import MAX_AHEAD_SECONDS

from store.client import CommandStream, storage

CHUNK = 128


class ApplyStream:
    """Per event, one apply command and the platform commands the policy asks for;
    :meth:`finish` gives one reply per event."""

    def __init__(self, ingest, tenant: str, policy: Policy, raw: bytes | None = None, now: float | None = None):
        self.ingest, self.tenant, self.policy = ingest, tenant, policy
        received = time.time() if now is None else now
        self.now = str(int(received))
        self.latest = datetime.fromtimestamp(int(received) + MAX_AHEAD_SECONDS, UTC)
        #: the request's body, kept with the first event that needs it (store/raw.py); its ref
        self.raw, self.ref = raw or None, None
        #: the reply slot of the command keeping the raw payload; after finish(), whether it
        #: was kept (None: nothing to keep), False when the tenant's raw quota is spent
        self.raw_slot: int | None = None
        self.raw_kept: bool | None = None
        self.pending: list[tuple] = []
        self.sent: list[tuple] = []
        self.events = 0
        self.commands = 0                  # queued so far (the raw payload's ones included)
        self.slots: list[int] = []         # per event: the index of its apply command's reply
        self.items: list[tuple] = []
        #: this batch's operation id; with the event's place in the batch, in the event's dedup
        #: marker (apply.lua): a replay of the command answers its effects, while the same
        #: event twice in one batch is still a duplicate the second time
        self.op = secrets.token_hex(8)
        self.wire = CommandStream(storage(ingest.r))

    # -- building ------------------------------------------------------------------------
    def add(self, items) -> None:
        """Queue (event, verdict) pairs; full chunks leave at once."""
        from store.ingest import history_entry, idempotency_digest

        ingest, tenant, policy, now = self.ingest, self.tenant, self.policy, self.now
        latest = self.latest
        for event, verdict in items:
            if event.time > latest:
                event = dataclasses.replace(event, time=latest,
                                            extra={**event.extra, "reported_time": event.time.isoformat()})
            ref = None
            if keeps_raw(event) and self.raw is not None:
                if self.ref is None:              # the first event that needs it: keep it now
                    self.ref, keep = ingest.raw.commands(tenant, self.raw, event.provider, now)
                    self.raw_slot = self.commands
                    self.pending.extend(keep)
                    self.commands += len(keep)
                ref = self.ref
            self.slots.append(self.commands)
            self.pending.append(ingest.command(tenant, event.recipient, idempotency_digest(event),
                                               plan(event, verdict, policy), history_entry(event, verdict, ref), now,
                                               op=f"{self.op}.{self.events:x}"))
            self.commands += 1
            extra = ingest.platform_commands(tenant, event, verdict, policy)
            if extra:
                self.pending.extend(extra)
                self.commands += len(extra)
            self.items.append((event, verdict))
            self.events += 1
        if len(self.pending) >= CHUNK:
            self._send()

    def add_commands(self, commands: list[tuple]) -> None:
        """Queue already built apply commands (benchmarks measure Redis alone this way)."""
        self.pending.extend(commands)
        self.slots.extend(range(self.commands, self.commands + len(commands)))
        self.commands += len(commands)
        self.events += len(commands)

    # -- the wire --------------------------------------------------------------------------
    def _send(self) -> None:
        chunk, self.pending = self.pending, []
        self.wire.send(chunk)

    def finish(self) -> list:
        """Send what is left, read every reply; one per event (0 for a duplicate; the
        platform commands' replies are not returned). Then what depends on which events were
        new: sender-side failures counted, verdicts queued for review (Ingest.after_apply)."""
        replies = self._finish_wire()
        per_event = [replies[slot] for slot in self.slots] if replies else []
        if self.raw_slot is not None and replies:
            self.raw_kept = bool(replies[self.raw_slot])
        if self.items:
            self.ingest.after_apply(self.tenant, self.items, per_event, self.ref)
        return per_event

    def _finish_wire(self) -> list:
        if self.events == 0:
            self.wire.abort()
            return []
        if self.pending:
            self._send()
        replies = self.wire.finish(self.ingest.load_script)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def abort(self) -> None:
        """Give the connections up without reading (the request failed: nothing is acknowledged)."""
        self.wire.abort()
