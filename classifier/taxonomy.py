"""The bounce-reason vocabulary (../shared/taxonomy.md section 1) as one table.

The fine codes are Sisimai's, so results compare one to one with the most established
open-source parser; the coarse categories are what the store's policy acts on. Everything
else in the classifier (rules, model labels, CLI output) refers to this table instead of
repeating codes, so a typo in a rule file fails loudly at load time instead of silently
producing a reason nobody handles.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    category: str
    #: The default hardness; a rule may still override it (e.g. ``notaccept`` seen with a
    #: 4xx reply is soft). ``None`` for reports that are not bounces at all.
    hard: bool | None
    about: str
    meaning: str


_TABLE = [
    # code, category, hard, about, meaning
    ("userunknown", "nonexistent_account", True, "recipient",
     "the mailbox does not exist at the destination"),
    ("hasmoved", "nonexistent_account", True, "recipient",
     "the person has moved to another address; this one is gone"),
    ("suspend", "account_disabled", False, "recipient",
     "the mailbox exists but is disabled, suspended or inactive"),
    ("mailboxfull", "mailbox_full", False, "recipient",
     "the mailbox is over its quota"),
    ("hostunknown", "domain_misconfigured", True, "recipient's domain",
     "the recipient's domain does not exist or has no usable mail host"),
    ("notaccept", "domain_misconfigured", True, "recipient's domain",
     "the destination accepts no mail at all (null MX, no MX and no address)"),
    ("norelaying", "domain_misconfigured", True, "recipient's domain",
     "the host reached refuses to relay for the recipient's domain"),
    ("filtered", "recipient_filtered", False, "recipient",
     "a recipient-side filter or the receiving server refused the message"),
    ("spamdetected", "spam_flagged", False, "message",
     "the content was judged to be spam"),
    ("virusdetected", "spam_flagged", False, "message",
     "a virus or malware was found in the message"),
    ("contenterror", "spam_flagged", False, "message",
     "the content or its encoding was refused (attachment type, broken MIME)"),
    ("blocked", "sender_blocked", False, "sender",
     "the sending IP address or domain is blocked or listed"),
    ("badreputation", "sender_blocked", False, "sender",
     "the sender's reputation is too low at the destination"),
    ("requireptr", "sender_blocked", False, "sender",
     "the sending IP address lacks reverse DNS or a matching PTR"),
    ("authfailure", "auth_failure", False, "sender",
     "SPF, DKIM or DMARC checks failed"),
    ("failedstarttls", "auth_failure", False, "sender",
     "TLS could not be negotiated although it is required"),
    ("securityerror", "auth_failure", False, "sender",
     "SMTP authentication or another security requirement failed"),
    ("policyviolation", "policy_rejected", False, "sender",
     "the message breaks a policy of the receiving site"),
    ("notcompliantrfc", "policy_rejected", False, "message",
     "the message does not comply with the RFCs (headers, line length, encoding)"),
    ("rejected", "policy_rejected", False, "sender",
     "the envelope sender was refused"),
    ("syntaxerror", "policy_rejected", False, "sender",
     "the SMTP conversation had a syntax error"),
    ("mesgtoobig", "message_too_large", False, "message",
     "the message is larger than the destination accepts"),
    ("exceedlimit", "message_too_large", False, "message",
     "the message exceeds a size or count limit of the recipient"),
    ("speeding", "rate_limited", False, "sender",
     "too many messages or recipients in too short a time"),
    ("toomanyconn", "rate_limited", False, "sender",
     "too many simultaneous connections from the sender"),
    ("expired", "mta_failure", False, "infrastructure",
     "the sending MTA gave up after retrying for too long"),
    ("networkerror", "mta_failure", False, "infrastructure",
     "connection or DNS lookup failures on the way"),
    ("systemerror", "mta_failure", False, "infrastructure",
     "an error inside a mail system (loops, crashes, misconfiguration)"),
    ("systemfull", "mta_failure", False, "infrastructure",
     "the receiving system is out of disk or resources"),
    ("mailererror", "mta_failure", False, "infrastructure",
     "a local delivery program failed"),
    ("feedback", "complaint", None, "recipient's consent",
     "a complaint (feedback report) from the recipient or their provider"),
    ("vacation", "auto_reply", None, "nobody",
     "an automatic reply such as an out-of-office notice"),
    ("delivered", "delivered", None, "nobody",
     "the message was delivered"),
    ("undefined", "unknown", False, "unknown",
     "not enough information to decide"),
    ("onhold", "unknown", False, "unknown",
     "the failure is known but its cause could not be decided"),
]

REASONS: dict[str, Reason] = {row[0]: Reason(*row) for row in _TABLE}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(r.category for r in REASONS.values()))
CATEGORY_OF: dict[str, str] = {code: r.category for code, r in REASONS.items()}

#: Categories that describe a failure caused by the sender or the message, never by the
#: recipient's address: the store reports them on the sender's health, never suppresses.
SENDER_SIDE: frozenset[str] = frozenset(
    {"sender_blocked", "auth_failure", "policy_rejected", "rate_limited", "message_too_large",
     "spam_flagged", "mta_failure"}
)


def reason(code: str) -> Reason:
    """Look a fine reason up, failing with the list of valid codes on a typo."""
    try:
        return REASONS[code]
    except KeyError:
        raise ValueError(f"unknown bounce reason {code!r}; valid: {', '.join(REASONS)}") from None
