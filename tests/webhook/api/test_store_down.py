"""With Redis gone, ingest answers 503 with Retry-After, readiness fails, and nothing gets a 2xx."""
from __future__ import annotations

import requests

from tests.conftest import LiveServer


def test_redis_down_means_503_and_no_acknowledgement(private_redis, make_settings):
    from webhook import create_app

    app = create_app(make_settings(private_redis.url, redis_timeout=1))
    server = LiveServer(app)
    try:
        tenant, key = app.extensions["rebound"].store.tenants.create("acme")
        auth = {"Authorization": f"Bearer {key}"}
        event = {"id": "e1", "type": "bounce", "recipient": "a@example.org", "status": "5.1.1"}
        assert requests.post(server.url + "/v1/events", json=event, headers=auth, timeout=10).status_code == 200
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200

        private_redis.stop()

        for method, path, body in [("POST", "/v1/events", dict(event, id="e2")),
                                   ("GET", "/v1/recipients/a@example.org", None),
                                   ("POST", "/v1/recipients/check", {"addresses": ["a@example.org"]}),
                                   ("PUT", "/v1/suppressions/b@example.org", {"note": "x"})]:
            r = requests.request(method, server.url + path, json=body, headers=auth, timeout=10)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.json()["error"] == "store_unavailable"
            assert int(r.headers["Retry-After"]) > 0
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200   # process is up
    finally:
        server.stop()
