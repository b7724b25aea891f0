"""SendGrid webhook ingest: events per second for 1,000-event signed batches, through the
real service (`rebound serve`: gunicorn, one worker), next to the ceilings measured in the
same run on the same Redis:

- raw write ceiling: 1,000 pipelined HSETs of a record-sized value, one round trip;
- apply ceiling: Redis running the store's atomic apply script for 1,000 already
  classified events, one pipeline (what ingest cannot beat whatever Python does).

Usage: .venv/bin/python bench/bench_webhooks.py [--rounds 30] [--batch 1000] [--workers 1]
Starts its own redis-server on a free port (no persistence) and stops everything after.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import requests
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from datetime import UTC

from sendgrid_batch import mixed_batch  # noqa: E402

from classifier import Classifier  # noqa: E402
from store import Store, connect  # noqa: E402
from webhook.esp.base import Parsed, WebhookRequest  # noqa: E402
from webhook.provider_config import configure  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            break
    return proc, f"redis://127.0.0.1:{port}/0"


def start_service(redis_url: str, secret: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    env.update(REBOUND_REDIS_URL=redis_url, REBOUND_SECRET_KEY=secret, REBOUND_PORT=str(port),
               REBOUND_WORKERS=str(workers), REBOUND_THREADS="2", REBOUND_LOG_LEVEL="warning")
    exe = Path(sys.executable).with_name("rebound")
    proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("rebound serve did not become ready")


def per_second(n: int, seconds: list[float]) -> tuple[float, float]:
    """(events/s at the median, events/s at the best round)."""
    return n / statistics.median(seconds), n / min(seconds)


def raw_ceiling(client, n: int, rounds: int) -> list[float]:
    value = b"x" * 300
    out = []
    for r in range(rounds):
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            pipe.hset(f"bench:{{raw.{i % 1024}}}:r", f"user{i}-{r}@example.org", value)
        t = time.perf_counter()
        pipe.execute()
        out.append(time.perf_counter() - t)
    return out


def apply_ceiling(store: Store, tenant: str, n: int, rounds: int) -> list[float]:
    """Redis running the store's atomic apply script for n classified events, one round trip
    (commands built before the clock starts): what ingest cannot beat."""
    from datetime import datetime

    from store.ingest import history_entry, idempotency_digest
    from store.policy import plan
    from webhook.esp.sendgrid import SendGrid

    classify = Classifier().classify
    policy = store.policy(tenant)
    now = str(int(time.time()))
    out = []
    for r in range(rounds):
        body = orjson.dumps(mixed_batch(n, seed=1000 + r, run=f"ceiling{r}"))
        parsed = Parsed(tenant, "sendgrid", datetime.now(UTC))
        SendGrid.__new__(SendGrid).parse_events(WebhookRequest("POST", body, {}, "application/json", 0), parsed)
        commands = []
        for e in parsed.events:
            v = classify(e.evidence())
            commands.append(store.ingest.command(tenant, e.recipient, idempotency_digest(e), plan(e, v, policy),
                                                 history_entry(e, v), now))
        t = time.perf_counter()
        stream = store.ingest.open(tenant, policy)
        stream.add_commands(commands)
        stream.finish()
        out.append((time.perf_counter() - t) * n / len(parsed.events))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rebound-bench-"))
    redis_proc, redis_url = start_redis(work)
    secret = Fernet.generate_key().decode()
    service = None
    try:
        store = Store(connect(redis_url), secret_keys=[secret.encode()])
        tenant, _ = store.tenants.create("bench")
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        import base64
        configure(store, tenant, "sendgrid", {"public_key": base64.b64encode(public).decode()}, 0)
        service, base = start_service(redis_url, secret, args.workers)
        session = requests.Session()
        url = f"{base}/v1/webhooks/sendgrid/{tenant}"

        def post(run: str, seed: int) -> float:
            body = orjson.dumps(mixed_batch(args.batch, seed=seed, run=run))
            ts = str(int(time.time()))
            sig = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
            headers = {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": sig,
                       "X-Twilio-Email-Event-Webhook-Timestamp": ts}
            t = time.perf_counter()
            r = session.post(url, data=body, headers=headers, timeout=60)
            elapsed = time.perf_counter() - t
            if r.status_code != 200 or r.json()["duplicates"]:
                raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:300]}")
            return elapsed

        for i in range(3):
            post(f"warm{i}", i)
        load_before = os.getloadavg()[0]
        webhook = [post(f"run{i}", 100 + i) for i in range(args.rounds)]
        ceiling_apply = apply_ceiling(store, tenant, args.batch, args.rounds)
        ceiling_raw = raw_ceiling(store.r, args.batch, args.rounds)

        rows = [("SendGrid webhook over HTTP (signed, parsed, classified, stored)", webhook),
                ("apply ceiling: the apply script for classified events, one round trip", ceiling_apply),
                ("raw Redis write ceiling: pipelined HSET", ceiling_raw)]
        print(f"# bench_webhooks: {args.batch} mixed SendGrid events per request, {args.rounds} rounds, "
              f"{args.workers} gunicorn worker(s)")
        print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
              f"load average {load_before:.2f} at start")
        print(f"{'what':66} {'median ms':>10} {'events/s (median)':>18} {'events/s (best)':>16}")
        for name, seconds in rows:
            med, best = per_second(args.batch, seconds)
            print(f"{name:66} {statistics.median(seconds) * 1000:10.1f} {med:18,.0f} {best:16,.0f}")
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
