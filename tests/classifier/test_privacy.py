"""Echoed subjects never reach stored evidence or the model (issue 5)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from classifier.events import Event, Evidence, Kind
from classifier.parse import parse_message
from classifier.privacy import MASK, mask_subjects

from tests.conftest import FIXTURES


@pytest.mark.parametrize("text,expected", [
    ("Your message To: ann@example.org Subject: Re: your invoice 4711 Sent: 10.09.2026 did not reach",
     f"Your message To: ann@example.org Subject: {MASK} Sent: 10.09.2026 did not reach"),
    ("Full details follow: Subject: 'Nyaan' Date: 'Thu, 29 Apr 2012' 1 error(s)",
     f"Full details follow: Subject: {MASK} Date: 'Thu, 29 Apr 2012' 1 error(s)"),
    ("SUBJECT: secret plans\n550 5.1.1 user unknown", f"SUBJECT: {MASK}\n550 5.1.1 user unknown"),
    ("Subject: a\nSubject: b", f"Subject: {MASK}\nSubject: {MASK}"),
])
def test_subject_values_are_masked(text, expected):
    assert mask_subjects(text) == expected
    assert mask_subjects(expected) == expected                    # masking twice changes nothing


@pytest.mark.parametrize("text", [
    "550-5.7.1 This message is not RFC 5322 compliant. There are multiple Subject headers.",
    "554 Duplicate header field: Subject", "Subject:", "550 5.1.1 user unknown",
])
def test_text_without_an_echoed_subject_is_unchanged(text):
    assert mask_subjects(text) == text


def test_evidence_and_events_hold_no_subject():
    one = Evidence(diagnostic="Subject: Summer sale 1 550 5.1.1 user unknown", status="5.1.1")
    two = Evidence(diagnostic="Subject: Winter sale 2 550 5.1.1 user unknown", status="5.1.1")
    assert "sale" not in one.diagnostic
    assert one == two                    # the model and the verdict cache see one piece of evidence
    event = Event(tenant="t", recipient="ann@example.org", kind=Kind.BOUNCE, provider="api", event_id="e1",
                  time=datetime(2026, 11, 26, tzinfo=UTC), diagnostic="Subject: Summer sale\n550 user unknown")
    assert "Summer" not in event.diagnostic and "Summer" not in event.evidence().diagnostic


def test_a_parsed_bounce_that_echoes_the_subject_stores_no_subject():
    report = parse_message((FIXTURES / "generic-subject-echo.eml").read_bytes())
    [r] = report.recipients
    assert r.recipient == "rosa@partner.example"
    assert "invoice" not in r.evidence.diagnostic and MASK in r.evidence.diagnostic
    assert "user unknown" in r.evidence.diagnostic


def test_an_auto_reply_keeps_no_subject():
    """"Automatic reply: Product news" echoes the subject of the message it answers."""
    report = parse_message((FIXTURES / "autoreply-ooo.eml").read_bytes())
    [r] = report.recipients
    assert "Product news" not in r.evidence.diagnostic and r.evidence.provider_class == "auto-reply"
