"""Prometheus metrics. Under gunicorn (several processes) they go through
prometheus_client's multiprocess mode, set up by `rebound serve`."""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess,
)

HTTP_REQUESTS = Counter("rebound_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("rebound_http_request_seconds", "Time to answer an HTTP request", ["route"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
EVENTS = Counter("rebound_events_total", "Events ingested", ["provider", "kind", "outcome"])
VERDICTS = Counter("rebound_verdicts_total", "Verdicts given to failure events", ["category", "source"])
SUPPRESSION_CHANGES = Counter("rebound_suppression_changes_total", "Suppressions added or lifted",
                              ["change", "code"])


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
WEBHOOK_REJECTED = Counter("rebound_webhook_rejected_total", "ESP webhook requests refused, by reason",
                           ["provider", "reason"])
WEBHOOK_IGNORED = Counter("rebound_webhook_ignored_total",
                          "Authenticated ESP webhook events acknowledged but not ingested, by event type",
                          ["provider", "type"])
