"""Many read-only commands in one round trip, for the "may I send?" path.

A bulk check of 10,000 addresses sends about 1,300 HMGETs. Through a redis-py pipeline
the client spends ~10 us of Python per command on bookkeeping (command stack, callbacks,
per-reply wrappers), two to three times what Redis spends answering them
(bench/bulk_check.py prints both). Reads need none of that: this packs the commands,
writes them at once on one pooled connection and reads the replies in order.

Only a plain ``redis.Redis`` takes this path; any other client (a subclass, a test's
instrumented client) gets an ordinary pipeline. On a Redis Cluster the reads are grouped
per node, sent to every node before any reply is read (the nodes answer in parallel), and a
read whose slot moved meanwhile is sent again through the cluster client
(store/client.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import hiredis
import redis

from store.client import LOST, REDIRECTED, CommandStream, _connection, read_replies, storage

#: Bytes packed before they are sent (see ReadBatch._send).
SEND_CHUNK = 64 * 1024


def _pack(command: tuple) -> bytes:
    return hiredis.pack_command(command)


class ReadBatch:
    """Queue reads with the pipeline's method names, then :meth:`execute` them in order."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self.commands: list[tuple] = []

    def __len__(self) -> int:
        return len(self.commands)

    def get(self, key) -> "ReadBatch":
        self.commands.append(("GET", key))
        return self

    def mget(self, keys) -> "ReadBatch":
        self.commands.append(("MGET", *keys))
        return self

    def hmget(self, key, fields) -> "ReadBatch":
        self.commands.append(("HMGET", key, *fields))
        return self

    def hkeys(self, key) -> "ReadBatch":
        self.commands.append(("HKEYS", key))
        return self

    def echo(self, value) -> "ReadBatch":
        self.commands.append(("ECHO", value))
        return self

    def execute(self) -> list:
        with self.sent() as replies:
            return replies.read(len(self.commands))

    @contextmanager
    def sent(self) -> Iterator[Replies]:
        """Send every command, then hand out the replies part by part (:meth:`Replies.read`):
        the caller works on the first parts while Redis, on the other core, still answers
        the rest. One retry covers a pooled connection gone stale (it fails on the send or
        the first reply); a failure after that is the caller's."""
        if self.commands and storage(self.client).topology == "cluster":
            yield Replies(self._per_node())
            return
        if not self.commands or type(self.client) is not redis.Redis:
            yield Replies(self._pipelined())
            return
        pool = storage(self.client).pool_for(self.commands[0])          # the one server's pool
        for attempt in (1, 2):
            conn = _connection(pool)
            try:
                self._send(conn)
                first = self._read(conn, 1)
                break
            except BaseException as exc:
                conn.disconnect()                    # replies may be left unread on it
                pool.release(conn)
                if attempt == 2 or not isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                    raise
        replies = Replies(first, conn, len(self.commands) - 1, self._read)
        try:
            yield replies
            replies.drain()
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)

    def _per_node(self) -> list:
        """Cluster: every node's reads on a connection of its own, all sent before any reply
        is read; those whose slot moved or whose connection failed are read again through
        the cluster client (reads: safe to repeat)."""
        stream = CommandStream(storage(self.client), wait=False)
        stream.send(self.commands)
        replies = stream.finish()
        for reply in replies:
            if isinstance(reply, (redis.exceptions.ResponseError, *LOST, *REDIRECTED)):
                raise reply
        return replies

    def _pipelined(self) -> list:
        if not self.commands:
            return []
        pipe = self.client.pipeline(transaction=False)
        for command in self.commands:
            pipe.execute_command(*command)
        return pipe.execute()

    def _send(self, conn) -> None:
        """Packed by hiredis (in C; redis-py's own packer costs three times as much) and
        sent every ~64 KiB: Redis starts answering the first commands while the rest are
        still being packed, on the other core."""
        chunk: list[bytes] = []
        size = 0
        first = True
        check = getattr(conn, "check_command", None)          # a test's slot checker
        for command in self.commands:
            if check is not None:
                check(command)
            packed = _pack(command)
            chunk.append(packed)
            size += len(packed)
            if size >= SEND_CHUNK:
                conn.send_packed_command([b"".join(chunk)], check_health=first)
                chunk, size, first = [], 0, False
        if chunk:
            conn.send_packed_command([b"".join(chunk)], check_health=first)

    @staticmethod
    def _read(conn, count: int) -> list:
        """The replies in order (store/client.py's fast reader); an error reply raises."""
        replies = read_replies(conn, count)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies


class Replies:
    """The replies of a sent batch, in order, read as the caller asks for them."""

    def __init__(self, ready: list, conn=None, pending: int = 0, read=None):
        self.ready = ready                   # received, not yet handed out
        self.conn, self.pending, self._read = conn, pending, read

    def read(self, count: int) -> list:
        """The next ``count`` replies."""
        out = self.ready[:count]
        self.ready = self.ready[count:]
        more = min(count - len(out), self.pending)
        if more > 0:
            out += self._read(self.conn, more)
            self.pending -= more
        return out

    def drain(self) -> None:
        """Read what the caller left, so that the connection goes back to the pool clean."""
        if self.pending:
            self._read(self.conn, self.pending)
            self.pending = 0

