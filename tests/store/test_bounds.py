"""Bounds: policy values within documented limits (a 400 naming the field), times within
1970..2100 (a 400), and stored times always shown, whatever a record holds."""
from __future__ import annotations

import json
import math

import orjson
import pytest

from store.keys import Keys, bucket_of
from store.records import iso
from tests.cli import run
from tests.store.test_suppression_lists import import_csv


@pytest.mark.parametrize("patch, field", [
    ({"bounces": {"mailbox_full": {"for_days": 1e9}}}, "bounces.mailbox_full.for_days"),
    ({"bounces": {"mailbox_full": {"within_days": 100000}}}, "bounces.mailbox_full.within_days"),
    ({"bounces": {"nonexistent_account": {"hard_after": 1000000}}}, "bounces.nonexistent_account.hard_after"),
    ({"complaint": {"for_days": 1e12}}, "complaint.for_days"),
    ({"sharing": {"within_days": 5000}}, "sharing.within_days"),
    ({"low_engagement": {"after_sends": 10**9}}, "low_engagement.after_sends"),
    ({"frequency_cap": {"per_month": {"marketing": 10**9}}}, "frequency_cap.per_month"),
])
def test_policy_values_out_of_range_are_a_400_naming_the_field(api, patch, field):
    r = api.patch("/v1/policy", json=patch)
    assert r.status_code == 400, r.text
    assert field in r.json()["message"], r.text
    assert api.get("/v1/policy").json()["overrides"] == {}


def test_cli_policy_set_out_of_range_names_the_field(api, redis_url):
    p = run(["policy", "set", api.tenant, "bounces.mailbox_full.for_days=1e9"], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode != 0 and "bounces.mailbox_full.for_days" in p.stderr and "3650" in p.stderr, p.stderr
    p = run(["policy", "set", api.tenant, "min_confidence=NaN"], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode != 0 and "min_confidence" in p.stderr, p.stderr
    assert api.get("/v1/policy").json()["overrides"] == {}


def test_times_out_of_range_are_a_400(api):
    for t in ("1969-12-31T00:00:00Z", "1900-01-01T00:00:00Z"):
        r = api.post("/v1/events", json={"id": "t", "type": "complaint", "recipient": "a@example.org", "time": t})
        assert r.status_code == 400 and "time" in r.text, r.text
    r = api.put("/v1/suppressions/a@example.org", json={"until": "9999-12-31T23:59:59Z"})
    assert r.status_code == 400 and "until" in r.text, r.text
    r = import_csv(api, "address,until\nb@example.org,9999-12-31\nc@example.org,\n")
    body = r.json()
    assert r.status_code == 200 and body["new"] == 1 and body["rejected"] == 1, body
    assert "until" in body["errors"][0]["error"] and "out of range" in body["errors"][0]["error"]
    assert api.get("/v1/recipients/a@example.org").json()["sendable"] is True
    for params in ({"since": "9999-01-01T00:00:00Z"}, {"before": "1900-01-01T00:00:00Z"}):
        r = api.get("/v1/suppressions", params=params)
        assert r.status_code == 400 and next(iter(params)) in r.json()["message"], r.text


def test_iso_is_total():
    for v in (None, 0, -1, 1e18, -1e18, math.nan, math.inf, -math.inf, 2 ** 70, 1.5, "x", True):
        out = iso(v)
        assert out is None or out.endswith("Z")
    assert iso(1e18) == "9999-12-31T23:59:59Z"


def test_answers_never_fail_on_stored_times_out_of_range(app, api):
    """Records written before the bounds (or by hand) still answer, never a 500."""
    store = app.extensions["rebound"].store
    address = "d@example.org"
    rec = {"s": {"manual": {"t": -10**15, "u": 10**15, "e": {"by": "x"}}}, "g": {"marketing": [5, 0, 0, 10**16]}}
    store.r.hset(Keys().records(api.tenant, bucket_of(address)), address, orjson.dumps(rec))
    r = api.get(f"/v1/recipients/{address}")
    assert r.status_code == 200, r.text
    [reason] = r.json()["reasons"]
    assert reason["since"] == "0001-01-01T00:00:00Z" and reason["until"] == "9999-12-31T23:59:59Z"
    assert api.get(f"/v1/recipients/{address}/history").status_code == 200
    r = api.get("/v1/suppressions/export")
    assert r.status_code == 200 and address in r.text
    assert json.loads(api.get("/v1/suppressions", params={"limit": 1000}).text) is not None
