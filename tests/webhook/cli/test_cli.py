"""The `rebound` command as a user runs it: a real process, real Redis, real HTTP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from tests.cli import REBOUND, run, wait_ready
from tests.conftest import free_port


def test_tenants_create_prints_id_and_key_and_stores_only_a_hash(redis_url, redis_client):
    p = run(["tenants", "create", "Acme Mail, Inc."], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tenant"] == "acme-mail-inc"
    assert len(out["api_key"]) > 30
    dump = b"".join(k + (redis_client.dump(k) or b"") for k in redis_client.scan_iter("*"))
    assert out["api_key"].encode() not in dump

    again = run(["tenants", "create", "acme mail inc"], env={"REBOUND_REDIS_URL": redis_url})
    assert again.returncode != 0 and "exists already" in again.stderr


def test_bad_configuration_is_refused_with_the_variable_named(tmp_path):
    p = run(["tenants", "list"], env={"REBOUND_REDIS_URL": "http://nope", "REBOUND_WORKERS": "0"})
    assert p.returncode != 0
    assert "REBOUND_REDIS_URL" in p.stderr and "REBOUND_WORKERS" in p.stderr
    typo = run(["tenants", "list"], env={"REBOUND_REDIS_ULR": "redis://x"})
    assert typo.returncode != 0 and "REBOUND_REDIS_ULR" in typo.stderr


def test_serve_with_the_embedded_redis_end_to_end(tmp_path):
    """No REBOUND_REDIS_URL: serve starts its own Redis, data survives, and it stops on exit."""
    port = free_port()
    env = {"REBOUND_PORT": str(port), "REBOUND_WORKERS": "1", "REBOUND_DATA_DIR": str(tmp_path / "data")}
    created = run(["tenants", "create", "solo"], env=env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["api_key"]

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")} | env
    proc = subprocess.Popen(REBOUND + ["serve"], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:                                # ready when gunicorn says so
            if "Booting worker" in line:
                break
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        assert wait_ready(base)
        r = session.post(base + "/v1/events", json={"id": "e1", "type": "bounce", "recipient": "x@example.org",
                                                     "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"})
        assert r.status_code == 200, r.text
        answer = session.get(base + "/v1/recipients/x@example.org").json()
        assert [x["code"] for x in answer["reasons"]] == ["previously_bounced"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    sock = tmp_path / "data" / "redis" / "redis.sock"
    assert not sock.exists(), "the embedded Redis was left running"
    assert any((tmp_path / "data" / "redis" / "appendonlydir").iterdir()), "AOF is not on"


def test_missing_redis_server_gets_one_clear_message(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    p = subprocess.run([sys.executable, "-m", "webhook.cli", "serve"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60, env={"PATH": str(bindir), "REBOUND_DATA_DIR": str(tmp_path / "d"),
                                        "HOME": str(tmp_path)})
    assert p.returncode != 0
    assert "redis-server was not found" in p.stderr and "apt-get install" in p.stderr
    assert "Traceback" not in p.stderr


def test_one_data_directory_wherever_the_command_runs(tmp_path):
    """Without REBOUND_DATA_DIR the store is under $XDG_DATA_HOME/rebound, whatever the
    current directory; a command that has to start a new, empty store says so."""
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = run(["tenants", "create", "Acme"], env=env, cwd=tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert "no store in" in first.stderr and "new, empty one" in first.stderr
    listed = run(["tenants", "list"], env=env, cwd=tmp_path / "b")
    assert listed.returncode == 0 and "no store in" not in listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["tenant"] == "acme" and row["created"].endswith("Z")         # ISO 8601 UTC, as everywhere
    config = run(["config"], env=env, cwd=tmp_path / "b")
    assert f"data directory  {tmp_path / 'xdg' / 'rebound'}" in config.stdout
    assert not (tmp_path / "a" / "var").exists() and not (tmp_path / "b" / "var").exists()


def test_tenants_create_can_print_the_key_alone(redis_url):
    p = run(["tenants", "create", "Key Only", "--key-only"], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode == 0, p.stderr
    [key] = p.stdout.split()
    assert key.startswith("rbk_") and p.stdout == key + "\n"
