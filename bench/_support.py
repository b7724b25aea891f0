"""Shared parts of the benchmarks: private servers on loopback, a tenant with data, percentiles.

Every benchmark starts its own redis-server (and DNS server, and `rebound serve` where it
needs HTTP) on free loopback ports, and stops them when it ends.
"""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, Redis {redis_version[2:]}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d}")


@contextmanager
def redis_server():
    """A private redis-server (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server)")
    workdir = tempfile.mkdtemp(prefix="rebound-bench-redis-")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir, "--logfile", "", "--daemonize", "no"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def dns_server():
    from tests.dns_server import DnsServer

    server = DnsServer().start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def rebound_serve(env: dict, workers: int = 2, threads: int = 4):
    """`rebound serve` (gunicorn) as a user runs it, from this checkout; yields (base URL, pid)
    once a worker answers.

    Run as ``python -m webhook.cli`` with this checkout first on PYTHONPATH, not through the
    installed ``rebound`` script: that one imports whichever checkout the environment was
    installed from, so a benchmark run from a second checkout (to compare two commits)
    would time the other one's server."""
    import requests

    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    full_env.update(env, REBOUND_PORT=str(port), REBOUND_WORKERS=str(workers), REBOUND_THREADS=str(threads),
                    REBOUND_LOG_LEVEL="warning",
                    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "webhook.cli", "serve"], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:       # not listening yet, or a worker still loading
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rebound serve did not start")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def process_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by ``pid`` and each of its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def process_tree_cpu(pid: int) -> float:
    return sum(process_cpu(pid).values())


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} cores when it started"


def cpu_probe() -> str:
    """How fast this machine runs plain Python right now: a fixed loop of three million
    additions, best of three. On a shared VM the same code can take twice as long from one
    minute to the next; the probe, printed beside a figure, tells which minute it was."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return f"CPU probe (3M-addition Python loop, best of 3) {best * 1000:.0f} ms"


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"
