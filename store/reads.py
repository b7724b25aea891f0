"""Many read-only commands in one round trip, for the "may I send?" path.

A bulk check of 10,000 addresses sends about 1,300 HMGETs. Through a redis-py pipeline
the client spends ~10 us of Python per command on bookkeeping (command stack, callbacks,
per-reply wrappers), two to three times what Redis spends answering them
(bench/bulk_check.py prints both). Reads need none of that: this packs the commands,
writes them at once on one pooled connection and reads the replies in order.

Only a plain ``redis.Redis`` takes this path; any other client (a subclass, a test's
instrumented client) gets an ordinary pipeline. Rebound talks to one Redis server; Redis
Cluster is not supported yet (store/keys.py).
"""
from __future__ import annotations

import hiredis
import redis


#: Bytes packed before they are sent (see ReadBatch._send).
SEND_CHUNK = 64 * 1024
#: What the reads of a batch answer (GET, MGET, HMGET, HKEYS, ECHO), bytes or decoded.
_READY = (list, bytes, str)


def _pack(command: tuple) -> bytes:
    return hiredis.pack_command(command)


class ReadBatch:
    """Queue reads with the pipeline's method names, then :meth:`execute` them in order."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self.commands: list[tuple] = []

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
        if not self.commands:
            return []
        if type(self.client) is not redis.Redis:
            pipe = self.client.pipeline(transaction=False)
            for command in self.commands:
                pipe.execute_command(*command)
            return pipe.execute()
        for attempt in (1, 2):                       # one retry: a pooled connection may be stale
            try:
                return self._once()
            except (redis.ConnectionError, redis.TimeoutError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _once(self) -> list:
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()
        except TypeError:                            # redis-py < 6 wants a command name
            conn = pool.get_connection("GET")
        try:
            self._send(conn)
            return self._read(conn, len(self.commands))
        except BaseException:
            conn.disconnect()                        # replies may be left unread on it
            raise
        finally:
            pool.release(conn)

    def _send(self, conn) -> None:
        """Packed by hiredis (in C; redis-py's own packer costs three times as much) and
        sent every ~64 KiB: Redis starts answering the first commands while the rest are
        still being packed, on the other core."""
        chunk: list[bytes] = []
        size = 0
        first = True
        for command in self.commands:
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
        """The replies in order. Those already received are taken straight from the
        connection's hiredis reader (about a microsecond each instead of the several of a
        ``read_response`` call through redis-py's layers); whenever it has no complete
        reply yet, ``read_response`` reads the socket and keeps all of redis-py's handling
        (timeouts, errors, closed connections)."""
        reader = getattr(getattr(conn, "_parser", None), "_reader", None)
        gets = getattr(reader, "gets", None)
        if gets is None:                             # not the hiredis parser: the plain way
            return [conn.read_response() for _ in range(count)]
        out = []
        append = out.append
        for _ in range(count):
            reply = gets()
            if reply is None or type(reply) in _READY:
                append(reply)
            elif isinstance(reply, Exception):
                raise reply
            else:                                    # no complete reply buffered yet
                append(conn.read_response())
        return out
