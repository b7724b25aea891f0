"""Request rates per tenant and route class, failed authentications per client address and per
webhook (tenant, provider): 429 with Retry-After beyond them.

Counted in Redis by the ``limits`` library (sliding window counters, one script call per
counted request), so every worker and every host sharing the Redis shares the counts; a
well-kept library instead of our own counters. The limits are settings (``REBOUND_RATE_*``,
in the ``limits`` notation such as ``200/second;5000/minute``; empty: no limit).

Failed authentications are counted only when they happen (one round trip on a 401, none on
success). An address or webhook over its limit is remembered by the worker until its window
resets, and refused before its credentials are even looked at: answering 401 or 200 then
would keep telling a guesser which guess was right. ESPs retry on 429, so a webhook URL
under attack delays its real events, it does not lose them.

Where the rate is per tenant, all of a tenant's keys count together: a second key is no
second allowance.
"""
from __future__ import annotations

import math
import threading
import time

from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from webhook import metrics
from webhook.errors import ApiError

#: route classes of the per-tenant rates
LOOKUP, INGEST, OTHER = "lookup", "ingest", "other"
AUTH_IP, AUTH_WEBHOOK = "auth_ip", "auth_webhook"


class Limited(Exception):
    """Over a limit; ``retry_after`` in whole seconds."""

    def __init__(self, limit: str, retry_after: int):
        super().__init__(limit)
        self.limit, self.retry_after = limit, retry_after

    def api_error(self) -> ApiError:
        what = {AUTH_IP: "too many failed authentications from your address",
                AUTH_WEBHOOK: "too many failed authentications for this webhook URL"}.get(
            self.limit, f"this tenant's {self.limit} request rate is spent")
        return ApiError(429, "too_many_requests", f"{what}; retry after {self.retry_after} s",
                        headers={"Retry-After": str(self.retry_after)})


def _storage(client, settings):
    """The counters' storage, on the store's own connections; on a Redis Cluster, the
    library's cluster storage (a client of its own: it needs its cluster class)."""
    from store.client import is_cluster

    prefix = f"{settings.key_prefix}:limits"
    if is_cluster(client):
        from limits.storage import RedisClusterStorage

        return RedisClusterStorage(settings.effective_redis_url, key_prefix=prefix,
                                   socket_timeout=settings.redis_timeout,
                                   socket_connect_timeout=settings.redis_timeout)
    return RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=prefix)


class RateLimits:
    """The service's limits (``settings``) counted in the store's Redis (``client``)."""

    def __init__(self, client, settings):
        self.storage = _storage(client, settings)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.rates = {LOOKUP: parse_many(settings.rate_lookup) if settings.rate_lookup else [],
                      INGEST: parse_many(settings.rate_ingest) if settings.rate_ingest else [],
                      OTHER: parse_many(settings.rate_other) if settings.rate_other else [],
                      AUTH_IP: parse_many(settings.rate_auth_failures) if settings.rate_auth_failures else [],
                      AUTH_WEBHOOK: parse_many(settings.rate_webhook_auth_failures)
                      if settings.rate_webhook_auth_failures else []}
        #: (limit, identity) -> monotonic time until which it is refused without asking Redis
        self._blocked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    # -- rates ---------------------------------------------------------------------------------
    def hit(self, cls: str, tenant: str) -> None:
        """Count one request of ``tenant`` in route class ``cls``; Limited when over."""
        for item in self.rates[cls]:
            if not self.limiter.hit(item, cls, tenant):
                raise self._limited(cls, item, (cls, tenant))

    # -- failed authentications ------------------------------------------------------------------
    def check_auth(self, *identities: tuple[str, str]) -> None:
        """Before credentials are looked at: Limited if one of ``identities`` ((limit, who),
        e.g. (AUTH_IP, "192.0.2.1")) has spent its failures."""
        now = time.monotonic()
        with self._lock:
            for identity in identities:
                until = self._blocked.get(identity)
                if until is None:
                    continue
                if until > now:
                    metrics.RATE_LIMITED.labels(identity[0]).inc()
                    raise Limited(identity[0], max(1, math.ceil(until - now)))
                del self._blocked[identity]

    def failed(self, *identities: tuple[str, str]) -> None:
        """Count a failed authentication for each identity; those now over their limit are
        remembered (the failure itself is still answered 401)."""
        for limit, who in identities:
            metrics.AUTH_FAILURES.labels(limit).inc()
            for item in self.rates[limit]:
                if not self.limiter.hit(item, limit, who):
                    reset, _ = self.limiter.get_window_stats(item, limit, who)
                    with self._lock:
                        self._blocked[(limit, who)] = time.monotonic() + max(1.0, reset - time.time())
                        if len(self._blocked) > 100_000:          # bounded: drop the oldest half
                            for key in list(self._blocked)[:50_000]:
                                del self._blocked[key]
                    break

    def _limited(self, cls: str, item, ids: tuple) -> Limited:
        reset, _ = self.limiter.get_window_stats(item, *ids)
        metrics.RATE_LIMITED.labels(cls).inc()
        return Limited(cls, max(1, math.ceil(reset - time.time())))
