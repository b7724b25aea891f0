"""Single-address lookup latency at a fixed request rate, through the real HTTP stack.

    python bench/lookup_latency.py [--rate 1000] [--seconds 20] [--workers 2] [--threads 4]

Starts a private Redis, a DNS server for the recipients' domains, and `rebound serve`
(gunicorn), loads the bench fixture (bench/fixture.py), then sends GET
/v1/recipients/<address>?stream=marketing at a fixed rate (open loop: requests leave on
schedule whether or not earlier ones have answered, and latency is counted from the
scheduled time, so a stall is not hidden). The ceiling printed next to it is the raw Redis
round trip (PING) measured in the same run, from the same kind of client.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
from urllib.parse import quote

from _support import dns_server, load_note, machine, ms, percentile, process_cpu, rebound_serve, redis_server
from fixture import populate, sample


class Connection:
    """A keep-alive HTTP/1.1 connection, just enough of it for GET with a JSON answer."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port, self.key = host, port, key
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n\r\n"
                          .encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def load(base: str, key: str, addresses: list[str], rate: int, seconds: float, connections: int = 32):
    host, port = base.split("//")[1].split(":")
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        # one at a time, as a client's pool grows: opened back to back, they would all be
        # accepted by whichever gunicorn worker happens to be awake
        pool.put_nowait(await Connection(host, int(port), key).open())
        await asyncio.sleep(0.01)
    latencies: list[float] = []
    errors = 0
    rng = random.Random(3)

    async def one(scheduled: float, address: str):
        nonlocal errors
        conn = await pool.get()
        try:
            status = await conn.get(f"/v1/recipients/{quote(address, safe='@')}?stream=marketing")
            if status != 200:
                errors += 1
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    start = time.perf_counter() + 0.05
    total = int(rate * seconds)
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled, rng.choice(addresses))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return sorted(latencies), errors, total / elapsed


def redis_ceiling(url: str, samples: int = 5000) -> list[float]:
    import redis

    r = redis.Redis.from_url(url)
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        r.ping()
        out.append(time.perf_counter() - t)
        time.sleep(0.0002)
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="requests per second")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2, help="REBOUND_WORKERS (default as in rebound serve)")
    ap.add_argument("--threads", type=int, default=4, help="REBOUND_THREADS (default as in rebound serve)")
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections of the client")
    args = ap.parse_args()

    from store import Store, connect
    from store.dns import parse_nameservers

    with redis_server() as url, dns_server() as dns:
        env = {"REBOUND_REDIS_URL": url, "REBOUND_DNS_NAMESERVERS": dns.nameserver, "REBOUND_DNS_CANARY": "canary.test"}
        store = Store(connect(url), dns={"nameservers": parse_nameservers(dns.nameserver), "canary": "canary.test"})
        print("loading the fixture ...", flush=True)
        tenant, key = populate(store)
        addresses = sample(20_000)
        store.check(tenant, addresses)                     # DNS verdicts cached, as in steady state
        with rebound_serve(env, workers=args.workers, threads=args.threads) as (base, pid):
            asyncio.run(load(base, key, addresses, rate=args.rate, seconds=2))              # warm up
            note = load_note()
            # This process holds the fixture's heap (the classifier model, the store's tables)
            # and keeps every request's task: a full collection of it stalls the load
            # generator for ~100 ms, and the requests scheduled meanwhile were counted as the
            # service's p99 and p99.9. The client does not collect while it measures.
            gc.collect()
            gc.freeze()
            gc.disable()
            cpu_before, client_cpu = process_cpu(pid), time.process_time()
            lat, errors, achieved = asyncio.run(load(base, key, addresses, rate=args.rate, seconds=args.seconds,
                                                     connections=args.connections))
            cpu_after, client_cpu = process_cpu(pid), time.process_time() - client_cpu
            gc.enable()
            gc.unfreeze()
            per_process = sorted((cpu_after[p] - cpu_before.get(p, 0) for p in cpu_after), reverse=True)
            server_cpu = sum(per_process)
        ceiling = redis_ceiling(url)
    print(f"machine: {machine()}")
    print(f"single lookup, GET /v1/recipients/<address> through gunicorn ({args.workers} workers x "
          f"{args.threads} threads), {len(lat)} requests at {achieved:.0f}/s, {errors} errors:")
    print(f"  p50 {ms(percentile(lat, 50))}   p99 {ms(percentile(lat, 99))}   p99.9 {ms(percentile(lat, 99.9))}"
          f"   max {ms(lat[-1])}")
    print(f"  ceiling, raw Redis round trip (PING): p50 {ms(percentile(ceiling, 50))}   "
          f"p99 {ms(percentile(ceiling, 99))}")
    print(f"  CPU per request: server {server_cpu / len(lat) * 1000:.2f} ms, load generator "
          f"{client_cpu / len(lat) * 1000:.2f} ms; busiest processes "
          f"{', '.join(f'{c / args.seconds:.0%}' for c in per_process[:args.workers])} of a core; {note}")
    print(f"  target: p99 under 10 ms -> {'met' if percentile(lat, 99) < 0.010 else 'NOT met'}")


if __name__ == "__main__":
    main()
