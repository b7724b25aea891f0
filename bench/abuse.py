"""Issue 15's figures: what hostile requests cost, what the others feel meanwhile, how far a
raw-payload flood grows Redis, and what zero-loss durability costs ingest.

    .venv/bin/python bench/abuse.py [--seconds 15]

Everything runs on 127.0.0.1 (`rebound serve` with 2 workers x 4 threads, private
redis-servers); every load is bounded in requests and time. Printed:

1. CPU per hostile request (the service's processes' CPU over N requests / N): the
   200,000-part message (issue: 4.2-6.9 s), 1,800 diagnostics of 5,000 characters to
   /v1/classify (8.7 s), 10,000 unrecognised diagnostics to /v1/events (24.3 s);
2. another tenant's lookup p50/p99 quiet, then while 4 clients post 200,000-part messages
   (issue: p99 10 ms -> p95 5.9 s);
3. Redis memory growth while 4 clients post distinct 1 MB raw messages for --seconds
   (issue: 158 MB in 15 s), with the tenant's raw quota at 64 MiB;
4. ingest rate (events/s, batches of 100, 4 clients) with appendfsync everysec and always.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import requests

from _support import (REPO, cpu_probe, free_port, load_note, machine, percentile, process_tree_cpu,
                      rebound_serve, redis_server)

sys.path.insert(0, str(REPO))
from tests.test_abuse import dsn, mime_bomb  # noqa: E402


def tenant(redis_url: str, name: str) -> tuple[str, requests.Session]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    env.update(REBOUND_REDIS_URL=redis_url, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "tenants", "create", name], env=env,
                         capture_output=True, text=True, check=True).stdout
    created = json.loads(out)
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {created['api_key']}"
    return created["tenant"], s


def cpu_per_request(pid: int, send, n: int) -> tuple[float, set]:
    statuses = set()
    before = process_tree_cpu(pid)
    for _ in range(n):
        statuses.add(send().status_code)
    return (process_tree_cpu(pid) - before) / n, statuses


def lookups(base: str, session: requests.Session, seconds: float) -> list[float]:
    times, end = [], time.monotonic() + seconds
    url = base + "/v1/recipients/someone@example.org"
    for _ in range(20):
        session.get(url, timeout=10)
    while time.monotonic() < end:
        started = time.perf_counter()
        session.get(url, timeout=10)
        times.append(time.perf_counter() - started)
        time.sleep(0.005)
    return sorted(times)


ATTACKER = """
import sys, time, requests
base, tenant, auth, path, seconds = sys.argv[1:6]
body = open(path, "rb").read()
s = requests.Session(); s.headers["Authorization"] = auth
end = time.monotonic() + float(seconds)
while time.monotonic() < end:
    s.post(base + "/v1/inbound/" + tenant, data=body, headers={"Content-Type": "message/rfc822"}, timeout=60)
