"""Raw bounces per second: over SMTP (one connection, then ten) and over the HTTP inbound route
(one client, then ten), against the same `rebound serve` (one gunicorn worker of 4 threads,
and the intake process its REBOUND_SMTP_PORT starts, 4 worker threads), next to the ceiling
measured in the same run: the same messages taken in process, one after the other, with no
network and no protocol (parse, classify, store: what any intake pays per message).

Every message is a distinct Postfix-style DSN for a distinct recipient (a new event each), sent
to a VERP return path. Answers are checked: 250 over SMTP, 200 with one accepted event over HTTP.

Usage: .venv/bin/python bench/bench_intake.py [--messages 400]
Starts its own redis-server and `rebound serve` on free loopback ports and stops them after.
"""
from __future__ import annotations

import argparse
import smtplib
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import free_port, load_note, machine, rebound_serve, redis_server  # noqa: E402

from tests.webhook.intake.messages import dsn  # noqa: E402
from webhook.intake import verp  # noqa: E402
from webhook.settings import Settings  # noqa: E402

RETURN_PATH = "bounces@bounce.bench.test"


def messages(tag: str, n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        recipient = f"user{i}.{tag}@example.org"
        rp = verp.verp_address(RETURN_PATH, recipient)
        out.append((rp, dsn(recipient, rp, message_id=f"{tag}-{i}")))
    return out


def smtp_rate(port: int, batch: list[tuple[str, bytes]], connections: int) -> float:
    chunks = [batch[i::connections] for i in range(connections)]

    def one(chunk):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("bench.sender.test")
            for rp, message in chunk:
                s.mail("")
                s.rcpt(rp)
                code, text = s.data(message)
                if code != 250:
                    raise RuntimeError(f"SMTP answered {code} {text!r}")

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(one, chunks))
    return len(batch) / (time.perf_counter() - started)


def http_rate(base: str, tenant: str, key: str, batch: list[tuple[str, bytes]], clients: int) -> float:
    chunks = [batch[i::clients] for i in range(clients)]

    def one(chunk):
        with requests.Session() as s:
            s.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"})
            for _, message in chunk:
                r = s.post(f"{base}/v1/inbound/{tenant}", data=message, timeout=60)
                if r.status_code != 200 or r.json()["accepted"] != 1:
                    raise RuntimeError(f"HTTP answered {r.status_code} {r.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, chunks))
    return len(batch) / (time.perf_counter() - started)


def pipe_times(env: dict, tenant: str, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `rebound inbound TENANT < message`, a whole process each
    (what an MTA's pipe pays per bounce)."""
    import os
    import statistics
    import subprocess

    full = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")} | env
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH")]))
    walls, cpus = [], []
    for i, (_, message) in enumerate(messages("pipe", runs)):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "webhook.cli", "inbound", tenant], env=full,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        proc.stdin.write(message)
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"rebound inbound exited with {status}")
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def wait_listening(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the SMTP listener did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=400, help="messages per measurement")
    args = ap.parse_args()
    n = args.messages
    print(f"machine: {machine()}; {load_note()}")
    secret = Fernet.generate_key().decode()
    tmp = Path(tempfile.mkdtemp(prefix="rebound-bench-intake-"))
    smtp_port = free_port()
    with redis_server() as url:
        env = {"REBOUND_REDIS_URL": url, "REBOUND_SECRET_KEY": secret, "REBOUND_DNS_CHECKS": "false",
               "REBOUND_SMTP_PORT": str(smtp_port), "REBOUND_SMTP_EXEMPT": "127.0.0.0/8",
               "REBOUND_MAILBOX_WATCH": "false", "REBOUND_DATA_DIR": str(tmp / "data"),
               "REBOUND_MODEL_DIR": str(tmp / "models"), "REBOUND_MAX_BODY_BYTES": str(1 << 20)}
        settings = Settings.from_env({k: v for k, v in env.items()})
        from webhook.intake.message import take
        from webhook.intake.routing import Router
        from webhook.intake.runtime import build_services

        svc = build_services(settings, load_model=True)
        tenant, key = svc.store.tenants.create("Bench")
        svc.store.return_paths.add(tenant, RETURN_PATH, "verp")
        router = Router(svc.store)

        # the ceiling: the same work in process, one message after the other
        for rp, message in messages("warm", 20):
            take(svc, tenant, message, via="bench", delivery=router.route(rp))
        batch = messages("inproc", n)
        started = time.perf_counter()
        for rp, message in batch:
            assert take(svc, tenant, message, via="bench", delivery=router.route(rp)).accepted == 1
        ceiling = n / (time.perf_counter() - started)
        pipe_wall, pipe_cpu = pipe_times(env, tenant, 7)

        with rebound_serve(env, workers=1, threads=4) as (base, _pid):
            wait_listening(smtp_port)
            smtp_rate(smtp_port, messages("warm-smtp", 20), 2)
            http_rate(base, tenant, key, messages("warm-http", 20), 2)
            results = [
                ("SMTP, 1 connection", smtp_rate(smtp_port, messages("smtp1", n), 1)),
                ("SMTP, 10 connections", smtp_rate(smtp_port, messages("smtp10", n), 10)),
                ("HTTP /v1/inbound, 1 client", http_rate(base, tenant, key, messages("http1", n), 1)),
                ("HTTP /v1/inbound, 10 clients", http_rate(base, tenant, key, messages("http10", n), 10)),
            ]
    print(f"{n} distinct DSNs per measurement")
    for label, rate in results:
        print(f"{label:32} {rate:8.1f} DSNs/s")
    print(f"{'ceiling: in process, sequential':32} {ceiling:8.1f} DSNs/s  (parse + classify + store, no network)")
    print(f"{'rebound inbound (a process each)':32} {1 / pipe_wall:8.1f} DSNs/s  (median {pipe_wall:.2f} s wall, "
          f"{pipe_cpu:.2f} s CPU per message; the CLI target for one file is 0.6 s)")


if __name__ == "__main__":
    main()
