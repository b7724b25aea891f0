"""Steps that must not be half done: a person's lift and its audit entry are one step; the
sender-health counters and review items written after a batch are retried, and a failure
there is logged, never silent."""
from __future__ import annotations

from store.keys import Keys


def test_unsuppress_and_its_audit_entry_are_one_step(app, api):
    assert api.put("/v1/suppressions/ann@example.org", json={"note": "asked"}).status_code == 200
    r = api.delete("/v1/suppressions/ann@example.org", json={"note": "by phone"})
    assert r.status_code == 200 and r.json()["lifted"] == ["manual"], r.text
    entry = api.get("/v1/suppressions/audit").json()["entries"][0]
    assert (entry["action"], entry["address"], entry["note"], entry["lifted"]) == \
        ("unsuppress", "ann@example.org", "by phone", ["manual"])
    # nothing lifted: no audit entry
    assert api.delete("/v1/suppressions/ann@example.org", json={"note": "again"}).status_code == 404
    assert api.get("/v1/suppressions/audit").json()["entries"][0]["id"] == entry["id"]

    # when the audit entry cannot be written, the lift does not happen either
    store = app.extensions["rebound"].store
    assert api.put("/v1/suppressions/bob@example.org", json={}).status_code == 200
    audit_key = Keys().audit(api.tenant)
    saved = store.r.dump(audit_key)
    store.r.delete(audit_key)
    store.r.set(audit_key, "not a stream")             # the audit write fails (WRONGTYPE)
    r = api.delete("/v1/suppressions/bob@example.org", json={"note": "lift"})
    assert r.status_code >= 500
    store.r.delete(audit_key)
    store.r.restore(audit_key, 0, saved)
    assert [x["code"] for x in api.get("/v1/recipients/bob@example.org").json()["reasons"]] == ["manual"]
    assert api.delete("/v1/suppressions/bob@example.org", json={"note": "lift"}).status_code == 200
    assert api.get("/v1/suppressions/audit").json()["entries"][0]["address"] == "bob@example.org"


def test_a_failed_follow_up_is_logged_and_the_stored_batch_acknowledged(app, api, caplog):
    """The events are stored before their sender-health counters: if the counters cannot be
    written, the batch is still acknowledged (a retry would be dropped as a duplicate) and the
    loss is logged as an error, with the tenant and the number of events."""
    from tests.store.test_reasons import bounce

    store = app.extensions["rebound"].store
    recent = Keys().sender_recent(api.tenant)
    store.r.set(recent, "not a list")                   # the follow-up fails (WRONGTYPE)
    caplog.set_level("ERROR", logger="rebound.store")
    r = api.post("/v1/events", json=[bounce("s1", "a@gmail.example", "5.7.26")])
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}, r.text
    [record] = [x for x in caplog.records if x.name == "rebound.store"]
    assert record.levelname == "ERROR" and record.tenant == api.tenant and record.sender_side_events == 1
    store.r.delete(recent)
    assert api.post("/v1/events", json=[bounce("s2", "b@gmail.example", "5.7.26")]).status_code == 200
    assert api.get("/v1/senders/status").json()["recent"][0]["event_id"] == "s2"
