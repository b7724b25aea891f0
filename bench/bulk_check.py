"""The bulk check: 10,000 addresses in one POST /v1/recipients/check.

    python bench/bulk_check.py [--addresses 10000] [--runs 30]

Starts a private Redis, a DNS server for the recipients' domains and `rebound serve`
(gunicorn), loads the bench fixture (bench/fixture.py), and asks about the same 10,000
addresses (about one in five suppressed, over 500 domains, with some role accounts,
disposable domains and broken addresses) again and again. Reported:

- server time: the service's own time for the request (its Server-Timing header: request
  parsing and validation, the store's work, the JSON answer), p50 and worst;
- round trip: the same seen by the client, including sending 10,000 addresses and
  receiving the answer over loopback HTTP;
- the store alone (Store.check in this process, no HTTP);
- the ceiling: the raw Redis part measured in the same run, i.e. the one round trip that
  reads the same records (one HMGET per bucket, store/reads.py), with nothing interpreted;
- a CPU probe (bench/_support.py cpu_probe): on a shared VM the same code measures up to
  twice as slow from one minute to the next, and the probe says which kind of minute it was.
"""
from __future__ import annotations

import argparse
import gc
import time

import orjson
import requests

from _support import cpu_probe, dns_server, load_note, machine, ms, percentile, rebound_serve, redis_server
from fixture import populate, sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addresses", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from classifier.address import normalise
    from store import Store, connect
    from store.dns import parse_nameservers
    from store.reads import ReadBatch

    with redis_server() as url, dns_server() as dns:
        store = Store(connect(url), dns={"nameservers": parse_nameservers(dns.nameserver), "canary": "canary.test"})
        print("loading the fixture ...", flush=True)
        tenant, key = populate(store)
        addresses = sample(args.addresses, seed=11)
        store.check(tenant, addresses)                     # DNS verdicts cached, as in steady state
        normalised = list(dict.fromkeys(normalise(a) for a in addresses if "@" in a))

        # as in a gunicorn worker (webhook/serve.py): the heap loaded so far (the fixture's
        # classifier model, its tables) frozen out of the collector's way, young collections
        # every 10,000 allocations; otherwise full collections of this process's heap are
        # most of "store alone"
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(10_000, 10, 10)
        in_process, ceiling = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            answers = store.check(tenant, addresses, stream="marketing")
            in_process.append(time.perf_counter() - t)
            batch = ReadBatch(store.r)
            t = time.perf_counter()
            store.query._queue_records(batch, tenant, normalised)
            batch.execute()
            ceiling.append(time.perf_counter() - t)
        suppressed = sum(1 for a in answers if not a.sendable)
        gc.set_threshold(*thresholds)
        gc.unfreeze()

        env = {"REBOUND_REDIS_URL": url, "REBOUND_DNS_NAMESERVERS": dns.nameserver, "REBOUND_DNS_CANARY": "canary.test"}
        body = orjson.dumps({"addresses": addresses, "stream": "marketing"})
        server, round_trip = [], []
        with rebound_serve(env, workers=args.workers) as (base, _):
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            for _ in range(3):                                   # warm up both workers
                session.post(base + "/v1/recipients/check", data=body)
            note = f"{load_note()}; {cpu_probe()}"
            for _ in range(args.runs):
                t = time.perf_counter()
                r = session.post(base + "/v1/recipients/check", data=body)
                round_trip.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]
                server.append(float(r.headers["Server-Timing"].split("dur=")[1]) / 1000)
            results = r.json()["results"]
            assert len(results) == len(addresses) and sum(not x["sendable"] for x in results) == suppressed

    for values in (server, round_trip, in_process, ceiling):
        values.sort()
    print(f"machine: {machine()}")
    print(f"bulk check of {len(addresses)} addresses ({suppressed} not sendable), {args.runs} runs; {note}:")
    print(f"  server time (Server-Timing):  p50 {ms(percentile(server, 50))}   worst {ms(server[-1])}")
    print(f"  HTTP round trip:              p50 {ms(percentile(round_trip, 50))}   worst {ms(round_trip[-1])}")
    print(f"  store alone (in process):     p50 {ms(percentile(in_process, 50))}   worst {ms(in_process[-1])}")
    print(f"  ceiling, raw Redis (the same records, one pipelined round trip):  "
          f"p50 {ms(percentile(ceiling, 50))}   worst {ms(ceiling[-1])}")
    print(f"  target: server time under 50 ms -> {'met' if percentile(server, 50) < 0.050 else 'NOT met'} (p50)")


if __name__ == "__main__":
    main()
