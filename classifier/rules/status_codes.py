"""RFC 3463 enhanced status codes and RFC 5321 reply codes, as tables.

A status code is strong but generic evidence: ``5.7.1`` covers everything from a blocked
IP address to a recipient who refuses strangers. Each entry therefore carries a confidence
that says how much the code alone settles; phrase rules (a later, more specific layer)
override the low-confidence ones. The class digit decides hardness only where the detail
code describes the recipient's address itself.
"""
from __future__ import annotations

import re

# subject.detail -> (fine reason, confidence when seen with a 5 class)
ENHANCED: dict[str, tuple[str, float]] = {
    # a failure was reported with no detail: known, but its cause is undecided
    "0.0": ("onhold", 0.30),
    # X.1 addressing
    "1.0": ("userunknown", 0.55),
    "1.1": ("userunknown", 0.90),
    "1.2": ("hostunknown", 0.88),
    "1.3": ("userunknown", 0.80),
    "1.4": ("userunknown", 0.60),
    "1.5": ("delivered", 0.60),
    "1.6": ("hasmoved", 0.90),
    "1.7": ("rejected", 0.85),
    "1.8": ("rejected", 0.85),
    "1.9": ("systemerror", 0.50),
    "1.10": ("notaccept", 0.92),
    # X.2 mailbox
    "2.0": ("filtered", 0.45),
    # "mailbox disabled, not accepting messages": the recipient's side refuses; only a
    # phrase ("account disabled") says it is the account itself
    "2.1": ("filtered", 0.55),
    "2.2": ("mailboxfull", 0.90),
    "2.3": ("exceedlimit", 0.80),
    "2.4": ("systemerror", 0.60),
    # X.3 mail system
    "3.0": ("systemerror", 0.50),
    "3.1": ("systemfull", 0.85),
    "3.2": ("notaccept", 0.60),
    "3.3": ("systemerror", 0.60),
    "3.4": ("mesgtoobig", 0.90),
    "3.5": ("systemerror", 0.60),
    # X.4 network and routing
    "4.0": ("networkerror", 0.50),
    "4.1": ("networkerror", 0.70),
    "4.2": ("networkerror", 0.70),
    "4.3": ("systemerror", 0.60),
    "4.4": ("hostunknown", 0.55),
    "4.5": ("networkerror", 0.60),
    "4.6": ("networkerror", 0.75),
    "4.7": ("expired", 0.88),
    # X.5 protocol
    "5.0": ("systemerror", 0.40),
    "5.1": ("syntaxerror", 0.60),
    "5.2": ("syntaxerror", 0.70),
    "5.3": ("speeding", 0.75),
    "5.4": ("syntaxerror", 0.60),
    "5.5": ("systemerror", 0.50),
    "5.6": ("syntaxerror", 0.50),
    # X.6 content
    "6.0": ("contenterror", 0.60),
    "6.1": ("contenterror", 0.70),
    "6.2": ("contenterror", 0.70),
    "6.3": ("contenterror", 0.70),
    "6.4": ("contenterror", 0.50),
    "6.5": ("contenterror", 0.70),
    "6.6": ("contenterror", 0.70),
    "6.7": ("contenterror", 0.70),
    "6.8": ("contenterror", 0.70),
    "6.9": ("contenterror", 0.70),
    "6.10": ("contenterror", 0.70),
    # X.7 security and policy
    "7.0": ("securityerror", 0.35),
    # "delivery not authorized, message refused": said for blocks, filters and policy
    # alike; on its own it only says a security/policy check refused the message
    "7.1": ("securityerror", 0.30),
    "7.2": ("securityerror", 0.50),
    "7.3": ("securityerror", 0.60),
    "7.4": ("securityerror", 0.60),
    "7.5": ("securityerror", 0.60),
    "7.6": ("securityerror", 0.60),
    "7.7": ("securityerror", 0.60),
    "7.8": ("securityerror", 0.80),
    "7.9": ("securityerror", 0.80),
    "7.10": ("failedstarttls", 0.80),
    "7.11": ("failedstarttls", 0.80),
    "7.12": ("securityerror", 0.70),
    "7.13": ("suspend", 0.85),
    "7.14": ("securityerror", 0.60),
    "7.15": ("securityerror", 0.60),
    "7.16": ("securityerror", 0.60),
    "7.17": ("hasmoved", 0.80),
    "7.18": ("hasmoved", 0.70),
    "7.19": ("securityerror", 0.60),
    "7.20": ("authfailure", 0.90),
    "7.21": ("authfailure", 0.90),
    "7.22": ("authfailure", 0.90),
    "7.23": ("authfailure", 0.90),
    "7.24": ("authfailure", 0.90),
    "7.25": ("requireptr", 0.90),
    "7.26": ("authfailure", 0.90),
    "7.27": ("rejected", 0.85),
    "7.28": ("speeding", 0.75),
    "7.29": ("authfailure", 0.70),
    "7.30": ("failedstarttls", 0.75),
}

