"""Prometheus metrics. Under gunicorn (several processes) they go through
prometheus_client's multiprocess mode, set up by `rebound serve`.

Every label takes values from a small set the code knows, never from what a client
sends as it likes: each distinct value is a time series kept forever (a file per worker in
multiprocess mode), so a client inventing HTTP methods or an ESP inventing event types must
not be able to grow them without bound. Routes are the route templates, never raw paths.
"""
from __future__ import annotations

import os
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter("rebound_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("rebound_http_request_seconds", "Time to answer an HTTP request", ["route"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
EVENTS = Counter("rebound_events_total", "Events ingested", ["provider", "kind", "outcome"])
VERDICTS = Counter("rebound_verdicts_total", "Verdicts given to failure events", ["category", "source"])
SUPPRESSION_CHANGES = Counter("rebound_suppression_changes_total", "Suppressions added or lifted",
                              ["change", "code"])
WEBHOOK_REJECTED = Counter("rebound_webhook_rejected_total", "ESP webhook requests refused, by reason",
                           ["provider", "reason"])
WEBHOOK_IGNORED = Counter("rebound_webhook_ignored_total",
                          "Authenticated ESP webhook events acknowledged but not ingested, by event type",
                          ["provider", "type"])

RATE_LIMITED = Counter("rebound_rate_limited_total", "Requests answered 429, by the limit they met "
                       "(lookup, ingest, other: a tenant's rate; auth_ip, auth_webhook: failed authentications)",
                       ["limit"])
AUTH_FAILURES = Counter("rebound_auth_failures_total", "Failed authentications, by what they are counted against",
                        ["limit"])
REFUSED_EARLY = Counter("rebound_requests_refused_total", "Requests refused while being received (408 body "
                        "timeout, 413 too large, 429 too many at once from one address, 431, 503 buffers full)",
                        ["status", "error"])
OVER_BUDGET = Counter("rebound_over_budget_total", "Requests stopped by a work bound (time budget, batch text), "
                      "by route", ["route"])
STORE_FULL = Counter("rebound_store_full_total", "Writes Redis refused for want of memory (maxmemory reached, "
                     "noeviction): the request was answered 503. Alert on any increase.", ["route"])
RAW_NOT_KEPT = Counter("rebound_raw_not_kept_total", "Raw payloads not kept because their tenant's quota "
                       "(REBOUND_RAW_QUOTA_BYTES) was spent (their events were stored)")

OTHER = "OTHER"
#: RFC 9110's methods and PATCH (RFC 5789); any other method is counted as OTHER
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
#: distinct ignored event types counted by name per provider and process; later ones are OTHER
IGNORED_TYPES_MAX = 50
UNMATCHED = "(unmatched)"


def method(name: str) -> str:
    """The ``method`` label of a request."""
    return name if name in METHODS else OTHER


def route(rule) -> str:
    """The ``route`` label of a request: its route template (``request.url_rule``), never the
    raw path (which carries addresses, tenants and whatever a scanner tries)."""
    return rule.rule if rule is not None else UNMATCHED


class _FirstSeen:
    """The first ``limit`` distinct values per key, as they come; OTHER for the rest.

    For labels whose values come from outside (event types an ESP names): the common ones
    keep their names, and nothing a sender invents can add more than ``limit`` series."""

    def __init__(self, limit: int):
        self.limit = limit
        self.seen: dict[str, set[str]] = {}
        self.lock = threading.Lock()

    def __call__(self, key: str, value: str) -> str:
        with self.lock:
            known = self.seen.setdefault(key, set())
            if value in known:
                return value
            if len(known) < self.limit:
                known.add(value)
                return value
        return OTHER


ignored_type = _FirstSeen(IGNORED_TYPES_MAX)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def store_memory(client) -> bytes:
    """Redis's memory use and budget, read when metrics are scraped (one INFO call): the
    alert that comes before ``rebound_store_full_total`` is used / max above 0.9. Empty
    when Redis does not answer (``rebound_http_requests_total`` shows the 503s then). On a
    Redis Cluster, summed over the masters (store/client.py)."""
    import redis

    from store.client import storage

    try:
        used, limit = storage(client).memory()
    except (redis.RedisError, redis.exceptions.RedisClusterException):
        return b"# rebound_store_memory: Redis did not answer\n"
    return (f"# HELP rebound_store_memory_used_bytes Memory Redis uses (INFO used_memory)\n"
            f"# TYPE rebound_store_memory_used_bytes gauge\nrebound_store_memory_used_bytes {used}\n"
            f"# HELP rebound_store_memory_max_bytes Redis's maxmemory (0: none set, no budget)\n"
            f"# TYPE rebound_store_memory_max_bytes gauge\nrebound_store_memory_max_bytes {limit}\n").encode()
