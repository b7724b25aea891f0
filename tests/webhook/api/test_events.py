"""The foundation end to end: JSON events in over HTTP, answers out, against a real Redis."""
from __future__ import annotations

from tests.clock import ago

BOUNCE = {"id": "evt-1", "type": "bounce", "recipient": "Alice@Example.org", "time": ago(days=1),
          "status": "5.1.1", "reply_code": "550", "diagnostic": "550 5.1.1 user unknown", "stream": "marketing"}


def codes(answer: dict) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def test_hard_bounce_makes_recipient_unsendable_with_evidence(api):
    r = api.post("/v1/events", json=BOUNCE)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0}

    answer = api.get("/v1/recipients/alice@example.org").json()
    assert answer["sendable"] is False
    [reason] = answer["reasons"]
    assert reason["code"] == "previously_bounced"
    assert reason["scope"] == "tenant"
    assert reason["since"] == BOUNCE["time"] and reason["until"] is None
    assert reason["evidence"]["event_id"] == "evt-1"
    assert reason["evidence"]["reason"] == "userunknown"
    assert reason["evidence"]["diagnostic"] == "550 5.1.1 user unknown"


def test_other_tenant_still_sees_the_address_as_sendable(api, make_tenant):
    api.post("/v1/events", json=BOUNCE)
    other = make_tenant("Tenant B")
    answer = other.get("/v1/recipients/alice@example.org").json()
    assert answer["sendable"] is True and answer["reasons"] == []


def test_same_event_twice_is_counted_once(api):
    first = api.post("/v1/events", json=BOUNCE).json()
    again = api.post("/v1/events", json=[BOUNCE]).json()
    assert first == {"accepted": 1, "duplicates": 0}
    assert again == {"accepted": 0, "duplicates": 1}
    history = api.get("/v1/recipients/alice@example.org/history").json()["events"]
    assert [e["id"] for e in history if e.get("kind") == "bounce"] == ["evt-1"]


def test_soft_bounce_does_not_suppress_until_the_policy_threshold(api):
    full = dict(BOUNCE, status="4.2.2", reply_code="452", diagnostic="452 4.2.2 mailbox full")
    for i in range(2):
        api.post("/v1/events", json=dict(full, id=f"full-{i}", time=ago(days=3 - i)))
    assert api.get("/v1/recipients/alice@example.org").json()["sendable"] is True
    api.post("/v1/events", json=dict(full, id="full-3", time=ago(hours=1)))
    answer = api.get("/v1/recipients/alice@example.org").json()
    assert codes(answer) == ["mailbox_full"]
    assert answer["reasons"][0]["until"] is not None          # temporary by policy


def test_delete_makes_it_sendable_again_and_is_audited(api, app):
    api.post("/v1/events", json=BOUNCE)
    r = api.delete("/v1/suppressions/alice@example.org", json={"note": "customer confirmed the address"})
    assert r.status_code == 200, r.text
    assert r.json()["lifted"] == ["previously_bounced"]
    assert api.get("/v1/recipients/alice@example.org").json()["sendable"] is True

    audit = app.extensions["rebound"].store.suppressions.audit(api.tenant)
    assert audit[0]["action"] == "unsuppress"
    assert audit[0]["address"] == "alice@example.org"
    assert audit[0]["note"] == "customer confirmed the address"
    assert audit[0]["by"].startswith("key:") and audit[0]["time"] >= ago(minutes=1)
    history = api.get("/v1/recipients/alice@example.org/history").json()["events"]
    assert history[0]["kind"] == "unsuppress" and history[0]["fx"] == ["-previously_bounced"]
    # times in ISO 8601 UTC, as in every answer
    assert history[0]["time"] >= ago(minutes=1) and history[0]["time"].endswith("Z")
    assert history[-1]["time"] == BOUNCE["time"]


def test_delete_of_an_address_with_nothing_to_lift_is_404(api):
    r = api.delete("/v1/suppressions/nobody@example.org", json={"note": "why not"})
    assert r.status_code == 404 and r.json()["error"] == "not_suppressed"


def test_manual_suppression_with_note(api):
    r = api.put("/v1/suppressions/bob@example.org", json={"note": "asked us by phone"})
    assert r.status_code == 200 and r.json()["added"] == ["manual"]
    [reason] = api.get("/v1/recipients/bob@example.org").json()["reasons"]
    assert reason["code"] == "manual" and reason["evidence"]["note"] == "asked us by phone"


def test_unsubscribe_from_everything(api):
    api.post("/v1/events", json={"id": "u1", "type": "unsubscribe", "recipient": "carol@example.org"})
    answer = api.get("/v1/recipients/carol@example.org?stream=marketing").json()
    assert codes(answer) == ["unsubscribed_all"]
    # an opt-out of marketing does not stop a password reset
    assert api.get("/v1/recipients/carol@example.org?stream=transactional").json()["sendable"] is True


def test_unsubscribe_from_one_subscription_leaves_the_others(api):
    api.post("/v1/events", json={"id": "u2", "type": "unsubscribe", "recipient": "dan@example.org",
                                 "subscription": "newsletter"})
    assert codes(api.get("/v1/recipients/dan@example.org?subscription=newsletter").json()) == ["unsubscribed"]
    assert api.get("/v1/recipients/dan@example.org?subscription=billing").json()["sendable"] is True


def test_complaint_suppresses_marketing_only(api):
    api.post("/v1/events", json={"id": "c1", "type": "complaint", "recipient": "erin@example.org",
                                 "feedback_type": "abuse"})
    assert codes(api.get("/v1/recipients/erin@example.org?stream=marketing").json()) == ["previous_spam"]
    assert api.get("/v1/recipients/erin@example.org?stream=transactional").json()["sendable"] is True


def test_bulk_check_answers_in_input_order(api):
    api.post("/v1/events", json=BOUNCE)
    addresses = ["zed@example.org", "ALICE@example.org", "not-an-address", "amy@example.org"]
    r = api.post("/v1/recipients/check", json={"addresses": addresses})
    results = r.json()["results"]
    assert [x["address"] for x in results] == addresses
    assert [x["sendable"] for x in results] == [True, False, False, True]
    assert codes(results[2]) == ["invalid_syntax"]
