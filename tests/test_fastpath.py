"""The single-lookup fast path (webhook/fastpath.py) answers exactly as the Flask route does,
and hands everything unusual to it."""
from __future__ import annotations

import pytest


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


def test_store_trouble_is_a_503_from_the_reference_path(private_redis, make_settings):
    from webhook import create_app

    app = create_app(make_settings(private_redis.url, redis_timeout=1))
    _, key = app.extensions["rebound"].store.tenants.create("t")
    private_redis.stop()
    r = app.test_client().get("/v1/recipients/a@example.org", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 503 and r.get_json()["error"] == "store_unavailable"
