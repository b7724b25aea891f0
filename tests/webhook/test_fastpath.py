"""The single-lookup fast path (webhook/fastpath.py) answers exactly as the Flask route does,
and hands everything unusual to it."""
from __future__ import annotations

import os
import signal

import pytest
import redis
import requests

from tests.conftest import LiveServer


@pytest.fixture
def both(app, api):
    """(fast answer, reference answer) for the same GET, the reference from the Flask route itself."""
    flask_only = app.wsgi_app.app              # the app behind the middleware

    def ask(path: str, headers: dict | None = None):
        headers = {"Authorization": f"Bearer {api.key}", **(headers or {})}
        fast = app.test_client().get(path, headers=headers)
        environ_app = app.wsgi_app
        app.wsgi_app = flask_only
        try:
            reference = app.test_client().get(path, headers=headers)
        finally:
            app.wsgi_app = environ_app
        return fast, reference
    return ask


def test_same_answers(both, api, operator):
    api.post("/v1/events", json=[
        {"id": "1", "type": "bounce", "recipient": "b@example.org", "status": "5.1.1"},
        {"id": "2", "type": "unsubscribe", "recipient": "u@example.org", "subscription": "news"},
    ])
    operator.put("/v1/platform/domains/blocked.example", json={})
    for path in ["/v1/recipients/a@example.org", "/v1/recipients/B@Example.org?stream=transactional",
                 "/v1/recipients/u@example.org?subscription=news", "/v1/recipients/u@example.org?subscription=other",
                 "/v1/recipients/info@example.org?stream=marketing", "/v1/recipients/x@blocked.example",
                 "/v1/recipients/not-an-address", "/v1/recipients/%C3%BC@example.org",
                 "/v1/recipients/a@example.org?subscription="]:
        fast, reference = both(path)
        assert fast.status_code == reference.status_code == 200, path
        assert fast.get_json() == reference.get_json(), path
        assert fast.headers["Server-Timing"].startswith("app;dur=")


@pytest.mark.parametrize("path, headers, status, error", [
    ("/v1/recipients/a@example.org", {"Authorization": "Bearer rbk_unknown"}, 401, "unauthorized"),
    ("/v1/recipients/a@example.org", {"Authorization": ""}, 401, "unauthorized"),
    ("/v1/recipients/a@example.org?stream=sms", {}, 400, "invalid_request"),
    ("/v1/recipients/a@example.org?strem=marketing", {}, 400, "invalid_request"),
    ("/v1/recipients/" + "a" * 600 + "@example.org", {}, 400, "invalid_request"),
])
def test_errors_come_from_the_reference_path(both, path, headers, status, error):
    fast, reference = both(path, headers)
    assert fast.status_code == reference.status_code == status
    assert fast.get_json() == reference.get_json() and fast.get_json()["error"] == error


class _Witness:
    """Counts the connections a Redis accepted: with the server stopped (SIGSTOP), every
    attempt the app makes waits in the kernel's accept queue and is counted once the server
    resumes, so a stopped store still says how often it was asked.

    Each count is asked on a new connection: the kernel hands queued connections over in
    the order they came, so when Redis answers the new one, every attempt queued before it
    has been accepted and counted. (Asked on a connection already open, the answer could
    come before Redis got round to accepting the queued ones: a count of 0.)"""

    def __init__(self, server):
        self.server = server

    def connections(self) -> int:
        """Connections accepted so far, this one included."""
        with redis.Redis.from_url(self.server.url, single_connection_client=True) as client:
            return client.info("stats")["total_connections_received"]

    def attempts_while_stopped(self, request) -> tuple[requests.Response, int]:
        before = self.connections()
        os.kill(self.server.proc.pid, signal.SIGSTOP)
        try:
            response = request()
        finally:
            os.kill(self.server.proc.pid, signal.SIGCONT)
        return response, self.connections() - before - 1        # less the counting connection


@pytest.fixture
def fresh_app(private_redis, make_settings):
    """A new app (no pooled connection, no cached key) on the private Redis, behind a real
    HTTP server, and a key for it created by another client."""
    from store import Store, connect
    from webhook import create_app

    servers = []

    def make():
        app = create_app(make_settings(private_redis.url, redis_timeout=1))
        _, key = Store(connect(private_redis.url)).tenants.create(f"t{len(servers)}")
        servers.append(LiveServer(app))
        return servers[-1].url, {"Authorization": f"Bearer {key}"}
    yield make
    for server in servers:
        server.stop()


def test_a_stopped_store_is_a_503_answered_at_once(private_redis, fresh_app):
    """Redis stopped (not gone: connections hang): the lookup answers the app's 503 itself,
    after asking the store no more often than the Flask routes do, instead of handing the
    request on to wait for the same dead store a second time."""
    witness = _Witness(private_redis)
    base, auth = fresh_app()
    reference, reference_attempts = witness.attempts_while_stopped(
        lambda: requests.post(base + "/v1/recipients/check", json={"addresses": ["a@example.org"]}, headers=auth,
                              timeout=60))
    base, auth = fresh_app()
    fast, attempts = witness.attempts_while_stopped(
        lambda: requests.get(base + "/v1/recipients/a@example.org", headers=auth, timeout=60))
    for r in (reference, fast):
        assert r.status_code == 503, r.text
        assert r.headers["Content-Type"] == "application/json" and int(r.headers["Retry-After"]) > 0
    assert fast.json() == reference.json() and fast.json()["error"] == "store_unavailable"
    assert 0 < attempts <= reference_attempts


def test_a_store_that_is_gone_is_a_503_too(private_redis, fresh_app):
    base, auth = fresh_app()
    assert requests.get(base + "/v1/recipients/a@example.org", headers=auth, timeout=60).status_code == 200
    private_redis.stop()
    for path in ["/v1/recipients/a@example.org", "/v1/recipients/b@example.org?stream=marketing"]:
        r = requests.get(base + path, headers=auth, timeout=60)
        assert r.status_code == 503 and r.json()["error"] == "store_unavailable", r.text
        assert int(r.headers["Retry-After"]) > 0
