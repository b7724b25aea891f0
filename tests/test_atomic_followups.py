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
