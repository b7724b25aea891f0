"""/metrics stays bounded whatever clients send: invented HTTP methods and raw paths full of
addresses are never label values of their own (ESP event types: tests/webhook/esp/test_ignored_metrics.py)."""
from __future__ import annotations

import re
import uuid

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import OPERATOR_KEY


def samples(base: str, metric: str) -> list[dict]:
    text = requests.get(base + "/metrics", timeout=30, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}).text
    return [s.labels for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == metric]


def test_invented_methods_count_as_other_and_paths_as_their_route(api, live_server):
    invented = [f"X{uuid.uuid4().hex[:10].upper()}" for _ in range(5)]
    for name in invented:
        r = requests.request(name, live_server.url + "/v1/recipients/a@example.org", timeout=30)
        assert r.status_code == 405
    address = f"{uuid.uuid4().hex}@example.org"
    assert api.get(f"/v1/recipients/{address}/history").status_code == 200      # a matched route
    assert api.get(f"/v1/nothing-here/{address}").status_code == 404              # no route at all
    assert api.delete(f"/v1/suppressions/{address}", json={}).status_code == 400   # a client error

    labels = samples(live_server.url, "rebound_http_requests_total")
    methods = {s["method"] for s in labels}
    assert not methods & set(invented)
    assert "OTHER" in methods and methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                                              "TRACE", "PATCH", "OTHER"}
    routes = {s["route"] for s in labels} | {s["route"] for s in samples(live_server.url,
                                                                          "rebound_http_request_seconds_count")}
    assert not any(address in r for r in routes), routes
    assert {"/v1/recipients/<address>/history", "/v1/suppressions/<address>", "(unmatched)"} <= routes
    assert all(r == "(unmatched)" or r.startswith("/") for r in routes)
    assert all(re.fullmatch(r"[1-5]\d\d", s["status"]) for s in labels)
