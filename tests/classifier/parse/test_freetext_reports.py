"""Free-text and vendor NDRs without a recipient block (issue 12): who failed, and why.

Every message here is written for this file, in the styles such reports take (IMail,
MailEnable, X.400 gateways, directory robots, list relays, JMRP ...); none is a copy of a
real one. Each test is about one mechanism of classifier/parse/freetext.py, signals.py,
arf.py or the DSN reading, as a user of ``parse_message`` sees it.
"""
from __future__ import annotations

from classifier.parse import parse_message


def mail(body: str, **headers: str) -> bytes:
    """A message from header keywords (``return_path`` -> Return-Path) and a body."""
    fields = {"from": "Mail Delivery Subsystem <MAILER-DAEMON@relay.carrier.example>",
              "to": "news-bounces@sender.example", "subject": "Undeliverable Mail",
              "date": "Mon, 2 Mar 2026 10:00:00 +0000", "message-id": "<ndr-1@relay.carrier.example>"}
    fields.update({k.rstrip("_").replace("_", "-"): v for k, v in headers.items()})
    head = "".join(f"{'-'.join(p.capitalize() for p in k.split('-'))}: {v}\n" for k, v in fields.items() if v)
    return (head + "\n" + body).encode()


def recipients(raw: bytes) -> list[str]:
    return [r.recipient for r in parse_message(raw).recipients]


# --- Microsoft JMRP complaints ----------------------------------------------------------

def test_a_jmrp_complaint_names_the_complaining_recipient():
    reported = ("X-HmXmrOriginalRecipient: <ana.ruiz@mail.example>\n"
                "Received: from out.sender.example by mx.mail.example\n"
                "From: news@sender.example\nTo: ana.ruiz@mail.example\nSubject: March news\n\nHello\n")
    raw = ("From: staff@mail.example\nTo: fbl@sender.example\nSubject: complaint about message from 192.0.2.7\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b3\"\n\n--b3\nContent-Type: message/rfc822\n\n"
           + reported + "\n--b3--\n")
    report = parse_message(raw.encode())
    assert [(r.recipient, r.action) for r in report.recipients] == [("ana.ruiz@mail.example", "complaint")]
    assert not report.is_bounce
