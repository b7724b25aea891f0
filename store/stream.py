"""A batch applied as a stream: one round trip, with Redis working while Python builds.

A pipeline packs every command, sends them, then waits: Redis idles while Python prepares
the batch, Python idles while Redis runs it. Here commands go out in chunks as soon as they
are built (possibly while the request is still being parsed), and every reply is read at
the end: still one round trip per batch, but the two sides overlap.

Failure handling keeps the store's promise (nothing acknowledged is lost, nothing counts
twice): any error drops the connection rather than reuse it half-read; a connection that
went stale across a Redis restart is replaced once and everything sent is sent again; a
script Redis has forgotten (restart, SCRIPT FLUSH) is loaded and the batch replayed. Both
replays are safe because the apply script applies each event at most once.
"""
from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import redis

from store.policy import Policy, plan
from store.raw import keeps_raw
from store.records import MAX_AHEAD_SECONDS

try:
    from hiredis import pack_command as _pack
except ImportError:                                   # hiredis is a dependency; be safe anyway
    _pack = None

CHUNK = 128
_RETRYABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


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
        self.conn = None

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
                                               plan(event, verdict, policy), history_entry(event, verdict, ref), now))
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
    def _connect(self) -> None:
        self.conn = self.ingest.r.connection_pool.get_connection()

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.disconnect()
            self.ingest.r.connection_pool.release(self.conn)
            self.conn = None

    def _write(self, commands: list[tuple]) -> None:
        for i in range(0, len(commands), CHUNK):
            part = commands[i:i + CHUNK]
            # hiredis packs a command in ~1 us; redis-py's generic packing costs five times that
            self.conn.send_packed_command([b"".join(map(_pack, part))] if _pack else self.conn.pack_commands(part))

    def _send(self) -> None:
        chunk, self.pending = self.pending, []
        try:
            if self.conn is None:
                self._connect()
            self._write(chunk)
        except _RETRYABLE:
            self._drop()                         # stale after a restart: once more, from the start
            self._connect()
            self._write(self.sent + chunk)
        self.sent.extend(chunk)

    def _read(self) -> list:
        replies = []
        for _ in self.sent:
            try:
                replies.append(self.conn.read_response())
            except redis.exceptions.ResponseError as exc:
                replies.append(exc)
        return replies

    def _replay(self) -> list:
        self._drop()
        self._connect()
        self._write(self.sent)
        return self._read()

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
        try:
            if self.events == 0:
                return []
            if self.pending:
                self._send()
            try:
                replies = self._read()
            except _RETRYABLE:
                replies = self._replay()
            errors = [r for r in replies if isinstance(r, redis.exceptions.ResponseError)]
            if errors and all(isinstance(e, redis.exceptions.NoScriptError) for e in errors):
                self.ingest.load_script()
                replies = self._replay()
                errors = [r for r in replies if isinstance(r, redis.exceptions.ResponseError)]
            if errors:
                raise errors[0]
        except BaseException:
            self._drop()
            raise
        self.ingest.r.connection_pool.release(self.conn)
        self.conn = None
        return replies

    def abort(self) -> None:
        """Give the connection up without reading (the request failed: nothing is acknowledged)."""
        self._drop()
