"""One Redis server against a Redis Cluster of 3 masters (and 3 replicas), side by side.

    python bench/cluster.py [--events 40000] [--batch 500] [--lookups 3000] [--bulk-runs 7]

In one run, on each topology, the store alone (no HTTP: bench/lookup_latency.py and
bench/bulk_check.py measure that stack): a private redis-server without persistence, then a
private 3-master/3-replica cluster (tests/cluster.py, AOF every second as the README
advises), both loaded with bench/fixture.py's tenant, then

- ingest: events/s of new hard bounces in batches (store.apply, verdicts classified
  beforehand), and the Redis CPU (user + system of every server process) per 10,000 events,
  masters and replicas apart; on the cluster with the default WAIT for 1 replica ack and
  without it (REBOUND_REDIS_MIN_REPLICA_ACKS=0);
- single lookup: p50 and p99 of store.check for one address (sequential);
- bulk: a 10,000-address check, the median of the runs.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _support import REPO, load_note, machine, ms, percentile, process_cpu, redis_server
from fixture import populate, sample


def server_cpu(pids: list[int]) -> float:
    return sum(process_cpu(p).get(p, 0.0) for p in pids)


def redis_pids(client) -> tuple[list[int], list[int]]:
    """(masters', replicas') process ids."""
    from store.client import is_cluster

    if not is_cluster(client):
        return [int(client.info("server")["process_id"])], []
    import redis

    masters, replicas = [], []
    for address in client.cluster_nodes():              # replicas too (CLUSTER SLOTS hides idle ones)
        host, port = address.rsplit(":", 1)
        info = redis.Redis(host=host, port=int(port.split("@")[0])).info()
        (masters if info["role"] == "master" else replicas).append(int(info["process_id"]))
    return masters, replicas


def ingest(store, tenant: str, items: list, batch: int) -> tuple[float, float, float]:
    """(events/s, master CPU s per 10k events, replica CPU s per 10k events)."""
    masters, replicas = redis_pids(store.r)
    m0, r0 = server_cpu(masters), server_cpu(replicas)
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        result = store.apply(tenant, items[start:start + batch])
        assert result.accepted == len(items[start:start + batch]), result
    elapsed = time.perf_counter() - started
    per = 10_000 / len(items)
    return len(items) / elapsed, (server_cpu(masters) - m0) * per, (server_cpu(replicas) - r0) * per


def events(run: str, n: int):
    from classifier import Classifier, Event, Kind

    classify = Classifier().classify
    now = datetime.now(timezone.utc)
    out = []
    for i in range(n):
        e = Event(tenant="bench", recipient=f"new{i}.{run}@d{i % 500}.bulk.test", kind=Kind.BOUNCE, provider="api",
                  event_id=f"{run}-{i}", time=now, status="5.1.1",
                  diagnostic="550 5.1.1 <x>: Recipient address rejected: User unknown")
        out.append((e, classify(e.evidence())))
    return out


def measure(name: str, url: str, args) -> dict:
    from store import Store, connect
    from store.client import storage

    store = Store(connect(url, timeout=30))
    print(f"[{name}] loading the fixture ...", flush=True)
    tenant, _ = populate(store)
    row: dict = {"name": name, "masters": len(redis_pids(store.r)[0])}
    layer = storage(store.r)
    row["ingest"] = ingest(store, tenant, events("a", args.events), args.batch)
    if layer.topology == "cluster":
        layer.durability(0, None)
        row["ingest_no_wait"] = ingest(store, tenant, events("b", args.events), args.batch)
        layer.durability(None, None)
    one = sample(args.lookups, seed=3)
    for a in one[:200]:
        store.check(tenant, [a])                           # warm: connections, caches
    times = []
    for a in one:
        t = time.perf_counter()
        store.check(tenant, [a], stream="marketing")
        times.append(time.perf_counter() - t)
    times.sort()
    row["lookup"] = (percentile(times, 50), percentile(times, 99))
    bulk = sample(10_000, seed=11)
    store.check(tenant, bulk)
    runs = []
    for _ in range(args.bulk_runs):
        t = time.perf_counter()
        store.check(tenant, bulk, stream="marketing")
        runs.append(time.perf_counter() - t)
    row["bulk"] = statistics.median(runs)
    store.r.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--bulk-runs", type=int, default=7)
    args = parser.parse_args()

    import sys
    sys.path.insert(0, str(REPO))
    from tests.cluster import start_cluster

    note = load_note()
    rows = []
    with redis_server() as url:
        rows.append(measure("1 node", url, args))
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="rebound-bench-cluster-")))
    try:
        rows.append(measure("3 masters + 3 replicas", cluster.url, args))
    finally:
        cluster.stop()

    print(f"\n{machine()}; {note}")
    print(f"{args.events} new events in batches of {args.batch}; {args.lookups} single lookups; "
          f"10,000-address bulk check, median of {args.bulk_runs}\n")
    print("| | ingest events/s | Redis CPU s per 10k events: all masters (per master) / all replicas "
          "| lookup p50 | lookup p99 | 10k bulk |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        rate, mcpu, rcpu = row["ingest"]
        n = row["masters"]
        print(f"| {row['name']} | {rate:,.0f} | {mcpu:.2f} ({mcpu / n:.2f}) / {rcpu:.2f} | {ms(row['lookup'][0])} | "
              f"{ms(row['lookup'][1])} | {ms(row['bulk'])} |")
        if "ingest_no_wait" in row:
            rate, mcpu, rcpu = row["ingest_no_wait"]
            print(f"| {row['name']}, no WAIT | {rate:,.0f} | {mcpu:.2f} ({mcpu / n:.2f}) / {rcpu:.2f} | | | |")


if __name__ == "__main__":
    main()
