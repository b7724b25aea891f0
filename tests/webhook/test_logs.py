"""REBOUND_LOG_LEVEL does what its description says: the least severe level logged, by the
service and gunicorn alike; no level logs an address."""
from __future__ import annotations

import json
import os
import signal
import subprocess

import requests

from tests.conftest import free_port
from tests.cli import REBOUND, wait_ready


def test_serve_at_warning_logs_nothing_less_severe(redis_url, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")} | {
        "REBOUND_REDIS_URL": redis_url, "REBOUND_PORT": str(port), "REBOUND_WORKERS": "1",
        "REBOUND_DATA_DIR": str(tmp_path / "data"), "REBOUND_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(REBOUND + ["serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # nothing is logged at this level that says "ready": ask
        ready = wait_ready(f"http://127.0.0.1:{port}", proc)
        assert ready is not None and ready.status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/v1/nothing", timeout=10).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    levels = [json.loads(line)["level"] for line in output.splitlines() if line.startswith("{")]
    assert set(levels) <= {"WARNING", "ERROR", "CRITICAL"}, output
    assert "Traceback" not in output


def test_debug_logs_requests_but_never_an_address(make_settings, redis_url, capsys):
    from tests.conftest import LiveServer
    from webhook import create_app

    app = create_app(make_settings(redis_url, log_level="debug"))
    server = LiveServer(app)
    try:
        _, key = app.extensions["rebound"].store.tenants.create("acme")
        auth = {"Authorization": f"Bearer {key}"}
        address = "zelda.quill@example.org"
        event = {"id": "e1", "type": "bounce", "recipient": address, "status": "5.1.1",
                 "diagnostic": f"550 5.1.1 <{address}>: user unknown"}
        assert requests.post(server.url + "/v1/events", json=event, headers=auth, timeout=30).status_code == 200
        for path in (f"/v1/recipients/{address}", f"/v1/recipients/{address}/history"):
            assert requests.get(server.url + path, headers=auth, timeout=30).status_code == 200
        requests.put(server.url + f"/v1/suppressions/{address}", json={"note": "x"}, headers=auth, timeout=30)
    finally:
        server.stop()
    # the app's lines, not those of this test's own HTTP client (requests' urllib3 logs its URLs)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    records = [r for r in records if not r["logger"].startswith("urllib3")]
    assert {"/v1/events", "/v1/recipients/<address>", "/v1/recipients/<address>/history"} <= {
        r.get("route") for r in records}
    assert "DEBUG" in {r["level"] for r in records}
    assert not [r for r in records if "zelda" in json.dumps(r).lower()]
