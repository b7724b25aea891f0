"""Bad requests to the store's routes: a 4xx naming the problem, never a 500, nothing stored."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("method, path, kw, status", [
    ("put", "/v1/companies/not a domain", {"json": {}}, 400),
    ("put", "/v1/companies/a@b.example", {"json": {}}, 400),
    ("put", "/v1/companies/acme.example", {"json": {"note": 5}}, 400),
    ("delete", "/v1/companies/acme.example", {"json": {"note": "x"}}, 404),
    ("post", "/v1/opt-ins", {"json": {"addresses": []}}, 400),
    ("post", "/v1/opt-ins/nobody@example.org/confirm", {}, 404),
    ("post", "/v1/opt-ins/not-an-address/confirm", {}, 400),
    ("put", "/v1/suppressions/a@example.org", {"json": {"code": "domain_blocked"}}, 400),
    ("put", "/v1/suppressions/a@example.org", {"json": {"code": "unsubscribed"}}, 400),
    ("put", "/v1/suppressions/a@example.org", {"json": {"code": "manual", "subscription": "news"}}, 400),
    ("put", "/v1/suppressions/a@example.org", {"json": {"stream": "sms"}}, 400),
    ("delete", "/v1/suppressions/a@example.org", {"json": {"note": "x", "codes": ["platform_blocked"]}}, 400),
    ("patch", "/v1/policy", {"json": ["not", "an", "object"]}, 400),
    ("put", "/v1/policy", {"data": b"{", "headers": {"Content-Type": "application/json"}}, 400),
    ("get", "/v1/senders/status?days=100", {}, 400),
    ("get", "/v1/suppressions?limit=5000", {}, 400),
    ("post", "/v1/suppressions/import", {"data": b"\xff\xfe\x00bad", "headers": {"Content-Type": "text/csv"}}, 400),
    ("post", "/v1/suppressions/import?code=domain_blocked", {"data": b"a@example.org\n",
                                                              "headers": {"Content-Type": "text/csv"}}, 400),
    ("get", "/v1/recipients/not-an-address/history", {}, 400),
])
def test_bad_requests(api, redis_client, method, path, kw, status):
    r = getattr(api, method)(path, **kw)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] and body["message"]
    assert [k for k in redis_client.scan_iter("rb:t:*") if b":audit" not in k] == []


@pytest.mark.parametrize("method, path, kw", [
    ("put", "/v1/platform/addresses/a@example.org", {"json": {"kind": "spammer"}}),
    ("put", "/v1/platform/addresses/not-an-address", {"json": {"kind": "trap"}}),
    ("put", "/v1/platform/domains/bad domain", {"json": {}}),
    ("delete", "/v1/platform/domains/unknown.example", {"json": {"note": "x"}}),
    ("delete", "/v1/platform/addresses/a@example.org", {"json": {}}),
])
def test_bad_operator_requests(operator, redis_client, method, path, kw):
    r = getattr(operator, method)(path, **kw)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]
    assert [k for k in redis_client.scan_iter("rb:p:*") if b"audit" not in k] == []


TENANT_ROUTES = [("get", "/v1/recipients/{a}/history", {}), ("put", "/v1/suppressions/{a}", {"json": {}}),
                 ("delete", "/v1/suppressions/{a}", {"json": {"note": "x"}}), ("post", "/v1/opt-ins/{a}/confirm", {}),
                 ("put", "/v1/companies/{d}", {"json": {}}), ("delete", "/v1/companies/{d}", {"json": {"note": "x"}})]
OPERATOR_ROUTES = [("get", "/v1/platform/addresses/{a}", {}), ("put", "/v1/platform/addresses/{a}", {"json": {"kind": "trap"}}),
                   ("delete", "/v1/platform/addresses/{a}", {"json": {"note": "x"}}),
                   ("put", "/v1/platform/domains/{d}", {"json": {}}),
                   ("delete", "/v1/platform/domains/{d}", {"json": {"note": "x"}})]


@pytest.mark.parametrize("who, method, path, kw", [("api", *r) for r in TENANT_ROUTES]
                         + [("operator", *r) for r in OPERATOR_ROUTES])
def test_a_bad_address_or_domain_gets_the_same_400_on_every_route(request, who, method, path, kw):
    """One answer everywhere: the error code, the problem in words, and the path field in
    ``details`` like any other invalid request."""
    client = request.getfixturevalue(who)
    field, error = ("address", "invalid_address") if "{a}" in path else ("domain", "invalid_domain_name")
    r = getattr(client, method)(path.format(a="not-an-address", d="not a domain"), **kw)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == error
    assert [d["field"] for d in body["details"]] == [field] and body["details"][0]["problem"]
    assert body["message"].startswith(f"{field}: ")
