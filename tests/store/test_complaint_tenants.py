"""REBOUND_COMPLAINT_TENANTS: at most 16, the complaining tenants the platform remembers per
address; a higher value could never be reached, so it is refused at start, by name."""
from __future__ import annotations

import pytest

from store.platform import COMPLAINTS_KEPT
from tests.cli import run
from webhook.settings import ConfigError, Settings


def test_out_of_range_is_a_clear_startup_error(redis_url):
    for bad in ("17", "-1", "1000"):
        with pytest.raises(ConfigError) as e:
            Settings.from_env({"REBOUND_COMPLAINT_TENANTS": bad})
        assert "REBOUND_COMPLAINT_TENANTS" in str(e.value)
        p = run(["tenants", "list"], env={"REBOUND_REDIS_URL": redis_url, "REBOUND_COMPLAINT_TENANTS": bad})
        assert p.returncode != 0 and "REBOUND_COMPLAINT_TENANTS" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert Settings.from_env({"REBOUND_COMPLAINT_TENANTS": str(COMPLAINTS_KEPT)}).complaint_tenants == COMPLAINTS_KEPT


def test_the_largest_value_is_reachable(make_settings, redis_url):
    """Complaints at 16 tenants block the address everywhere: the bound is exactly what the
    platform remembers."""
    from tests.conftest import Api, LiveServer
    from webhook import create_app

    app = create_app(make_settings(redis_url, complaint_tenants=COMPLAINTS_KEPT))
    server = LiveServer(app)
    try:
        store = app.extensions["rebound"].store
        tenants = [Api(server.url, *store.tenants.create(f"Sender {i}")) for i in range(COMPLAINTS_KEPT + 1)]
        for i, api in enumerate(tenants[:COMPLAINTS_KEPT]):
            r = api.post("/v1/events", json={"id": f"c{i}", "type": "complaint", "recipient": "fed.up@example.org"})
            assert r.status_code == 200, r.text
            blocked = "platform_blocked" in [x["code"] for x in
                                             tenants[-1].get("/v1/recipients/fed.up@example.org").json()["reasons"]]
            assert blocked == (i + 1 == COMPLAINTS_KEPT), i
    finally:
        server.stop()
