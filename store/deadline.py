"""One time budget for all the Redis calls of a request, instead of a timeout per call.

``REBOUND_REDIS_TIMEOUT`` was each call's socket timeout, and the client retries a call
once: a Redis that stopped answering (SIGSTOP, a stuck disk under AOF ``always``) held a
request 4 to 12 s for a 2 s setting, several calls per request times two attempts (issue
15). Inside :func:`budget`, every call of the thread counts against one allowance: each
read or write waits at most what is left of it, and once it is spent the next call fails
at once with a ``TimeoutError`` (a 503 for the HTTP layer). Time spent outside Redis (the
classifier, the network to the client) does not count: a batch that classifies for 3 s
still has its whole allowance for Redis.

The mechanism is a connection class (:func:`bounded`): the same pool, the same client, so
it applies to pipelines, scripts and the streamed ingest alike. Outside a budget (the
CLI, background threads) the per-call timeout applies as before.
"""
from __future__ import annotations

import contextlib
import threading
import time

import redis

_state = threading.local()


@contextlib.contextmanager
def budget(seconds: float):
    """Bound the Redis calls made by this thread within the block to ``seconds`` in all."""
    previous = getattr(_state, "left", None)
    _state.left = seconds
    try:
        yield
    finally:
        _state.left = previous


class BoundedCalls:
    """Mixed into a redis-py connection class: reads and writes wait at most what is left
    of the thread's budget, and count what they took against it."""

    def _within(self, call, *args, **kwargs):
        left = getattr(_state, "left", None)
        if left is None:
            return call(*args, **kwargs)
        if left <= 0:
            self.disconnect()            # a reply may still come for what was sent: never reuse it
            raise redis.exceptions.TimeoutError("Redis took this request's whole time (REBOUND_REDIS_TIMEOUT)")
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.settimeout(min(left, self.socket_timeout or left))
        started = time.monotonic()
        try:
            return call(*args, **kwargs)
        finally:
            _state.left = left - (time.monotonic() - started)
            sock = getattr(self, "_sock", None)
            if sock is not None:
                try:
                    sock.settimeout(self.socket_timeout)
                except OSError:
                    pass

    def send_packed_command(self, command, check_health=True):
        return self._within(super().send_packed_command, command, check_health)

    def read_response(self, *args, **kwargs):
        return self._within(super().read_response, *args, **kwargs)


def bounded(client: redis.Redis) -> redis.Redis:
    """``client`` with its connections (every node's, on a cluster) bounded by :func:`budget`
    (same client, returned)."""
    from store.client import set_connection_class

    def wrap(base: type) -> type:
        return base if issubclass(base, BoundedCalls) else type(f"Bounded{base.__name__}", (BoundedCalls, base), {})

    set_connection_class(client, wrap)
    return client
