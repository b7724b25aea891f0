"""The decision procedure over rule and model opinions (classifier/combine.py), branch by branch.

``decide`` is a pure function: these tests hand it the opinions the rule engine and the
model would give and check what comes out. The Classifier-level tests (real rule engine,
real packaged model) are in test_combine_classifier.py.
"""
from __future__ import annotations

import pytest

from classifier.combine import (
    THRESHOLDS,
    ModelOpinion,
    Opinion,
    Thresholds,
    decide,
)
from classifier.events import Evidence, Kind
from classifier.rules.engine import RuleEngine, report_verdict

EV = Evidence(diagnostic="550 something the remote said", reply_code="550")


def hardness(reason):
    return None


def rule(reason, confidence, precise):
    return Opinion("rule", reason, confidence, precise, (f"test:{reason}",))


def model(reason, p, features=("words:x +0.5",)):
    return ModelOpinion(reason, p, "test", features=lambda: features)


def test_a_settling_rule_decides_without_the_model():
    v = decide(EV, rule("userunknown", 0.95, True), None, hardness)
    assert (v.reason, v.source, v.confidence, v.review) == ("userunknown", "rule", 0.95, None)
    assert v.hard


def test_a_precise_rule_wins_over_a_confident_model():
    v = decide(EV, rule("mailboxfull", 0.8, True), model("userunknown", 0.97), hardness)
    assert v.reason == "mailboxfull" and v.source == "rule"
    # the disagreement is strong: flagged for review, confidence held back
    assert v.review == "conflict" and v.needs_review
    assert v.confidence < 0.8 * (1 - THRESHOLDS.conflict_penalty * 0.9)
    assert "conflict:model:userunknown@0.97" in v.explanation


def test_a_precise_rule_and_a_lukewarm_model_disagreeing_is_no_conflict():
    v = decide(EV, rule("mailboxfull", 0.8, True), model("userunknown", 0.6), hardness)
    assert (v.reason, v.confidence, v.review) == ("mailboxfull", 0.8, None)
    assert "over:model:userunknown@0.60" in v.explanation


def test_a_weak_rule_gives_way_to_a_confident_model():
    v = decide(EV, rule("filtered", 0.55, False), model("suspend", 0.9, ("words:deactivated +0.8",)), hardness)
    assert (v.reason, v.source, v.confidence) == ("suspend", "model", 0.9)
    assert v.category == "account_disabled"
    # the explanation says it was the model, which features, and what it overrode
    assert v.explanation[0] == "model:suspend@0.90"
    assert "words:deactivated +0.8" in v.explanation
    assert "over:rule:filtered@0.55" in v.explanation


def test_a_weak_rule_stands_when_the_model_is_not_sure_enough():
    v = decide(EV, rule("networkerror", 0.7, False), model("blocked", 0.55), hardness)
    assert (v.reason, v.source, v.confidence) == ("networkerror", "rule", 0.7)
    assert "unsure:model:blocked@0.55" in v.explanation


def test_a_weak_rule_more_confident_than_the_model_stands():
    v = decide(EV, rule("expired", 0.89, False), model("systemerror", 0.8), hardness)
    assert (v.reason, v.source) == ("expired", "rule")


def test_the_model_saying_undecided_does_not_override_a_rule():
    v = decide(EV, rule("blocked", 0.5, False), model("undefined", 0.95), hardness)
    assert (v.reason, v.source) == ("blocked", "rule")


def test_agreement_is_combined_and_more_confident_than_either_witness():
    v = decide(EV, rule("spamdetected", 0.7, True), model("spamdetected", 0.8), hardness)
    assert v.source == "combined" and v.reason == "spamdetected"
    assert v.confidence == pytest.approx(1 - 0.3 * 0.2)
    assert v.confidence > 0.8 and v.review is None
    assert v.explanation == ("test:spamdetected", "model:spamdetected@0.80")
    capped = decide(EV, rule("spamdetected", 0.84, True), model("spamdetected", 0.999), hardness)
    assert capped.confidence == THRESHOLDS.agree_cap


def test_both_unsure_is_onhold_with_low_confidence_for_review():
    v = decide(EV, rule("securityerror", 0.3, False), model("blocked", 0.4), hardness)
    assert (v.reason, v.category) == ("onhold", "unknown")
    assert v.confidence <= THRESHOLDS.abstain and v.review == "unknown"
    assert v.explanation[0] == "abstained:securityerror@0.30"


def test_no_rule_and_an_unsure_model_keeps_the_guess_but_asks_for_review():
    v = decide(EV, rule("onhold", 0.15, False), model("blocked", 0.45), hardness)
    assert (v.reason, v.source, v.review) == ("blocked", "model", "low-confidence")
    nothing = decide(EV, rule("onhold", 0.15, False), model("blocked", 0.2), hardness)
    assert (nothing.reason, nothing.review) == ("onhold", "unknown")


