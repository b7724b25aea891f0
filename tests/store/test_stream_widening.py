"""A suppression limited to some streams widens to the union when a later one of the same
reason covers more streams; it never stays narrower, and never grows past the union."""
from __future__ import annotations

from tests.store.test_suppression_lists import import_csv


def codes(api, address: str, stream: str) -> list[str]:
    r = api.get(f"/v1/recipients/{address}", params={"stream": stream})
    assert r.status_code == 200, r.text
    return [x["code"] for x in r.json()["reasons"]]


def test_hard_bounce_widens_a_marketing_only_bounce_suppression(api):
    r = import_csv(api, "address,code,stream\nann@example.org,previously_bounced,marketing\n")
    assert r.json()["new"] == 1, r.text
    assert codes(api, "ann@example.org", "transactional") == []
    r = api.post("/v1/events", json={"id": "hb-1", "type": "bounce", "recipient": "ann@example.org",
                                     "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"})
    assert r.status_code == 200, r.text
    assert codes(api, "ann@example.org", "transactional") == ["previously_bounced"]
    assert codes(api, "ann@example.org", "marketing") == ["previously_bounced"]


def test_manual_suppression_for_all_streams_widens_a_stream_limited_one(api):
    assert api.put("/v1/suppressions/bob@example.org", json={"stream": "marketing"}).status_code == 200
    assert codes(api, "bob@example.org", "transactional") == []
    assert api.put("/v1/suppressions/bob@example.org", json={}).status_code == 200
    assert codes(api, "bob@example.org", "transactional") == ["manual"]
    reason = api.get("/v1/recipients/bob@example.org").json()["reasons"][0]
    assert reason["streams"] == ["marketing", "transactional"] and reason["scope"] == "tenant"


def test_union_beyond_the_policy_streams_blocks_both(api):
    r = api.patch("/v1/policy", json={"streams": {"manual": ["marketing"]}})
    assert r.status_code == 200, r.text
    assert api.put("/v1/suppressions/cy@example.org", json={"stream": "transactional"}).status_code == 200
    assert api.put("/v1/suppressions/cy@example.org", json={}).status_code == 200      # the policy's: marketing
    assert codes(api, "cy@example.org", "marketing") == ["manual"]
    assert codes(api, "cy@example.org", "transactional") == ["manual"]
    # two different single streams: both
    assert api.put("/v1/suppressions/di@example.org", json={"stream": "transactional"}).status_code == 200
    assert api.put("/v1/suppressions/di@example.org", json={"stream": "marketing"}).status_code == 200
    assert codes(api, "di@example.org", "marketing") == ["manual"]
    assert codes(api, "di@example.org", "transactional") == ["manual"]


def test_no_widening_past_the_union(api):
    """A complaint (marketing only by policy) meeting a marketing-only suppression of the
    same reason keeps it marketing-only."""
    r = import_csv(api, "address,code,stream\ned@example.org,previous_spam,marketing\n")
    assert r.json()["new"] == 1, r.text
    r = api.post("/v1/events", json={"id": "c-1", "type": "complaint", "recipient": "ed@example.org"})
    assert r.status_code == 200, r.text
    assert codes(api, "ed@example.org", "marketing") == ["previous_spam"]
    assert codes(api, "ed@example.org", "transactional") == []


def test_every_stream_survives_export_and_import(api, make_tenant):
    assert api.put("/v1/suppressions/fo@example.org", json={"stream": "transactional"}).status_code == 200
    assert api.put("/v1/suppressions/fo@example.org", json={"stream": "marketing"}).status_code == 200
    exported = api.get("/v1/suppressions/export").text
    assert ",*," in exported.splitlines()[1]
    other = make_tenant("Other")
    r = import_csv(other, exported)
    assert r.status_code == 200 and r.json()["new"] == 1, r.text
    assert codes(other, "fo@example.org", "transactional") == ["manual"]
    assert codes(other, "fo@example.org", "marketing") == ["manual"]