"""


def attackers(base, name, session, body: bytes, seconds: float, clients: int = 4):
    path = tempfile.mktemp(suffix=".eml")
    with open(path, "wb") as f:
        f.write(body)
    return [subprocess.Popen([sys.executable, "-c", ATTACKER, base, name, session.headers["Authorization"], path,
                              str(seconds)]) for _ in range(clients)]


def section_cost_and_latency(seconds: float) -> None:
    with redis_server() as url, rebound_serve({"REBOUND_REDIS_URL": url, "REBOUND_DNS_CHECKS": "false"}) as (base, pid):
        name, hostile = tenant(url, "Hostile")
        _, calm = tenant(url, "Calm")
        bomb = mime_bomb(200_000)
        cpu, st = cpu_per_request(pid, lambda: hostile.post(f"{base}/v1/inbound/{name}", data=bomb,
                                                             headers={"Content-Type": "message/rfc822"}, timeout=60), 10)
        print(f"  200,000-part message: {cpu * 1000:.0f} ms CPU per request, answers {sorted(st)} (issue: 4,200-6,900 ms)")
        batch = json.dumps([{"diagnostic": f"{i} " + "x" * 4995} for i in range(1800)])
        cpu, st = cpu_per_request(pid, lambda: hostile.post(base + "/v1/classify", data=batch,
                                                             headers={"Content-Type": "application/json"}, timeout=60), 5)
        print(f"  /v1/classify 1,800 x 5,000 chars: {cpu * 1000:.0f} ms CPU per request, answers {sorted(st)} "
              f"(issue: 8,700 ms)")
        words = ["quux", "zorb", "flim", "blent", "vorp", "snark", "gloam", "trell"]
        events = json.dumps([{"id": f"u{i}", "type": "bounce", "recipient": f"u{i}@example.org",
                              "diagnostic": " ".join(words[(i + j) % 8] + str(i * 7 + j) for j in range(12))}
                             for i in range(10_000)])
        cpu, st = cpu_per_request(pid, lambda: hostile.post(base + "/v1/events", data=events,
                                                             headers={"Content-Type": "application/json"}, timeout=120), 2)
        print(f"  /v1/events 10,000 unrecognised diagnostics: {cpu * 1000:.0f} ms CPU per request, answers "
              f"{sorted(st)} (REBOUND_WORK_SECONDS 10; issue: 24,300 ms)")
        quiet = lookups(base, calm, 3)
        procs = attackers(base, name, hostile, bomb, seconds)
        loud = lookups(base, calm, seconds)
        for p in procs:
            p.wait(timeout=seconds + 60)
        print(f"  other tenant's lookups, quiet: p50 {percentile(quiet, 50) * 1000:.1f} ms, p99 "
              f"{percentile(quiet, 99) * 1000:.1f} ms ({len(quiet)})")
        print(f"  ... while 4 clients post 200,000-part messages for {seconds:g} s: p50 "
              f"{percentile(loud, 50) * 1000:.1f} ms, p99 {percentile(loud, 99) * 1000:.1f} ms, max "
              f"{loud[-1] * 1000:.0f} ms ({len(loud)}) (issue: p95 5,900 ms, max 22,600 ms; REBOUND_RATE_INGEST "
              f"default 200/s does not bind here)")


def section_flood(seconds: float) -> None:
    with redis_server() as url, rebound_serve({"REBOUND_REDIS_URL": url, "REBOUND_DNS_CHECKS": "false",
                                               "REBOUND_RAW_QUOTA_BYTES": str(64 << 20)}) as (base, _pid):
        import redis

        r = redis.Redis.from_url(url)
        name, hostile = tenant(url, "Flooder")
        before = int(r.info("memory")["used_memory"])
        stop = time.monotonic() + seconds
        sent = [0]
        kept = [0]

        def flood(k: int):
            n = 0
            while time.monotonic() < stop:
                body = dsn(1, tag=f"-{k}-{n}") + b"X-Pad: " + os.urandom(1 << 19).hex().encode() + b"\r\n"
                resp = hostile.post(f"{base}/v1/inbound/{name}", data=body, headers={"Content-Type": "message/rfc822"},
                                    timeout=60)
                sent[0] += len(body)
                kept[0] += resp.json().get("raw_kept") is True
                n += 1
        threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        grown = int(r.info("memory")["used_memory"]) - before
        print(f"  4 clients x {seconds:g} s of distinct 1 MB raw messages: {sent[0] / 1e6:.0f} MB sent, "
              f"{kept[0]} payloads kept, Redis grew {grown / 1e6:.1f} MB (quota 64 MiB; issue: 158 MB in 15 s, "
              "without bound)")


def section_durability(requests_per_client: int = 60) -> None:
    import shutil

    for fsync in ("everysec", "always"):
        workdir = tempfile.mkdtemp(prefix="rebound-bench-aof-")
        port = free_port()
        proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "yes", "--appendfsync", fsync, "--dir", workdir,
                                 "--logfile", "", "--daemonize", "no"], stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if "Ready to accept connections" in line:
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        url = f"redis://127.0.0.1:{port}/0"
        try:
            with rebound_serve({"REBOUND_REDIS_URL": url, "REBOUND_DNS_CHECKS": "false",
                                "REBOUND_RATE_INGEST": ""}) as (base, _pid):
                _, session = tenant(url, f"Durable {fsync}")
                for size, count in ((100, requests_per_client), (1, requests_per_client * 4)):
                    done = [0]

                    def ingest(k: int):
                        s = requests.Session()
                        s.headers.update(session.headers)
                        for n in range(count):
                            batch = [{"id": f"{size}-{k}-{n}-{i}", "type": "bounce", "status": "5.1.1",
                                      "recipient": f"d{size}-{k}-{n}-{i}@example.org",
                                      "diagnostic": "550 5.1.1 user unknown"} for i in range(size)]
                            if s.post(base + "/v1/events", json=batch, timeout=60).status_code == 200:
                                done[0] += size
                    started = time.perf_counter()
                    threads = [threading.Thread(target=ingest, args=(k,)) for k in range(4)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    took = time.perf_counter() - started
                    print(f"  appendfsync {fsync:8}: {done[0] / took:,.0f} events/s ({done[0]:,} events in "
                          f"{took:.1f} s, batches of {size}, 4 clients)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--only", choices=["cost", "flood", "durability"])
    args = parser.parse_args()
    print(f"# {machine()}; {load_note()}; {cpu_probe()}")
    if args.only in (None, "cost"):
        print("1-2. hostile requests")
        section_cost_and_latency(args.seconds)
    if args.only in (None, "flood"):
        print("3. raw payload flood")
        section_flood(args.seconds)
    if args.only in (None, "durability"):
        print("4. durability")
        section_durability()


if __name__ == "__main__":
    main()
