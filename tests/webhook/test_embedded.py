"""The embedded Redis shared by several processes: it stops when the last user leaves, and
never outlives its users, even one killed outright. Real processes throughout."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.cli import REBOUND, wait_ready, run


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_gone(pid: int, limit: float = 30.0) -> bool:
    """Bounded wait for a process to end (a correctness check, not a timing one)."""
    deadline = time.monotonic() + limit
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Serve:
    def __init__(self, data: Path, key: str):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
        env.update({"REBOUND_PORT": str(self.port), "REBOUND_WORKERS": "1", "REBOUND_DATA_DIR": str(data)})
        self.proc = subprocess.Popen(REBOUND + ["serve"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            if "Booting worker" in line:
                break
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        assert wait_ready(self.base)
        # keep draining its output so it never blocks on a full pipe
        import threading
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def works(self, n: int) -> bool:
        r = self.session.post(self.base + "/v1/events", json={"id": f"e{n}", "type": "complaint",
                                                              "recipient": f"x{n}@example.org"})
        return r.status_code == 200 and requests.get(self.base + "/readyz", timeout=5).status_code == 200

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


def _tenant(data: Path) -> str:
    p = run(["tenants", "create", "shared"], env={"REBOUND_DATA_DIR": str(data)})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["api_key"]


def _pids(data: Path) -> tuple[int, int]:
    d = data / "redis"
    return int((d / "supervisor.pid").read_text()), int((d / "redis.pid").read_text())


def test_the_last_of_two_services_turns_the_lights_off(tmp_path):
    data = tmp_path / "data"
    key = _tenant(data)
    a = Serve(data, key)
    b = None
    try:
        b = Serve(data, key)
        supervisor, server = _pids(data)
        assert a.works(1) and b.works(2)
        a.stop()
        assert b.works(3), "the first service to stop took the Redis the second one uses"
        assert _running(server)
        p = run(["tenants", "list"], env={"REBOUND_DATA_DIR": str(data)})       # a command in between
        assert p.returncode == 0 and "shared" in p.stdout, p.stderr
        assert b.works(4)
        b.stop()
        b = None
        assert not (data / "redis" / "redis.sock").exists(), "the embedded Redis was left running"
        assert _wait_gone(server) and _wait_gone(supervisor)
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_a_killed_service_leaves_no_redis_behind(tmp_path):
    data = tmp_path / "data"
    key = _tenant(data)
    a = Serve(data, key)
    try:
        assert a.works(1)
        supervisor, server = _pids(data)
        a.stop(signal.SIGKILL)
        assert _wait_gone(server), "the embedded Redis was orphaned"
        assert _wait_gone(supervisor)
    finally:
        a.stop()
    # and the next start finds everything in order, with the data
    b = Serve(data, key)
    try:
        assert b.works(2)
        answer = b.session.get(b.base + "/v1/recipients/x1@example.org").json()
        assert [r["code"] for r in answer["reasons"]] == ["previous_spam"]
    finally:
        b.stop()
