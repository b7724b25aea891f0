"""Secrets are write-only: no error message, log line, CLI answer or API body shows one.

The Redis password inside REBOUND_REDIS_URL, REBOUND_SECRET_KEY and ESP credentials are
given to a real `rebound` process, a real `rebound serve` and the real HTTP API, and
looked for in everything those print.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from cryptography.fernet import Fernet

from tests.conftest import RedisServer, free_port
from tests.cli import REBOUND, run, wait_ready

PASSWORD = "pw-Zq81-never-shown"


@pytest.fixture
def locked_redis(tmp_path):
    """A real Redis that wants a password, and the URL that carries it."""
    server = RedisServer(tmp_path / "locked-redis", "--requirepass", PASSWORD).start()
    yield server, f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    server.stop()


def test_unreachable_redis_is_named_without_its_password():
    port = free_port()                                       # nothing listens there
    p = run(["tenants", "list"], env={"REBOUND_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{port}/0"})
    assert p.returncode != 0
    assert f"redis://:***@127.0.0.1:{port}/0" in p.stderr
    assert PASSWORD not in p.stderr + p.stdout


def test_wrong_redis_password_is_not_printed(locked_redis):
    server, _ = locked_redis
    wrong = "wrong-" + PASSWORD
    p = run(["tenants", "list"], env={"REBOUND_REDIS_URL": f"redis://app:{wrong}@127.0.0.1:{server.port}/0"})
    assert p.returncode != 0
    assert f"redis://app:***@127.0.0.1:{server.port}/0" in p.stderr
    assert wrong not in p.stderr + p.stdout


@pytest.mark.parametrize("env, variable", [
    ({"REBOUND_REDIS_URL": f"http://:{PASSWORD}@redis.internal:6379/0"}, "REBOUND_REDIS_URL"),
    ({"REBOUND_REDIS_URL": f"redis://:{PASSWORD}@redis.internal:99999/0"}, "REBOUND_REDIS_URL"),
    ({"REBOUND_REDIS_URL": f"redis://{PASSWORD}@redis.internal:port/0"}, "REBOUND_REDIS_URL"),
    ({"REBOUND_SECRET_KEY": PASSWORD}, "REBOUND_SECRET_KEY"),
])
def test_invalid_settings_are_named_without_the_secret(env, variable):
    p = run(["tenants", "list"], env=env)
    assert p.returncode != 0
    assert variable in p.stderr and "Traceback" not in p.stderr
    assert PASSWORD not in p.stderr + p.stdout
    if "REDIS" in variable:
        assert "redis.internal" in p.stderr            # the rest of the URL still helps


def test_a_secret_given_without_its_name_is_not_echoed(redis_url):
    env = {"REBOUND_REDIS_URL": redis_url, "REBOUND_SECRET_KEY": Fernet.generate_key().decode()}
    tenant = json.loads(run(["tenants", "create", "acme"], env=env).stdout)["tenant"]
    p = run(["providers", "set", tenant, "mailgun", PASSWORD], env=env)        # forgot "signing_key="
    assert p.returncode == 2
    assert "NAME=VALUE" in p.stderr and PASSWORD not in p.stderr + p.stdout


def test_providers_set_and_show_mask_secrets_and_urls_with_passwords(redis_url):
    env = {"REBOUND_REDIS_URL": redis_url, "REBOUND_SECRET_KEY": Fernet.generate_key().decode()}
    tenant = json.loads(run(["tenants", "create", "acme"], env=env).stdout)["tenant"]
    url = f"https://hooks:{PASSWORD}@example.org/mandrill"
    p = run(["providers", "set", tenant, "mandrill", "webhook_key=mandrill-" + PASSWORD, f"url={url}"], env=env)
    assert p.returncode == 0, p.stderr
    shown = run(["providers", "show", tenant, "mandrill"], env=env)
    for out in (p.stdout, shown.stdout):
        creds = json.loads(out)["credentials"]
        assert creds == {"url": "https://hooks:***@example.org/mandrill", "webhook_key": "***"}
        assert PASSWORD not in out


def test_api_never_returns_a_password_inside_a_shown_url(api):
    url = f"https://hooks:{PASSWORD}@example.org/mandrill"
    r = api.put("/v1/providers/mandrill", json={"credentials": {"webhook_key": "k-" + PASSWORD, "url": url}})
    assert r.status_code == 200, r.text
    for body in (r.text, api.get("/v1/providers/mandrill").text, api.get("/v1/providers").text):
        assert PASSWORD not in body
        assert "https://hooks:***@example.org/mandrill" in body


def test_serve_names_its_redis_without_the_password(locked_redis, tmp_path):
    _, url = locked_redis
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")} | {
        "REBOUND_REDIS_URL": url, "REBOUND_PORT": str(port), "REBOUND_WORKERS": "1",
        "REBOUND_DATA_DIR": str(tmp_path / "data"), "REBOUND_LOG_LEVEL": "debug"}
    proc = subprocess.Popen(REBOUND + ["serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "Booting worker" in line:
                break
        ready = wait_ready(f"http://127.0.0.1:{port}", proc)     # the worker loads the app, then answers
        assert ready is not None and ready.status_code == 200, ready and ready.text   # it did use the password
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    output = "".join(seen) + rest
    assert f"redis://:***@127.0.0.1:{locked_redis[0].port}/0" in output
    assert PASSWORD not in output