# Fallback when the detail is unknown: what the subject alone suggests.
SUBJECT: dict[str, tuple[str, float]] = {
    "0": ("undefined", 0.25),
    "1": ("userunknown", 0.45),
    "2": ("filtered", 0.35),
    "3": ("systemerror", 0.40),
    "4": ("networkerror", 0.40),
    "5": ("systemerror", 0.35),
    "6": ("contenterror", 0.45),
    "7": ("securityerror", 0.30),
}

# Basic SMTP reply codes (RFC 5321 section 4.2.3) that say something on their own.
REPLY: dict[str, tuple[str, float]] = {
    "421": ("toomanyconn", 0.35),
    "422": ("mailboxfull", 0.50),
    "450": ("filtered", 0.25),
    "451": ("systemerror", 0.30),
    "452": ("systemfull", 0.35),
    "500": ("syntaxerror", 0.35),
    "501": ("syntaxerror", 0.40),
    "502": ("syntaxerror", 0.35),
    "503": ("syntaxerror", 0.40),
    "504": ("syntaxerror", 0.35),
    "521": ("notaccept", 0.60),
    "523": ("mesgtoobig", 0.50),
    "530": ("securityerror", 0.50),
    "534": ("securityerror", 0.50),
    "535": ("securityerror", 0.55),
    "550": ("userunknown", 0.30),
    "551": ("hasmoved", 0.45),
    "552": ("mailboxfull", 0.35),
    "553": ("userunknown", 0.35),
    "554": ("filtered", 0.25),
    "556": ("notaccept", 0.70),
}

# Reasons whose hardness depends on the class digit: "5.1.1" is a missing mailbox, a
# transient "4.1.1" (seen during directory outages) is not a reason to suppress anybody.
CLASS_DEPENDENT_HARDNESS = frozenset({"userunknown", "hasmoved", "hostunknown", "notaccept", "norelaying"})

#: An enhanced status code (RFC 3463) in text, not inside a longer number or an IP address
#: ("2.70.156" in "247.2.70.156" is none). The one definition: the parsers and the model's
#: features read codes with it. (The class digit comes first and the look-behind after it,
#: so that ``re`` can skip to the next 2, 4 or 5 instead of trying every position.)
STATUS_RE = re.compile(r"([245])(?<![\d.][245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
REPLY_RE = re.compile(r"^\s*([245]\d\d)\b")


def parse_status(status: str | None) -> tuple[str, str, str] | None:
    """Split an enhanced status code into (class, subject, detail), or None if malformed."""
    if not status:
        return None
    m = STATUS_RE.search(status)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def lookup_status(status: str | None) -> tuple[str, float, str] | None:
    """(reason, confidence, rule name) for an enhanced status code, or None."""
    parts = parse_status(status)
    if parts is None:
        return None
    cls, subject, detail = parts
    key = f"{subject}.{detail}"
    if key in ENHANCED:
        reason, confidence = ENHANCED[key]
        return reason, confidence, f"status:{cls}.{key}"
    if subject in SUBJECT:
        reason, confidence = SUBJECT[subject]
        return reason, confidence, f"status-subject:{cls}.{subject}.x"
    return None


def lookup_reply(reply_code: str | None) -> tuple[str, float, str] | None:
    if not reply_code:
        return None
    m = REPLY_RE.match(reply_code)
    if not m or m.group(1) not in REPLY:
        return None
    reason, confidence = REPLY[m.group(1)]
    return reason, confidence, f"reply:{m.group(1)}"
