"""Reclassification of stored history against a real Redis: what a dry run shows, what --apply
changes, and what it must never touch."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from classifier.events import Event, Kind
from classifier.verdict import Verdict
from store import Store
from store.reclassify import Reclassification

NOW = int(time.time())
USER_UNKNOWN = Verdict.of("userunknown", confidence=0.95, source="rule", explanation=("phrase:x",))
BLOCKED = Verdict.of("blocked", confidence=0.9, source="model", explanation=("model:blocked@0.90",))
ONHOLD = Verdict.of("onhold", confidence=0.3, source="rule", review="unknown")

#: "another model": what it says of each diagnostic (anything else: as before)
NEW_OPINION = {"grault garply": USER_UNKNOWN, "refused by policy engine": BLOCKED}


def second_opinion(calls: list | None = None):
    def classify_many(evidences):
        if calls is not None:
            calls.append(len(evidences))
        return [NEW_OPINION.get(e.diagnostic, ONHOLD if e.diagnostic == "unknown stuff" else USER_UNKNOWN)
                for e in evidences]
    return classify_many


def event(address: str, eid: str, diagnostic: str, t: int, kind: Kind = Kind.BOUNCE) -> Event:
    return Event(tenant="t", recipient=address, kind=kind, provider="api", event_id=eid,
                 time=datetime.fromtimestamp(t, UTC), diagnostic=diagnostic, reply_code="550")


@pytest.fixture
def store(redis_client):
    s = Store(redis_client, history_max=5)
    s.tenants.create("t")
    return s


def codes(store, address) -> list[str]:
    [answer] = store.check("t", [address])
    return sorted(r["code"] for r in answer.reasons)


def snapshot(r) -> dict:
    return {k: r.dump(k) for k in r.scan_iter("*")}


def populate(store):
    t = NOW - 3600
    # a: the old classifier was unsure; the new one recognises a missing mailbox -> add
    store.apply("t", [(event("a@example.org", "a1", "grault garply", t), ONHOLD)])
    # b: suppressed as a missing mailbox; the new classifier sees a policy block (sender-side) -> lift
    store.apply("t", [(event("b@example.org", "b1", "refused by policy engine", t), USER_UNKNOWN)])
    # c: the same, but a person had suppressed it by hand before: never lifted
    store.suppressions.suppress("t", "c@example.org", actor="key:x", code="previously_bounced", note="asked")
    store.apply("t", [(event("c@example.org", "c1", "refused by policy engine", t), USER_UNKNOWN)])
    # d: nothing changes
    store.apply("t", [(event("d@example.org", "d1", "550 5.1.1 no such user", t), USER_UNKNOWN)])
    # e: suppressed by a bounce that has since left the trimmed history (5 entries); a later
    #    bounce the new classifier calls a block does not prove the first one wrong -> kept
    store.apply("t", [(event("e@example.org", "e0", "550 5.1.1 no such user", t - 86400), USER_UNKNOWN)])
    store.apply("t", [(event("e@example.org", "e1", "refused by policy engine", t), USER_UNKNOWN)])
    for i in range(4):
        store.apply("t", [(event("e@example.org", f"e-open{i}", "", t + i, Kind.OPEN), None)])
    # f: a complaint and a delivery: not re-run
    store.apply("t", [(event("f@example.org", "f1", "", t, Kind.COMPLAINT), None)])


def test_a_dry_run_shows_the_changes_and_changes_nothing(store, redis_client):
    populate(store)
    assert codes(store, "b@example.org") == ["previously_bounced"]
    before = snapshot(redis_client)
    calls = []
    job = Reclassification(store, "t", second_opinion(calls), label="test")
    changes = {c.address: c for c in job.run()}
    assert snapshot(redis_client) == before
    assert calls and sum(calls) == job.totals.events == 5      # a1 b1 c1 d1 e1 (e0 was trimmed)
    assert set(changes) == {"a@example.org", "b@example.org", "c@example.org", "e@example.org"}

    a = changes["a@example.org"]
    [ev] = a.events
    assert ev["event_id"] == "a1" and ev["old"]["reason"] == "onhold" and ev["new"]["reason"] == "userunknown"
    assert (a.add, a.lift, a.kept) == (["previously_bounced"], [], [])
    b = changes["b@example.org"]
    assert b.events[0]["old"]["reason"] == "userunknown" and b.events[0]["new"]["reason"] == "blocked"
    assert (b.add, b.lift) == ([], ["previously_bounced"])
    c = changes["c@example.org"]
    assert (c.add, c.lift) == ([], []) and c.kept[0]["code"] == "previously_bounced"
    assert "person" in c.kept[0]["why"]
    e = changes["e@example.org"]
    assert (e.add, e.lift) == ([], []) and "trimmed" in e.kept[0]["why"]
    t = job.totals
    assert (t.changed_addresses, t.add, t.lift, t.kept) == (4, 1, 1, 2)


def test_apply_changes_through_the_policy_is_audited_and_idempotent(store, redis_client):
    populate(store)
    job = Reclassification(store, "t", second_opinion(), label="model:v2", actor="cli")
    changes = {c.address: c for c in job.run(apply=True)}
    assert changes["a@example.org"].applied == ["+previously_bounced"]
    assert changes["b@example.org"].applied == ["-previously_bounced"]
    assert changes["c@example.org"].applied == [] and changes["e@example.org"].applied == []

    assert codes(store, "a@example.org") == ["previously_bounced"]
    assert codes(store, "b@example.org") == []
    assert codes(store, "c@example.org") == ["previously_bounced"]        # the person's stays
    assert codes(store, "e@example.org") == ["previously_bounced"]        # its cause is trimmed away
    assert codes(store, "d@example.org") == ["previously_bounced"]

    [suppression] = store.check("t", ["a@example.org"])[0].reasons
    assert suppression["evidence"]["event_id"] == "a1" and suppression["evidence"]["reason"] == "userunknown"
    history = store.suppressions.history("t", "a@example.org")
    assert history[0]["kind"] == "reclassify" and history[0]["fx"] == ["+previously_bounced"]
    assert history[0]["classifier"] == "model:v2" and history[0]["events"] == ["a1"]
    bounce = history[1]
    assert bounce["verdict"]["reason"] == "userunknown"
    assert bounce["reclassified"]["from"]["reason"] == "onhold" and bounce["reclassified"]["classifier"] == "model:v2"
    audit = [a for a in store.suppressions.audit("t") if a["action"] == "reclassify"]
    assert sorted((a["address"], a["added"], a["lifted"]) for a in audit) == [
        ("a@example.org", ["previously_bounced"], []), ("b@example.org", [], ["previously_bounced"])]

    after = snapshot(redis_client)
    again = Reclassification(store, "t", second_opinion(), label="model:v2")
    assert list(again.run(apply=True)) == []          # the history holds the verdicts in effect now
    assert again.totals.changed_events == 0
    assert snapshot(redis_client) == after


def test_going_back_to_the_first_classifier_restores_what_it_decided(store):
    populate(store)
    list(Reclassification(store, "t", second_opinion()).run(apply=True))
    first = {"grault garply": ONHOLD, "refused by policy engine": USER_UNKNOWN}
    back = Reclassification(store, "t", lambda evs: [first.get(e.diagnostic, USER_UNKNOWN) for e in evs])
    changes = {c.address: c for c in back.run(apply=True)}
    assert changes["a@example.org"].applied == ["-previously_bounced"]
    assert changes["b@example.org"].applied == ["+previously_bounced"]
    assert codes(store, "a@example.org") == [] and codes(store, "b@example.org") == ["previously_bounced"]


def test_since_limits_what_is_re_run(store):
    populate(store)
    job = Reclassification(store, "t", second_opinion(), since=NOW)
    assert list(job.run()) == [] and job.totals.events == 0


def test_a_delivery_after_the_bounce_is_honoured_in_both_replays(store):
    t = NOW - 7200
    full = Verdict.of("mailboxfull", confidence=0.9, source="rule")
    # three full-mailbox bounces suppress (for a week); a delivery after them lifts it
    for i in range(3):
        store.apply("t", [(event("g@example.org", f"g{i}", "grault garply", t + i), full)])
    assert codes(store, "g@example.org") == ["mailbox_full"]
    store.apply("t", [(event("g@example.org", "g-ok", "", t + 60, Kind.DELIVERED), None)])
    assert codes(store, "g@example.org") == []
    # another classifier calling them missing mailboxes would suppress for good: no delivery lifts that
    [change] = Reclassification(store, "t", second_opinion()).run(apply=True)
    assert change.add == ["previously_bounced"] and codes(store, "g@example.org") == ["previously_bounced"]


def test_the_command_refuses_unknown_models_and_tenants(redis_url, store):
    from click.testing import CliRunner

    from webhook.cli import main

    env = {"REBOUND_REDIS_URL": redis_url}
    out = CliRunner().invoke(main, ["reclassify", "t", "--model", "nope"], env=env)
    assert out.exit_code == 1 and "no model 'nope'" in out.output
    out = CliRunner().invoke(main, ["reclassify", "t", "--mode", "rules", "--model", "x"], env=env)
    assert out.exit_code == 2 and "--mode rules" in out.output
    out = CliRunner().invoke(main, ["reclassify", "nobody", "--mode", "rules"], env=env)
    assert out.exit_code == 2 and "no tenant 'nobody'" in out.output      # a usage error, like a bad date
    out = CliRunner().invoke(main, ["reclassify", "t", "--since", "yesterday"], env=env)
    assert out.exit_code == 2 and "ISO 8601" in out.output


def test_rules_mode_from_the_shell_changes_what_the_model_decided(redis_url, store):
    """A stored verdict the model gave; the rules alone only have the reply code's weak default
    for that evidence: the dry run shows it, and a verdict below the policy's confidence
    suppresses nothing."""
    from click.testing import CliRunner

    from webhook.cli import main

    model_said = Verdict.of("mailboxfull", confidence=0.8, source="model", explanation=("model:mailboxfull@0.80",))
    store.apply("t", [(event("h@example.org", "h1", "Grault garply waldo fred", NOW - 60), model_said)])
    out = CliRunner().invoke(main, ["reclassify", "t", "--mode", "rules"], env={"REBOUND_REDIS_URL": redis_url})
    assert out.exit_code == 0, out.output
    change, summary = [__import__("json").loads(x) for x in out.stdout.splitlines()]
    assert change["address"] == "h@example.org" and change["add"] == change["lift"] == []
    [ev] = change["events"]
    assert ev["old"]["reason"] == "mailboxfull" and ev["new"]["reason"] == "userunknown"
    assert ev["new"]["source"] == "rule" and ev["new"]["confidence"] < 0.5
    assert summary["summary"]["classifier"] == "rules" and summary["summary"]["applied"] is False


def test_a_crash_between_a_reclassified_change_and_its_audit_is_finished_by_the_recovery_pass(store):
    """The change of an address and its audit entry are in two slots: a process that dies
    between them leaves an intent, and the recovery pass writes the audit entry with what
    the change did, once (issue 13)."""
    import store.audit as audit_module

    populate(store)
    finish = audit_module.finish_intent

    def crash(client, keys, tenant, op, entries):       # the process dies before the audit
        if entries:
            raise SystemExit
        finish(client, keys, tenant, op, entries)

    audit_module.finish_intent = crash
    try:
        with pytest.raises(SystemExit):
            list(Reclassification(store, "t", second_opinion(), label="model:v2", actor="cli").run(apply=True))
    finally:
        audit_module.finish_intent = finish
    assert not [a for a in store.r.xrevrange(store.keys.audit("t"))
                if b'"reclassify"' in a[1][b"json"]]                          # not audited yet
    assert store.suppressions.recover("t", older_than=0) == 1
    [entry] = [a for a in store.suppressions.audit("t") if a["action"] == "reclassify"]
    assert entry["by"] == "cli" and entry["classifier"] == "model:v2"
    assert (entry["added"], entry["lifted"]) in ((["previously_bounced"], []), ([], ["previously_bounced"]))
    assert store.suppressions.recover("t", older_than=0) == 0
