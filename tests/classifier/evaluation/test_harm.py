"""Missed and false suppressions: counted as the store would act on one bounce."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from classifier.evaluation.harm import verdict_suppresses
from classifier.evaluation.scoring import by, figures, outcomes
from classifier.evaluation.sets import Entry
from classifier.evaluation.verdicts import Answer
from classifier.events import Event, Kind
from classifier.taxonomy import REASONS
from classifier.verdict import Verdict
from store.policy import plan, policy_from_overrides


@pytest.mark.parametrize("reason", sorted(r for r, v in REASONS.items() if v.hard is not None))
@pytest.mark.parametrize("hard,confidence", [(True, 0.9), (True, 0.45), (False, 0.9)])
def test_suppresses_exactly_when_the_default_policy_suppresses_at_once(reason, hard, confidence):
    """The evaluation restates the store's rule (the classifier may not import the store);
    this keeps the two the same: one bounce with this verdict suppresses, or not."""
    verdict = Verdict.of(reason, confidence=confidence, source="rule", hard=hard)
    event = Event("t", "a@example.org", Kind.BOUNCE, "api", "e1", datetime(2026, 1, 1, tzinfo=timezone.utc))
    ops = plan(event, verdict, policy_from_overrides(None))
    store_says = any(op.get("sup") and op["n"] == 1 for op in ops)
    assert verdict_suppresses(verdict.reason, verdict.hard, verdict.confidence) == store_says


def _entry(family, *expected, path="m.eml"):
    return Entry("s", family, f"{family}/{len(expected)}", tuple(expected), path=path)


def _want(rcpt, reason, hard):
    return {"recipient": rcpt, "reason": reason, "hardbounce": hard}


def _got(rcpt, reason, hard, confidence=0.9):
    return Answer(rcpt, reason, REASONS[reason].category if reason else None, hard, confidence)


def test_missed_and_false_suppressions_are_counted_per_recipient():
    dead = _entry("fam-a", _want("a@x.org", "userunknown", True), _want("b@x.org", "userunknown", True),
                  _want("c@x.org", "hostunknown", True))
    answered = [_got("a@x.org", "filtered", False),            # a dead address left sendable
                _got("b@x.org", "userunknown", True, 0.4),     # too unsure to suppress: missed
                _got("c@x.org", "hostunknown", True)]          # right
    blocked = _entry("fam-b", _want("d@y.org", "blocked", False))
    wrongly = [_got("d@y.org", "userunknown", True),           # a block read as a dead address
               _got("list@y.org", "userunknown", True)]        # an address nobody failed for
    outs = outcomes(dead, answered) + outcomes(blocked, wrongly)
    f = figures(outs)
    assert (f["n"], f["missed"], f["false"]) == (4, 2, 2)
    assert f["category"] == 0.5 and f["recipient_exact"] == 1.0
    fams = by(outs, lambda o: o.family)
    assert (fams["fam-a"]["missed"], fams["fam-a"]["false"]) == (2, 0)
    assert (fams["fam-b"]["missed"], fams["fam-b"]["false"], fams["fam-b"]["n"]) == (0, 2, 1)


def test_a_recipient_not_found_is_a_miss_and_a_wrong_address_is_not_exact():
    entry = _entry("f", _want("a@x.org", "userunknown", True), _want("b@x.org", "mailboxfull", False))
    f = figures(outcomes(entry, [_got("someone-else@x.org", "mailboxfull", False)]))
    # paired in order: the mailboxfull answer goes to a@x.org (wrong address, wrong reason);
    # b@x.org got nothing; a@x.org's death is missed
    assert f == {"n": 2, "category": 0.0, "reason": 0.0, "recipients": 2, "recipient_exact": 0.0,
                 "missed": 1, "false": 0}


def test_reply_texts_have_no_recipient_figure():
    entry = Entry("zonemta", "zonemta", "r:1", (_want(None, "blocked", False),), text="550 blocked")
    f = figures(outcomes(entry, [Answer(None, "blocked", "sender_blocked", False, 0.9)]))
    assert f["recipients"] == 0 and f["recipient_exact"] is None and f["reason"] == 1.0
