"""Parsing of each report family, on fixtures written for these tests (tests/fixtures)."""
from __future__ import annotations

import pytest

from classifier.engine import Classifier
from classifier.events import Kind
from classifier.parse import parse_message
from tests.conftest import FIXTURES


def parse(name: str):
    return parse_message((FIXTURES / name).read_bytes())


def verdicts(name: str):
    report = parse(name)
    c = Classifier()
    return report, [(r, c.classify(r.evidence)) for r in report.recipients]


# file, recipient, status, reason, hard, provider
CASES = [
    ("postfix-userunknown.eml", "ada@example.net", "5.1.1", "userunknown", True, "postfix"),
    ("sendmail-mailboxfull.eml", "grace@example.org", "5.2.2", "mailboxfull", False, "sendmail"),
    ("exim-sender-rejected.eml", "linus@example.com", "5.1.8", "rejected", False, "exim"),
    ("qmail-hostunknown.eml", "margaret@no-such-domain.example", "5.1.2", "hostunknown", True, "qmail"),
    ("gmail-ratelimited.eml", "alan@example.edu", "5.1.1", "speeding", False, "gmail"),
    ("office365-s3150.eml", "barbara@contoso.example", "5.7.1", "blocked", False, "office365"),
    ("exchange2003-plain.eml", "edsger@corp.example.com", None, "userunknown", True, "exchange"),
    ("opensmtpd-expired.eml", "ken@example.net", None, "expired", False, "opensmtpd"),
    ("delayed-dsn.eml", "radia@example.com", "4.4.1", "expired", False, "postfix"),
    ("delivered-dsn.eml", "john@example.com", "2.0.0", "delivered", False, "postfix"),
    ("arf-abuse.eml", "katherine@isp.example", None, "feedback", False, "arf"),
    ("autoreply-ooo.eml", "tim@example.org", None, "vacation", False, "autoreply"),
    ("iso2022jp-ndr.eml", "taro@example.jp", "5.1.1", "userunknown", True, "qmail"),
    ("shiftjis-base64-ndr.eml", "hanako@example.ne.jp", "5.2.2", "mailboxfull", False, "generic"),
    ("ses-quoted-printable.eml", "ines@example.pt", "5.2.2", "mailboxfull", False, "amazonses"),
    ("ses-sns-json.eml", "olga@example.ru", "5.1.1", "userunknown", True, "amazonses"),
    ("broken-boundary.eml", "barbara@example.com", "5.2.2", "mailboxfull", False, "postfix"),
    ("forwarded-bounce.eml", "donald@example.org", "5.1.1", "userunknown", True, "generic"),
    ("courier-quota.eml", "niklaus@example.org", "4.2.2", "mailboxfull", False, "courier"),
    ("domino-userunknown.eml", "jean.sammet@acme.example", None, "userunknown", True, "domino"),
    ("yahoo-deferred.eml", "anita@yahoo.com", "4.7.0", "badreputation", False, "yahoo"),
]


@pytest.mark.parametrize("name,recipient,status,reason,hard,provider", CASES, ids=[c[0] for c in CASES])
def test_each_family_yields_recipient_code_and_reason(name, recipient, status, reason, hard, provider):
    report, found = verdicts(name)
    assert len(found) == 1, [r.recipient for r, _ in found]
    result, verdict = found[0]
    assert result.recipient == recipient
    assert result.evidence.status == status
    assert result.evidence.provider == provider
    assert verdict.reason == reason, verdict.explanation
    assert verdict.hard is hard
    assert verdict.explanation, "every verdict says which rules decided it"


def test_postfix_dsn_carries_phase_remote_mta_and_correlation():
    report = parse("postfix-userunknown.eml")
    (r,) = report.recipients
    e = r.evidence
    assert e.kind is Kind.BOUNCE and r.action == "failed"
    assert e.smtp_phase == "RCPT"
    assert e.remote_mta == "mx1.example.net"
    assert e.reply_code == "550"
    # the diagnostic is unfolded onto one line
    assert "\n" not in e.diagnostic and "User unknown in virtual mailbox table" in e.diagnostic
    m = report.message
    assert m.format == "dsn" and m.reporting_mta == "relay1.sender.example"
    assert m.arrival_date.startswith("Tue, 10 Mar 2026")
    assert m.original_message_id == "march-update-7781@sender.example"
    assert m.correlation["x-message-id"] == "send-7781-ada"
    assert m.correlation["x-campaign-id"] == "spring-2026"
    assert m.correlation["list-id"] == "<news.sender.example>"
    # the bounce went to a VERP return path that names the recipient
    assert m.verp_recipient == "ada@example.net"
    assert m.original_sender == "bounces+ada=example.net@mail.sender.example"
    assert report.is_bounce


