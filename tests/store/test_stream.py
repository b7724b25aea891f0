"""The streamed apply: one round trip per batch, and it survives a Redis restart between
batches (stale pooled connection, forgotten script) without losing or doubling events."""
from __future__ import annotations

from datetime import UTC, datetime

from classifier import Classifier
from classifier.events import Event, Kind
from store import Store, connect


def batch(run: str, n: int = 300) -> list:
    classify = Classifier().classify
    events = [Event(tenant="t", recipient=f"u{i}@example.org", kind=Kind.BOUNCE, provider="api",
                    event_id=f"{run}-{i}", time=datetime(2026, 11, 26, tzinfo=UTC), status="5.1.1",
                    diagnostic="550 5.1.1 user unknown") for i in range(n)]
    return [(e, classify(e.evidence())) for e in events]


def test_apply_streams_in_chunks_and_counts_exactly(redis_url):
    store = Store(connect(redis_url))
    items = batch("a", 1000)
    first = store.apply("t", items, raw=b'{"raw": true}')
    assert (first.accepted, first.duplicates, len(first.effects)) == (1000, 0, 1000)
    assert first.effects[0] == ["+previously_bounced"]
    again = store.apply("t", items[:10] + batch("b", 5))
    assert (again.accepted, again.duplicates) == (5, 10)
    assert again.effects[:10] == [None] * 10


def test_apply_after_a_redis_restart(private_redis):
    store = Store(connect(private_redis.url))
    assert store.apply("t", batch("before")).accepted == 300
    private_redis.stop()
    private_redis.start()                                 # empty, no scripts, pooled socket dead
    result = store.apply("t", batch("after"))
    assert (result.accepted, result.duplicates) == (300, 0)
    assert store.check("t", ["u1@example.org"])[0].sendable is False
