"""The policy is data: these tests change the data and watch the store follow it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from classifier import Classifier, Event, Kind
from store import Store
from store.policy import DEFAULT_POLICY, plan, policy_from_overrides

# Suppression ends are relative to the event's time and the store prunes what has ended by
# the wall clock, so the scenarios are placed in the recent past, not at a fixed date.
NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(hours=12)


def event(kind=Kind.BOUNCE, status="5.1.1", at=T0, eid="e", **kw) -> Event:
    return Event(tenant="t", recipient="a@example.org", kind=kind, provider="api", event_id=eid, time=at,
                 status=status, **kw)


def verdict(e: Event):
    return Classifier().classify(e.evidence())


def test_hard_bounce_plans_an_immediate_permanent_suppression():
    e = event()
    [op] = plan(e, verdict(e), DEFAULT_POLICY)
    assert op["op"] == "count" and op["n"] == 1
    assert op["sup"]["key"] == "previously_bounced" and "u" not in op["sup"]


def test_deferrals_do_not_count_unless_the_policy_says_so():
    e = event(Kind.DEFERRAL, "4.2.2")
    assert plan(e, verdict(e), DEFAULT_POLICY) == []
    counting = policy_from_overrides({"count_deferrals": True})
    assert plan(e, verdict(e), counting)[0]["sup"]["key"] == "mailbox_full"


def test_sender_side_failures_never_touch_the_recipient():
    e = event(status="5.7.26")     # DMARC failure: the sender's problem
    v = verdict(e)
    assert v.category == "auth_failure"
    assert plan(e, v, DEFAULT_POLICY) == []


def test_low_confidence_verdicts_do_not_suppress():
    e = event(status=None, reply_code="550")       # a bare 550 says little
    assert verdict(e).confidence < DEFAULT_POLICY.min_confidence
    assert plan(e, verdict(e), DEFAULT_POLICY) == []


def test_invalid_overrides_are_refused_with_a_reason():
    with pytest.raises(ValidationError, match="unknown suppression reason"):
        policy_from_overrides({"bounces": {"mailbox_full": {"suppress": "mailbox_ful"}}})
    with pytest.raises(ValidationError, match="unknown bounce categories"):
        policy_from_overrides({"bounces": {"mailboxfull": {"suppress": "mailbox_full"}}})
    with pytest.raises(ValidationError):
        policy_from_overrides({"min_confidence": 2})


@pytest.fixture
def store(redis_client):
    return Store(redis_client)


def apply(store, *events):
    return store.apply("t", [(e, verdict(e)) for e in events])


def codes(store, address="a@example.org", now=None, **kw):
    return [r["code"] for r in store.check("t", [address], now=now, **kw)[0].reasons]


def test_soft_bounces_outside_the_window_do_not_add_up(store):
    start = NOW - timedelta(days=20)
    days = [0, 8, 16]                                  # mailbox_full: 3 within 7 days
    apply(store, *[event(status="5.2.2", at=start + timedelta(days=d), eid=f"f{d}") for d in days])
    assert codes(store) == []
    apply(store, event(status="5.2.2", at=start + timedelta(days=17), eid="f17"),
          event(status="5.2.2", at=start + timedelta(days=18), eid="f18"))
    assert codes(store) == ["mailbox_full"]


def test_temporary_suppression_expires(store):
    apply(store, *[event(status="5.2.2", at=T0 + timedelta(hours=h), eid=f"h{h}") for h in (0, 1, 2)])
    assert codes(store, now=(T0 + timedelta(days=6)).timestamp()) == ["mailbox_full"]
    assert codes(store, now=(T0 + timedelta(days=7, hours=3)).timestamp()) == []


def test_a_soft_bounce_reported_after_its_suppression_would_have_ended_changes_nothing(store):
    old = NOW - timedelta(days=30)
    apply(store, *[event(status="5.2.2", at=old + timedelta(hours=h), eid=f"h{h}") for h in (0, 1, 2)])
    assert codes(store) == []


def test_delivered_lifts_soft_suppressions_and_resets_counters(store):
    apply(store, *[event(status="5.2.2", at=T0 + timedelta(hours=h), eid=f"h{h}") for h in (0, 1, 2)])
    result = apply(store, event(Kind.DELIVERED, None, at=T0 + timedelta(hours=3), eid="d"))
    assert codes(store) == []
    assert result.effects == [["-mailbox_full"]]
    # the counter restarted: two more full-mailbox bounces are not enough
    apply(store, *[event(status="5.2.2", at=T0 + timedelta(hours=h), eid=f"g{h}") for h in (4, 5)])
    assert codes(store) == []


def test_a_late_delivered_event_does_not_lift_a_newer_suppression(store):
    apply(store, *[event(status="5.2.2", at=T0 + timedelta(hours=h), eid=f"h{h}") for h in (0, 1, 2)])
    apply(store, event(Kind.DELIVERED, None, at=T0 - timedelta(days=1), eid="old-delivery"))
    assert codes(store) == ["mailbox_full"]


def test_a_hard_bounce_is_not_lifted_by_a_delivery_by_default(store):
    apply(store, event(), event(Kind.DELIVERED, None, at=T0 + timedelta(hours=1), eid="d"))
    assert codes(store) == ["previously_bounced"]


def test_tenant_overrides_change_the_outcome(store):
    store.set_policy_overrides("t", {"bounces": {"nonexistent_account": {"hard_after": 2}}})
    apply(store, event())
    assert codes(store) == []
    apply(store, event(eid="second", at=T0 + timedelta(days=1)))
    assert codes(store) == ["previously_bounced"]
