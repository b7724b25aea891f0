"""Event times come from other clocks: one far ahead is clamped to the receive time plus
five minutes, and a person's lift lifts a suppression whatever time it started."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.store.test_suppression_lists import import_csv


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _since(api, address: str) -> datetime:
    [reason] = api.get(f"/v1/recipients/{address}").json()["reasons"]
    return datetime.fromisoformat(reason["since"])


def test_event_time_far_ahead_is_clamped(api):
    sent = datetime.now(UTC)
    ahead = sent + timedelta(hours=20)
    r = api.post("/v1/events", json={"id": "f-1", "type": "complaint", "recipient": "ann@example.org",
                                     "time": _iso(ahead)})
    assert r.status_code == 200, r.text
    since = _since(api, "ann@example.org")
    assert since <= datetime.now(UTC) + timedelta(minutes=5)
    assert since >= sent + timedelta(minutes=5) - timedelta(seconds=2)
    [entry] = api.get("/v1/recipients/ann@example.org/history").json()["events"]
    assert entry["extra"]["reported_time"].startswith(ahead.strftime("%Y-%m-%dT%H:%M:%S"))
    # a person's lift now lifts it, though it "started" five minutes from now
    r = api.delete("/v1/suppressions/ann@example.org", json={"note": "asked us by phone"})
    assert r.status_code == 200 and r.json()["lifted"] == ["previous_spam"], r.text
    assert api.get("/v1/recipients/ann@example.org").json()["sendable"] is True


def test_a_hard_bounce_from_the_future_does_not_outlive_a_delivery_after_the_clamp(api):
    now = datetime.now(UTC)
    r = api.post("/v1/events", json=[
        {"id": "b-1", "type": "bounce", "recipient": "bob@example.org", "status": "4.2.2",
         "diagnostic": "452 4.2.2 mailbox full", "time": _iso(now + timedelta(hours=20))},
        {"id": "b-2", "type": "bounce", "recipient": "bob@example.org", "status": "4.2.2",
         "diagnostic": "452 4.2.2 mailbox full", "time": _iso(now + timedelta(hours=21))},
        {"id": "b-3", "type": "bounce", "recipient": "bob@example.org", "status": "4.2.2",
         "diagnostic": "452 4.2.2 mailbox full", "time": _iso(now + timedelta(hours=22))}])
    assert r.status_code == 200, r.text
    assert [x["code"] for x in api.get("/v1/recipients/bob@example.org").json()["reasons"]] == ["mailbox_full"]
    r = api.post("/v1/events", json={"id": "d-1", "type": "delivered", "recipient": "bob@example.org",
                                     "time": _iso(now + timedelta(minutes=6))})
    assert r.status_code == 200, r.text
    assert api.get("/v1/recipients/bob@example.org").json()["sendable"] is True


def test_a_persons_lift_lifts_a_suppression_that_starts_after_it(api):
    ahead = datetime.now(UTC) + timedelta(hours=6)
    r = import_csv(api, f"address,code,since\ncy@example.org,manual,{_iso(ahead)}\n")
    assert r.json()["new"] == 1, r.text
    r = api.delete("/v1/suppressions/cy@example.org", json={"note": "imported by mistake"})
    assert r.status_code == 200 and r.json()["lifted"] == ["manual"], r.text
    assert api.get("/v1/recipients/cy@example.org").json()["sendable"] is True
    rows = api.get("/v1/suppressions/export").text.splitlines()
    assert rows[1:] == []


def test_a_confirmation_lifts_a_pending_opt_in_that_starts_after_it(api):
    ahead = datetime.now(UTC) + timedelta(hours=2)
    r = import_csv(api, f"address,code,since\ned@example.org,unconfirmed_opt_in,{_iso(ahead)}\n")
    assert r.json()["new"] == 1, r.text
    assert api.post("/v1/opt-ins/ed@example.org/confirm").status_code == 200
    assert api.get("/v1/recipients/ed@example.org").json()["sendable"] is True
