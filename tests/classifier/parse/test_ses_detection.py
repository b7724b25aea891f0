"""Amazon SES's module is trusted (its detector alone lets a message be read as a report),
so it must rest on the headers SES's mail really carries (issue 8): a message that only
quotes SES's JSON or talks about SES is not SES's bounce."""
from __future__ import annotations

import pytest

from classifier.parse import mta, parse_message
from classifier.parse.load import load
from tests.conftest import FIXTURES

SES_JSON = ('{"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General", '
            '"bouncedRecipients": [{"emailAddress": "olga@example.ru", "status": "5.1.1", '
            '"diagnosticCode": "smtp; 550 5.1.1 user does not exist"}]}, "mail": {"source": "hello@sender.example"}}')


def message(headers: str, body: str = SES_JSON) -> bytes:
    return (headers.strip() + "\nTo: ops@sender.example\nDate: Mon, 23 Mar 2026 08:00:02 +0000\n"
            "Content-Type: text/plain; charset=UTF-8\n\n" + body + "\n").encode()


def test_a_forwarded_ses_notification_is_not_an_ses_bounce():
    raw = message("From: Colleague <pat@sender.example>\nSubject: Fwd: what does this mean?")
    assert mta.detect(load(raw)) is None or mta.detect(load(raw)).name != "amazonses"
    report = parse_message(raw)
    assert report.recipients == () or all(r.recipient != "olga@example.ru" for r in report.recipients)


@pytest.mark.parametrize("headers", [
    "From: AWS Notifications <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message",
    "From: MAILER-DAEMON@email-bounces.amazonses.com\nSubject: Delivery Status Notification (Failure)",
    "From: Mailer <bounce@sender.example>\nReturn-Path: <0102018e-aaaa@eu-west-1.amazonses.com>\nSubject: x",
    "From: Mailer <bounce@sender.example>\nX-SES-Configuration-Set: main\nSubject: x",
    "From: Mailer <bounce@sender.example>\nReceived: from a8-12.smtp-out.amazonses.com (a8-12.smtp-out.amazonses.com)"
    " by mx.sender.example\nSubject: x",
])
def test_ses_header_evidence_is_recognised(headers):
    raw = message(headers)
    assert mta.detect(load(raw)).name == "amazonses"
    [r] = parse_message(raw).recipients
    assert r.recipient == "olga@example.ru"


def test_the_packaged_ses_fixtures_still_read_as_ses():
    for name in ("ses-sns-json.eml", "ses-quoted-printable.eml"):
        assert parse_message((FIXTURES / name).read_bytes()).message.provider == "amazonses"
