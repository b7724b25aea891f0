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

    # when the audit entry cannot be written, the request fails, and the lift it made is
    # audited as soon as the trail takes entries again: never a lift without its audit
    store = app.extensions["rebound"].store
    assert api.put("/v1/suppressions/bob@example.org", json={}).status_code == 200
    audit_key = Keys().audit(api.tenant)
    saved = store.r.dump(audit_key)
    store.r.delete(audit_key)
    store.r.set(audit_key, "not a stream")             # the audit write fails (WRONGTYPE)
    r = api.delete("/v1/suppressions/bob@example.org", json={"note": "lift"})
    assert r.status_code >= 500
    assert store.suppressions.recover(api.tenant, older_than=0) == 0      # still refused: kept, logged
    store.r.delete(audit_key)
    store.r.restore(audit_key, 0, saved)
    assert store.suppressions.recover(api.tenant, older_than=0) == 1
    entry = api.get("/v1/suppressions/audit").json()["entries"][0]
    assert (entry["action"], entry["address"], entry["note"], entry["lifted"]) == \
        ("unsuppress", "bob@example.org", "lift", ["manual"])
    assert api.get("/v1/recipients/bob@example.org").json()["reasons"] == []
    assert store.suppressions.recover(api.tenant, older_than=0) == 0      # done once


def test_a_crash_between_the_lift_and_its_audit_is_finished_by_the_recovery_pass(app, api):
    """The three steps of a person's lift (intent, lift, audit) interrupted after the lift:
    the recovery pass writes the audit entry with what was lifted, once, and lifts nothing
    twice; interrupted before the lift: the recovery pass makes the lift and audits it."""
    import orjson

    store = app.extensions["rebound"].store
    sup = store.suppressions
    for address in ("cy@example.org", "dee@example.org"):
        assert api.put(f"/v1/suppressions/{address}", json={}).status_code == 200
    before = len(api.get("/v1/suppressions/audit").json()["entries"])

    def crash(self, tenant, op, intent):                 # the process dies after the lift
        sup._apply(tenant, op, intent)
        raise SystemExit

    def crash_first(self, tenant, op, intent):           # ... or before it
        raise SystemExit

    policy = store.policy(api.tenant)
    for address, how in (("cy@example.org", crash), ("dee@example.org", crash_first)):
        sup._finish = how.__get__(sup)
        try:
            sup.unsuppress(api.tenant, address, actor="api", note="asked", policy=policy)
        except SystemExit:
            pass
        del sup._finish
    intents = store.r.hgetall(Keys().intents(api.tenant))
    assert len(intents) == 2 and {orjson.loads(v)["address"] for v in intents.values()} == \
        {"cy@example.org", "dee@example.org"}
    assert api.get("/v1/recipients/cy@example.org").json()["reasons"] == []          # lifted, not audited yet
    assert sup.recover(api.tenant, older_than=3600) == 0                               # too young: in progress
    assert sup.recover(api.tenant, older_than=0) == 2
    entries = api.get("/v1/suppressions/audit").json()["entries"]
    assert len(entries) == before + 2
    assert sorted((e["address"], tuple(e["lifted"])) for e in entries[:2]) == \
        [("cy@example.org", ("manual",)), ("dee@example.org", ("manual",))]
    assert api.get("/v1/recipients/dee@example.org").json()["reasons"] == []
    assert store.r.hlen(Keys().intents(api.tenant)) == 0


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


def test_an_import_that_stopped_half_way_is_audited_as_interrupted(app, api):
    """An import's rows are in other slots than the audit trail: one that never finished (its
    process died between batches) is still in the trail, marked interrupted, once the
    recovery pass sees it idle; a finished one has its one complete entry and nothing more."""
    store = app.extensions["rebound"].store
    sup = store.suppressions
    rows = [{"address": f"imp{i}@example.org", "code": "manual"} for i in range(20)]
    assert sup.import_rows(api.tenant, rows[:10], actor="cli", import_id="imp-1") == 10   # then it died
    assert sup.import_rows(api.tenant, rows[10:], actor="cli", import_id="imp-2") == 10
    sup.audit_import(api.tenant, actor="cli", import_id="imp-2", imported=10, rejected=0, source="b.csv")
    assert sup.recover(api.tenant, older_than=3600) == 0            # imp-1 may still be running
    assert sup.recover(api.tenant, older_than=0) == 1
    entries = {e["import"]: e for e in sup.audit(api.tenant) if e["action"] == "import"}
    assert entries["imp-1"]["interrupted"] is True and entries["imp-1"]["by"] == "cli"
    assert entries["imp-2"]["new"] == 10 and "interrupted" not in entries["imp-2"]
    assert len([e for e in sup.audit(api.tenant) if e["action"] == "import"]) == 2