def test_exim_text_ndr_states_the_mail_from_phase():
    (r,) = parse("exim-sender-rejected.eml").recipients
    assert r.evidence.smtp_phase == "MAIL"
    assert r.evidence.reply_code == "553"
    assert "Sender address rejected" in r.evidence.diagnostic


def test_sendmail_transcript_gives_data_phase():
    (r,) = parse("sendmail-mailboxfull.eml").recipients
    assert r.evidence.smtp_phase == "DATA"
    assert r.last_attempt.startswith("Wed, 11 Mar 2026")


def test_gmail_diagnostic_is_the_remote_answer_not_googles_prose():
    (r,) = parse("gmail-ratelimited.eml").recipients
    assert r.evidence.diagnostic.startswith("550-5.1.1 Too many recipients this hour")
    assert "Google tried" not in r.evidence.diagnostic


def test_phase_from_a_transcript_inside_the_block():
    (r,) = parse("courier-quota.eml").recipients
    assert r.evidence.smtp_phase == "RCPT" and r.evidence.kind is Kind.DEFERRAL
    (y,) = parse("yahoo-deferred.eml").recipients
    assert y.evidence.smtp_phase == "RCPT"          # Yahoo's "[RCPT_TO]" tag


def test_deferral_and_delivery_kinds():
    (delayed,) = parse("delayed-dsn.eml").recipients
    assert delayed.evidence.kind is Kind.DEFERRAL and delayed.action == "delayed"
    (delivered,) = parse("delivered-dsn.eml").recipients
    assert delivered.evidence.kind is Kind.DELIVERED
    assert not parse("delivered-dsn.eml").is_bounce


def test_arf_complaint_has_feedback_type_and_original():
    report = parse("arf-abuse.eml")
    (r,) = report.recipients
    assert r.evidence.kind is Kind.COMPLAINT
    assert r.feedback_type == "abuse" and report.message.feedback_type == "abuse"
    assert report.message.original_message_id == "spring-sale-0099@sender.example"
    assert report.message.correlation["x-mailgun-variables"] == '{"send_id": "0099"}'
    assert not report.is_bounce


def test_auto_reply_is_never_a_bounce():
    report = parse("autoreply-ooo.eml")
    assert report.message.format == "autoreply"
    assert not report.is_bounce


def test_charsets_are_decoded():
    jp = parse("iso2022jp-ndr.eml")
    assert jp.message.subject == "配信エラー"
    assert "宛先のユーザーが存在しません" in jp.recipients[0].evidence.diagnostic
    sjis = parse("shiftjis-base64-ndr.eml")
    assert sjis.message.subject == "配信不能のお知らせ"
    assert sjis.message.original_message_id == "sjis-0002@sender.example"


def test_quoted_printable_soft_breaks_are_joined_and_relay_code_yields():
    (r,) = parse("ses-quoted-printable.eml").recipients
    # SES prefixes its own 5.1.0 summary; the remote server's 550 5.2.2 is the evidence
    assert r.evidence.status == "5.2.2"
    assert "over quota" in r.evidence.diagnostic


def test_broken_boundary_is_repaired():
    report = parse("broken-boundary.eml")
    assert report.message.format == "dsn"
    assert report.recipients[0].evidence.smtp_phase == "RCPT"


def test_plain_mail_is_not_a_bounce():
    report = parse("not-a-bounce.eml")
    assert report.recipients == () and not report.is_bounce
    assert report.message.format == "none"


def test_multi_recipient_text_ndr_keeps_each_diagnostic():
    raw = (b"From: MAILER-DAEMON@mx.sender.example\nTo: a@sender.example\nSubject: failure notice\n\n"
           b"Hi. This is the qmail-send program at mx.sender.example.\n"
           b"I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
           b"<one@example.com>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 No such user\n\n"
           b"<two@example.com>:\n192.0.2.1 does not like recipient.\nRemote host said: 552 5.2.2 Mailbox is full\n\n"
           b"--- Below this line is a copy of the message.\n\nFrom: a@sender.example\nTo: one@example.com\n\nx\n")
    report = parse_message(raw)
    c = Classifier()
    got = {r.recipient: (r.evidence.status, r.evidence.smtp_phase, c.classify(r.evidence).reason)
           for r in report.recipients}
    assert got == {"one@example.com": ("5.1.1", "RCPT", "userunknown"),
                   "two@example.com": ("5.2.2", "RCPT", "mailboxfull")}
