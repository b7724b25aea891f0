"""Amazon SES refusing an unverified identity is the sending account's failure (issue 4):
never ``norelaying`` (a recipient-domain category that suppresses permanently)."""
from __future__ import annotations

import pytest

from classifier.engine import Classifier
from classifier.events import Evidence, Kind
from classifier.parse import parse_message
from classifier.taxonomy import SENDER_SIDE
from tests.conftest import FIXTURES


@pytest.mark.parametrize("mode", ["combined", "rules"])
def test_unverified_identity_is_a_sender_side_rejection(mode):
    e = Evidence(diagnostic="554 Message rejected: Email address is not verified. The following identities failed "
                            "the check in region US-EAST-1: billing@shop.example", reply_code="554", kind=Kind.BOUNCE)
    v = Classifier(mode=mode).classify(e)
    assert v.reason == "rejected" and v.category in SENDER_SIDE and not v.hard


def test_relay_refusals_are_still_norelaying():
    v = Classifier(mode="rules").classify(Evidence(diagnostic="554 5.7.1 <a@b.example>: Relay access denied",
                                                   status="5.7.1", smtp_phase="RCPT", kind=Kind.BOUNCE))
    assert v.reason == "norelaying"


def test_an_ses_sandbox_bounce_names_the_recipient_and_does_not_blame_it():
    report = parse_message((FIXTURES / "postfix-ses-unverified.eml").read_bytes())
    [r] = report.recipients
    assert r.recipient == "mei@customer.example"          # not the unverified identity named in the text
    v = Classifier().classify(r.evidence)
    assert v.reason == "rejected" and v.category in SENDER_SIDE and not v.hard
