"""ARF feedback reports (RFC 5965) and mailto unsubscribe requests, as complaints.

The complained-about recipient is taken from ``Original-Rcpt-To`` (one per recipient),
then ``Removal-Recipient``, then Microsoft JMRP's ``X-HmXmrOriginalRecipient``, then the To
of the attached original message. Providers that
redact the recipient leave nothing usable; the complaint is still reported, without one.
"""
from __future__ import annotations

import re

from classifier.parse.dsn import field_lines
from classifier.parse.load import Loaded
from classifier.parse.report import Record
from classifier.parse.text import addresses, clean_address

_FEEDBACK_SUBJECT = re.compile(r"^(?:abuse report|complaint|fbl|feedback loop|spam report)\b", re.I)
_FEEDBACK_TYPES = ("abuse", "fraud", "virus", "other", "not-spam", "auth-failure", "opt-out", "unsubscribe",
                   "dmarc")
_UNSUBSCRIBE = re.compile(r"^\s*unsubscribe\b|^\s*\[?list-unsubscribe\]?", re.I)
_UNSUBSCRIBE_BODY = re.compile(r"sent this (?:e-?mail|message) to unsubscribe|^\s*unsubscribe\s*$", re.I | re.M)


# Microsoft's JMRP (Junk Mail Reporting Program) complaints are not ARF: the reported
# message itself, or a mail with it attached, sent through a "JMR" relay, with the
# complaining recipient in X-HmXmrOriginalRecipient.
_JMRP_FIELD = "x-hmxmroriginalrecipient"
_JMRP_SUBJECT = re.compile(r"^\s*complaint about message from\b", re.I)
_JMRP_RELAY = re.compile(r"^from\s+\S*-JMR-", re.I)


def is_arf(msg: Loaded) -> bool:
    return bool(msg.feedback) or msg.report_type == "feedback-report" or is_jmrp(msg)


def _jmrp_recipients(msg: Loaded) -> list[str]:
    for headers in (msg.headers, msg.original):
        if headers is not None and _JMRP_FIELD in headers:
            return [a for a in (clean_address(v) for v in headers.get_all(_JMRP_FIELD)[:50]) if a]
    return []


def is_jmrp(msg: Loaded) -> bool:
    """A JMRP complaint: the recipient field, and the complaint subject or the JMR relay."""
    if not (_JMRP_FIELD in msg.headers or (msg.original is not None and _JMRP_FIELD in msg.original)):
        return False
    if _JMRP_SUBJECT.search(msg.headers.get("subject")):
        return True
    return any(_JMRP_RELAY.search(r) for r in msg.headers.get_all("received")[:12])


def is_unsubscribe_request(msg: Loaded) -> bool:
    """A List-Unsubscribe mailto request: the recipient opted out by mail."""
    subject = msg.headers.get("subject")
    if not _UNSUBSCRIBE.match(subject):
        return False
    to = msg.headers.get("to").lower()
    return bool(re.search(r"unsub|opt-?out|leave|remove", to)) or \
        any(_UNSUBSCRIBE_BODY.search(t[:2000]) for t in msg.texts[:1])


def feedback_fields(msg: Loaded) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    texts = msg.feedback or [t for t in msg.texts if re.search(r"^Feedback-Type:", t, re.M | re.I)]
    for text in texts[:2]:
        for item in field_lines(text):
            if item is not None:
                fields.setdefault(item[0], []).append(item[1])
    return fields


def extract(msg: Loaded) -> list[Record]:
    fields = feedback_fields(msg)
    ftype = (fields.get("feedback-type") or ["abuse"])[0].strip().lower() or "abuse"
    recipients = [clean_address(v) for v in fields.get("original-rcpt-to", [])]
    recipients = [r for r in recipients if r]
    if not recipients:
        recipients = [r for r in (clean_address(v) for v in fields.get("removal-recipient", [])) if r]
    if not recipients:
        recipients = _jmrp_recipients(msg)
    if not recipients and msg.original is not None:
        recipients = addresses(msg.original.get("to"))[:50]
    records = [Record(recipient=r, action="complaint", feedback_type=ftype) for r in dict.fromkeys(recipients)]
    return records or [Record(recipient=None, action="complaint", feedback_type=ftype)]


def extract_unsubscribe(msg: Loaded) -> list[Record]:
    sender = clean_address(msg.headers.get("from"))
    return [Record(recipient=sender, action="complaint", feedback_type="opt-out")]
