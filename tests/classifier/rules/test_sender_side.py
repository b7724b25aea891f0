"""Refusals of the *sender* (its address, its host) are never read as a recipient failure
(issue 1): the SMTP phase, an X.1.7/X.1.8 status or a sender-refusal statement says who
was refused, whatever recipient-level words ("user unknown", "domain not found") follow."""
from __future__ import annotations

import pytest

from classifier.engine import Classifier
from classifier.events import Evidence, Kind
from classifier.parse import parse_message
from classifier.rules.engine import RuleEngine, constrain_party
from classifier.taxonomy import SENDER_SIDE
from classifier.verdict import Verdict
from tests.conftest import FIXTURES


def rules(diagnostic, status=None, phase=None):
    return RuleEngine().evaluate(Evidence(diagnostic=diagnostic, status=status, smtp_phase=phase,
                                          kind=Kind.BOUNCE)).verdict


@pytest.mark.parametrize("diagnostic,status,phase", [
    # the phase: the server answered MAIL FROM
    ("550 5.1.1 <news@shop.example>... User unknown (in reply to MAIL FROM command)", "5.1.1", "MAIL"),
    ("553 Domain not found", None, "MAIL"),
    # the status: X.1.7 / X.1.8 are about the sender's address, whatever the words
    ("550 5.1.7 <news@shop.example>: User unknown in local recipient table", "5.1.7", None),
    ("553 5.1.8 <news@shop.example>: Domain not found", "5.1.8", None),
    # the statement: the sender was refused, although the reply also says "user unknown"
    ("550 5.1.1 <news@shop.example>: Sender address rejected: User unknown in virtual mailbox table", "5.1.1", "RCPT"),
    ("550-Verification failed for <news@shop.example> 550-Response: 550 5.1.1 user unknown 550 Sender verify failed",
     "5.1.1", "RCPT"),
    ("550 Callout verification failure for sender <news@shop.example>: mailbox does not exist", None, None),
    ("550 Sender domain shop.example does not exist", None, None),
])
def test_refusals_of_the_sender_are_rejected_not_a_recipient_failure(diagnostic, status, phase):
    v = rules(diagnostic, status, phase)
    assert v.reason == "rejected" and v.category in SENDER_SIDE and not v.hard


@pytest.mark.parametrize("diagnostic,phase", [
    ("550 5.1.1 mailbox unavailable (in reply to EHLO command)", "HELO"),
    ("554 5.7.1 user unknown", "CONN"),
])
def test_refusals_of_the_sending_host_are_blocked(diagnostic, phase):
    v = rules(diagnostic, phase=phase)
    assert v.reason == "blocked" and v.category in SENDER_SIDE


def test_recipient_failures_stay_recipient_failures():
    assert rules("550 5.1.1 <rosa@partner.example>: Recipient address rejected: User unknown", "5.1.1",
                 "RCPT").reason == "userunknown"
    # a recipient callout (the relay checked the *recipient* downstream) is not the sender's
    assert rules("550-Callout verification failed: 550 5.1.1 user unknown", "5.1.1", "RCPT").reason == "userunknown"


def test_any_recipient_verdict_is_bound_by_the_phase_whoever_gave_it():
    """The model's verdict too: the conversation showed the sender was refused."""
    e = Evidence(diagnostic="553 unbekannt", status="5.1.8", kind=Kind.BOUNCE)
    model_says = Verdict.of("userunknown", confidence=0.8, source="model", explanation=("model:userunknown@0.80",))
    v = constrain_party(e, model_says)
    assert v.reason == "rejected" and not v.hard and v.source == "model"
    assert constrain_party(Evidence(diagnostic="x", status="5.1.1", smtp_phase="RCPT"), model_says) is model_says


def test_a_sender_verify_bounce_names_the_recipient_and_does_not_blame_it():
    report = parse_message((FIXTURES / "exim-sender-verify.eml").read_bytes())
    [r] = report.recipients
    assert r.recipient == "rosa@partner.example"
    v = Classifier().classify(r.evidence)
    assert v.reason == "rejected" and v.category in SENDER_SIDE and not v.hard
