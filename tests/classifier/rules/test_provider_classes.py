"""The ESP's classification is evidence: it decides when our rules cannot, agrees to raise
confidence, and stops a sender-side or temporary failure from suppressing a recipient."""
from __future__ import annotations

import pytest

from classifier.engine import Classifier
from classifier.events import Evidence, Kind
from classifier.rules import provider_classes as pc
from classifier.taxonomy import CATEGORY_OF
from classifier.verdict import Verdict

classify = Classifier().classify
RECIPIENT = {"nonexistent_account", "account_disabled", "mailbox_full", "domain_misconfigured"}


def test_weak_rules_give_way_to_the_provider():
    v = classify(Evidence(diagnostic="", provider_class="sparkpost:bounce_class=10"))
    assert (v.reason, v.source, v.hard) == ("userunknown", "provider", True)


def test_agreement_raises_confidence():
    alone = classify(Evidence(diagnostic="", status="5.1.1"))
    both = classify(Evidence(diagnostic="", status="5.1.1", provider_class="ses:Permanent/NoEmail"))
    assert both.reason == alone.reason == "userunknown"
    assert both.source == "combined" and both.confidence > alone.confidence


def test_a_confident_rule_keeps_its_reason():
    v = classify(Evidence(diagnostic="552 5.2.2 mailbox full", status="5.2.2", provider_class="sendgrid:bounce"))
    assert v.reason == "mailboxfull" and v.source == "rule"


@pytest.mark.parametrize("provider_class", ["sendgrid:blocked", "sendgrid:blocked/Invalid Address",
                                            "mailgun:temporary/espblock", "mailgun:permanent/espblock",
                                            "sparkpost:bounce_class=51", "postmark:Blocked"])
def test_sender_side_blocks_never_give_a_recipient_reason(provider_class):
    v = classify(Evidence(diagnostic="550 5.1.1 user unknown", status="5.1.1", provider_class=provider_class))
    assert v.category not in RECIPIENT and v.hard is False


@pytest.mark.parametrize("provider_class", ["mailgun:temporary/generic", "ses:Transient/General",
                                            "sparkpost:bounce_class=20", "mailjet:recipient/user unknown (soft)",
                                            "brevo:soft_bounce"])
def test_temporary_failures_are_never_hard(provider_class):
    v = classify(Evidence(diagnostic="550 5.1.1 user unknown", status="5.1.1", provider_class=provider_class))
    assert v.reason == "userunknown" and v.hard is False


def test_unknown_classifications_change_nothing():
    ev = Evidence(diagnostic="550 5.1.1 user unknown", status="5.1.1")
    assert classify(Evidence(**{**_fields(ev), "provider_class": "acme:whatever"})) == classify(ev)


def test_lookup_falls_back_to_the_general_class():
    assert pc.lookup("sendgrid:blocked/A New Classification")[:3] == ("blocked", 0.6, pc.SENDER)
    assert pc.lookup("SES:Permanent/NoEmail")[0] == "userunknown"
    assert pc.lookup("nobody:knows") is None


def test_every_row_is_valid_and_sender_rows_never_suppress():
    for key, (reason, confidence, constraint) in pc.PROVIDER_CLASSES.items():
        assert 0 <= confidence <= 1
        if reason and constraint == pc.SENDER:
            assert CATEGORY_OF[reason] not in RECIPIENT, key
    pc.PROVIDER_CLASSES["test:bad"] = ("userunknown", 0.9, pc.SENDER)
    try:
        with pytest.raises(ValueError, match="SENDER row"):
            pc._check_table()
    finally:
        del pc.PROVIDER_CLASSES["test:bad"]


def test_constraints_bind_any_verdict():
    hard = Verdict.of("userunknown", confidence=0.9, source="model")
    assert pc.constrain(hard, "ses:Transient").hard is False
    assert pc.constrain(hard, "sendgrid:blocked").category not in RECIPIENT
    assert pc.constrain(hard, "ses:Permanent/NoEmail") == hard
    assert pc.provider_verdict("ses:Permanent/NoEmail").reason == "userunknown"
    assert pc.provider_verdict("ses:Transient") is None


def test_deferral_kind_is_still_classified_with_the_provider():
    v = classify(Evidence(diagnostic="", kind=Kind.DEFERRAL, provider_class="ses:DeliveryDelay/MailboxFull"))
    assert v.reason == "mailboxfull" and v.hard is False


def _fields(ev: Evidence) -> dict:
    return {f: getattr(ev, f) for f in Evidence.__slots__}


def test_an_esp_hard_bounce_settles_the_unstated_smtp_phase():
    """"User unknown" text without a stated phase is a missing mailbox, except from a filter
    gateway, whose "user unknown" may be its filter's refusal (classifier.rules.engine); an
    ESP that files it as a hard bounce of an invalid address settles that doubt, a block
    never does."""
    assert classify(Evidence(diagnostic="500 unknown recipient", status="5.0.0")).reason == "userunknown"
    text = Evidence(diagnostic="500 unknown recipient", status="5.0.0", provider="mxlogic")
    assert classify(text).reason == "filtered"
    v = classify(Evidence(**{**_fields(text), "provider_class": "sendgrid:bounce/Invalid Address"}))
    assert (v.reason, v.hard, v.source) == ("userunknown", True, "combined")
    blocked = classify(Evidence(**{**_fields(text), "provider_class": "sendgrid:blocked/Invalid Address"}))
    assert blocked.category not in RECIPIENT


def test_the_provider_opinion_and_verdict_are_one_reading():
    """The classifier's provider opinion and the provider's own verdict come from one reading
    of the table (issue 9): same reason, confidence and explanation."""
    for cls in ("ses:Permanent/NoEmail", "sendgrid:bounce/invalid address", "sendgrid:bounce"):
        opinion = Classifier(mode="rules").provider_opinion(Evidence(diagnostic="x", provider_class=cls,
                                                                     kind=Kind.BOUNCE))
        verdict = pc.provider_verdict(cls)
        assert (opinion.reason, opinion.confidence, opinion.explanation) == \
            (verdict.reason, verdict.confidence, verdict.explanation)
