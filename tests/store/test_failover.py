"""A master dies while events keep coming (issue 13): every event answered 2xx is still there
after its replica is promoted, and the requests in between are answered 503, never 500.

The cluster is this test's own (it kills a node of it). Bounded: well under a minute.
"""
from __future__ import annotations

import threading
import time

import pytest

from tests.cluster import start_cluster
from tests.conftest import OPERATOR_KEY

pytestmark = pytest.mark.failover

#: The whole test, cluster start included, stays under this (seconds).
LIMIT = 55


def event(i: int) -> dict:
    return {"recipient": f"user{i}@example.org", "type": "bounce", "id": f"ev-{i}", "time": "2026-12-01T00:00:00Z",
            "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"}


def test_no_acknowledged_event_is_lost_when_a_master_fails_over(tmp_path, make_settings):
    from webhook import create_app

    started = time.monotonic()
    cluster = start_cluster(tmp_path / "cluster")
    try:
        app = create_app(make_settings(cluster.url, redis_timeout=2.0))
        store = app.extensions["rebound"].store
        tenant, key = store.tenants.create("Failover")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        acknowledged: list[int] = []
        statuses: dict[int, int] = {}
        stop = threading.Event()

        def ingest() -> None:
            n = 0
            while not stop.is_set() and time.monotonic() - started < LIMIT - 10:
                batch = list(range(n, n + 20))
                n += 20
                r = client.post("/v1/events", json=[event(i) for i in batch], headers=headers)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    assert r.get_json() == {"accepted": 20, "duplicates": 0}, r.get_json()
                    acknowledged.extend(batch)
                elif r.status_code == 503:
                    assert r.headers.get("Retry-After")
                    time.sleep(0.05)

        worker = threading.Thread(target=ingest, daemon=True)
        worker.start()
        time.sleep(1.0)
        before = len(acknowledged)
        assert before > 0, statuses
        master = next(cluster.node(port) for port, role in cluster.roles().items() if role == "master")
        replica = cluster.replica_of(master)
        replica.freeze()                                  # its replica stops taking the stream...
        time.sleep(0.8)
        master.kill()                                     # ... and its master dies
        time.sleep(0.5)
        replica.thaw()
        deadline = time.monotonic() + 25
        while cluster.roles().get(replica.port) != "master":
            assert time.monotonic() < deadline, "the replica was not promoted"
            time.sleep(0.2)
        time.sleep(1.0)                                   # ingest goes on after the promotion
        stop.set()
        worker.join(timeout=15)
        assert not worker.is_alive()

        assert statuses.get(500, 0) == 0, statuses
        assert statuses.get(503, 0) > 0, statuses          # the gap was answered 503
        # the promoted master has no replica yet: its writes are refused (503) until the old
        # master comes back, as its replica
        master.start()
        cluster.wait_ok()
        promoted_at = len(acknowledged)
        assert client.post("/v1/events", json=[event(-1)], headers=headers).status_code == 200
        # every acknowledged event is there: sent again, each one is a duplicate
        for start in range(0, len(acknowledged), 500):
            part = acknowledged[start:start + 500]
            for _ in range(50):
                r = client.post("/v1/events", json=[event(i) for i in part], headers=headers)
                if r.status_code != 503:
                    break
                time.sleep(0.2)
            assert r.status_code == 200 and r.get_json() == {"accepted": 0, "duplicates": len(part)}, r.get_json()
        assert promoted_at > before
        assert time.monotonic() - started < LIMIT
    finally:
        cluster.stop()
