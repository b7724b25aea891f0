"""A quota on what the sender may send is rate limiting, not a full mailbox (issue 2):
only the mailbox's own quota is ``mailboxfull``, which suppresses the recipient."""
from __future__ import annotations

import pytest

from classifier.engine import Classifier
from classifier.events import Evidence, Kind
from classifier.taxonomy import SENDER_SIDE


def classify(diagnostic, status=None):
    return Classifier(mode="rules").classify(Evidence(diagnostic=diagnostic, status=status, kind=Kind.BOUNCE))


@pytest.mark.parametrize("diagnostic,status", [
    ("550 Daily sending quota exceeded", None),
    ("550 5.2.2 Message limit exceeded", "5.2.2"),
    ("554 You have exceeded your sending limit for today", None),
    ("452 4.2.2 Quota exceeded for outgoing messages, try again later", "4.2.2"),
    ("550 5.7.1 Hourly message limit reached for this account", "5.7.1"),
    ("550 Your account has reached its daily limit of 500 messages", None),
])
def test_sending_quotas_are_speeding(diagnostic, status):
    v = classify(diagnostic, status)
    assert v.reason == "speeding" and v.category in SENDER_SIDE and not v.hard


@pytest.mark.parametrize("diagnostic,status", [
    ("552 5.2.2 Mailbox quota exceeded", "5.2.2"),
    ("452 4.2.2 <ann@example.org>: user quota exceeded", "4.2.2"),
    ("552 5.2.2 The email account that you tried to reach is over quota", "5.2.2"),
    ("550 Mailbox full: disk quota exceeded", None),
])
def test_mailbox_quotas_stay_mailboxfull(diagnostic, status):
    assert classify(diagnostic, status).reason == "mailboxfull"
