"""Tying a bounce to the send that caused it: Message-ID, sender headers, VERP.

Senders mark their messages in many ways; the headers below are the ones ESPs and common
MTAs set. They are read from the returned original (attached, or quoted in the text) and,
for ESP-generated notifications, from the bounce itself.
"""
from __future__ import annotations

import re

from classifier.parse.load import Headers, parse_header_block
from classifier.parse.text import clean_address

# Header names (lower case) worth keeping; prefixes end with '-'.
CORRELATION_HEADERS = (
    "x-message-id", "x-mailer-sid", "x-campaign-id", "x-campaignid", "x-job", "x-mailjet-campaign",
    "x-mj-customid", "x-mailgun-variables", "x-mailgun-tag", "x-mailgun-sid", "x-mandrill-user",
    "x-mc-user", "x-postmark-tag", "x-pm-message-id", "x-sg-eid", "x-sg-id", "x-sendgrid-eid",
    "x-smtpapi", "x-ses-outgoing", "x-ses-message-id", "x-ses-configuration-set", "x-sparkpost-id",
    "x-msys-api", "x-brevo-message-id", "x-sib-id", "x-mailin-eid", "x-entity-ref-id", "x-feedback-id",
    "feedback-id", "list-id", "list-unsubscribe", "x-campaign", "x-mailer-recipient", "x-rebound-id",
    "x-original-message-id", "x-queue-id", "x-postfix-queue-id",
)
_PREFIXES = ("x-ses-", "x-mailgun-", "x-mc-", "x-pm-", "x-sg-", "x-mj-", "x-sparkpost-", "x-msys-", "x-sib-",
             "x-mailin-", "x-rebound-", "x-campaign")
_VERP = re.compile(r"^[\w.-]*?[+=-](?P<local>[^=@+\s]+)=(?P<domain>[\w-]+(?:\.[\w-]+)+)@", re.I)
_QUOTED_HEADERS = re.compile(r"^(?:Return-Path|Received|Message-Id|From|To|Subject|Date|X-[\w-]+):[ \t]", re.I | re.M)


def collect(headers: Headers | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if not headers:
        return out
    for name, value in headers.items:
        low = name.lower()
        if low in CORRELATION_HEADERS or low.startswith(_PREFIXES):
            if low not in out and value:
                out[low] = value[:500]
    return out


def quoted_original(text: str) -> Headers | None:
    """Headers of an original message quoted in the body of a plain-text NDR."""
    m = _QUOTED_HEADERS.search(text)
    if not m:
        return None
    headers = parse_header_block(text[m.start(): m.start() + 32768])
    return headers if len(headers.items) >= 2 else None


def message_id(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    m = re.search(r"<([^<>\s]+)>", value)
    return m.group(1) if m else value.split()[0].strip("<>")


def verp_recipient(address: str | None) -> str | None:
    """``bounces+user=example.org@sender.example`` -> ``user@example.org``."""
    addr = clean_address(address or "")
    if not addr:
        return None
    m = _VERP.match(addr)
    if not m:
        return None
    return f"{m.group('local')}@{m.group('domain')}"