def test_the_model_alone_suppresses_only_when_suppress_sure():
    """A hard reason suppresses for good on one bounce: a guess of one is no verdict."""
    t = THRESHOLDS
    below = (t.decide + t.suppress) / 2
    for side in (None, rule("onhold", 0.2, False), Opinion("provider", "onhold", 0.5, False, ("provider:x",))):
        v = decide(EV, side, model("userunknown", below), hardness)
        assert (v.reason, v.category, v.review) == ("onhold", "unknown", "unknown"), side
        assert not v.hard and v.confidence <= t.abstain
        assert v.explanation[0] == f"abstained:model:userunknown@{below:.2f}"
    sure = decide(EV, rule("onhold", 0.2, False), model("userunknown", t.suppress), hardness)
    assert (sure.reason, sure.hard, sure.source) == ("userunknown", True, "model")
    # a soft reason as unsure still stands, for review: it suppresses nothing at once
    soft = decide(EV, None, model("mailboxfull", below), hardness)
    assert (soft.reason, soft.source) == ("mailboxfull", "model")
    # the evidence makes the reason soft (a 4xx): the bar does not apply
    v = decide(EV, None, model("userunknown", below), lambda r: False)
    assert (v.reason, v.hard) == ("userunknown", False)


def test_empty_evidence_is_undefined_not_onhold():
    empty = Evidence()
    v = decide(empty, rule("undefined", 0.1, False), model("onhold", 0.9), hardness)
    assert (v.reason, v.category, v.review) == ("undefined", "unknown", "unknown")
    assert v.confidence <= THRESHOLDS.abstain


def test_rules_only_and_model_only_inputs():
    assert decide(EV, rule("blocked", 0.9, True), None, hardness).source == "rule"
    v = decide(EV, None, model("mailboxfull", 0.93), hardness)
    assert (v.reason, v.source, v.confidence) == ("mailboxfull", "model", 0.93)


def test_a_provider_classification_is_one_more_input_beside_the_rules():
    provider = Opinion("provider", "mailboxfull", 0.8, True, ("provider:ses:Transient/MailboxFull",))
    v = decide(EV, rule("onhold", 0.3, False), None, hardness, provider=provider)
    assert (v.reason, v.source) == ("mailboxfull", "provider")
    # a precise rule still outranks an equally precise but less confident provider class
    v = decide(EV, rule("userunknown", 0.95, True), None, hardness, provider=provider)
    assert (v.reason, v.source) == ("userunknown", "rule")


def test_hardness_comes_from_the_evidence():
    soft = decide(EV, None, model("userunknown", 0.9), lambda r: False)
    assert soft.reason == "userunknown" and not soft.hard


def test_reports_settle_themselves():
    assert report_verdict(Evidence(kind=Kind.COMPLAINT)).reason == "feedback"
    assert report_verdict(Evidence(kind=Kind.DELIVERED)).reason == "delivered"
    assert report_verdict(Evidence(diagnostic="Out of office", provider_class="auto-reply")).reason == "vacation"
    assert report_verdict(EV) is None


@pytest.mark.parametrize("evidence", [Evidence(kind=Kind.COMPLAINT), Evidence(kind=Kind.DELIVERED),
                                      Evidence(diagnostic="Out of office", provider_class="Auto-Reply")])
def test_the_rule_engine_answers_reports_with_the_same_verdict(evidence):
    """One definition of a report's verdict (issue 9): the rule engine's is the same one."""
    result = RuleEngine().evaluate(evidence)
    assert result.verdict == report_verdict(evidence) and result.precise


def test_the_thresholds_are_the_table_the_procedure_reads():
    strict = Thresholds(decide=0.95)
    v = decide(EV, rule("filtered", 0.55, False), model("suspend", 0.9), hardness, t=strict)
    assert (v.reason, v.source) == ("filtered", "rule")
    lenient = Thresholds(abstain=0.2, review=0.25)
    v = decide(EV, rule("securityerror", 0.3, False), model("blocked", 0.4), hardness, t=lenient)
    assert (v.reason, v.review) == ("securityerror", None)


def test_a_precise_rule_below_firm_gives_way_to_a_confident_model():
    """A rule written from one corpus reading another system's words: precise, not sure."""
    below = THRESHOLDS.firm - 0.1
    v = decide(EV, rule("mailboxfull", below, True), model("userunknown", 0.9), hardness)
    assert (v.reason, v.source) == ("userunknown", "model")
    v = decide(EV, rule("mailboxfull", THRESHOLDS.firm, True), model("userunknown", 0.9), hardness)
    assert v.reason == "mailboxfull"

