"""Vendor rules hold only their vendor's own wording (issue 3): a phrase any server writes
must not fire with a provider's name, rank and confidence on another provider's bounce."""
from __future__ import annotations

import pytest

from classifier.events import Evidence, Kind
from classifier.rules.engine import RuleEngine
from classifier.rules.phrases import default_book

# generic wording, as written by servers that are not the vendors' (none is Gmail's,
# Microsoft's, Yahoo's, Mimecast's, KDDI's, Cox's, AOL's, Apple's ...)
GENERIC = [
    ("550 5.1.1 Address not found in directory", None),   # "filtered" without a phase
    ("552 5.2.2 Sorry, your message could not be delivered: recipient is over quota", "mailboxfull"),
    ("550 5.7.26 Message rejected: DMARC policy of sender domain is reject", "authfailure"),
    ("550 5.7.1 Client host rejected: reverse DNS missing for 192.0.2.4", "requireptr"),
    ("554 5.7.1 Message contains a virus (Eicar-Test-Signature)", "virusdetected"),
    ("550 5.7.1 Your message violates our content policy", "policyviolation"),
    ("550 5.7.1 This spam message was rejected", "spamdetected"),
    ("550 Message rejected: account is disabled", "suspend"),
    ("421 4.7.0 Your IP address 192.0.2.8 has been blocked", "blocked"),
    ("452 4.2.2 Mailbox is full", "mailboxfull"),
    ("550 5.7.1 Message rate limit exceeded for this IP", "speeding"),
    ("550 5.7.1 This list is restricted to members", "filtered"),
    ("550 5.7.1 Sender has poor reputation", "badreputation"),
    ("550 5.7.1 IP reputation too low", "badreputation"),
    ("550 5.7.1 Sender was restricted by the recipient", "filtered"),
    ("550 5.7.1 No reverse DNS for your host", "requireptr"),
    ("550 Envelope rejected", "rejected"),
    ("550 Message 1020 queued as ABC123 rejected", None),
    ("550 You are not a member of this list", "rejected"),
]


@pytest.mark.parametrize("diagnostic,reason", GENERIC)
def test_generic_wording_fires_no_vendor_rule(diagnostic, reason):
    result = RuleEngine().evaluate(Evidence(diagnostic=diagnostic, kind=Kind.BOUNCE))
    book = {f"phrase:{r.name}": r for r in default_book().rules}
    vendors = [m for m in result.matched if m in book and book[m].vendor]
    assert vendors == []
    if reason is not None:
        assert result.verdict.reason == reason


@pytest.mark.parametrize("diagnostic,rule,reason", [
    ("550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking",
     "gmail.nonexistent", "userunknown"),
    ("452-4.2.2 The email account that you tried to reach is over quota", "gmail.over-quota", "mailboxfull"),
    ("550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
     "gmail.unauthenticated", "authfailure"),
    ("550-5.7.25 The IP address sending this message does not have a PTR record setup", "gmail.ptr", "requireptr"),
    ("550-5.7.1 Our system has detected that this message is likely unsolicited mail", "gmail.spam", "spamdetected"),
    ("550 5.5.0 Requested action not taken: mailbox unavailable. [Stage: RcptTo] dd This user doesn't have a "
     "yahoo.com account", "yahoo.nonexistent", "userunknown"),
    ("554 Transaction failed: 5.7.0 ... RecipientThrottled", "microsoft.tenant-throttled", "speeding"),
])
def test_vendor_wording_still_fires_its_vendor_rule(diagnostic, rule, reason):
    result = RuleEngine().evaluate(Evidence(diagnostic=diagnostic, kind=Kind.BOUNCE))
    assert f"phrase:{rule}" in result.matched and result.verdict.reason == reason


@pytest.mark.parametrize("diagnostic,reason", [
    ("421 4.7.0 Too many connections AUP#In-1310", "toomanyconn"),
    ("550 5.1.0 <x@sender.example> sender rejected. AUP#In-1320", "toomanyconn"),
    ("550 5.7.1 AUP#Out-1230 too many messages today", "speeding"),
    ("554 5.7.1 AUP#In-1000 blocked", "blocked"),
    ("554 5.7.1 AUP#In-9999 something new", "blocked"),
])
def test_spectrum_aup_codes_say_what_spectrum_documents(diagnostic, reason):
    """A vendor's code decides by its number, not "any AUP code is a block" (issue 3)."""
    assert RuleEngine().evaluate(Evidence(diagnostic=diagnostic, kind=Kind.BOUNCE)).verdict.reason == reason


def test_a_bare_number_is_not_a_vendor_code():
    result = RuleEngine().evaluate(Evidence(diagnostic="550 Message of 1010 lines rejected by the spam filter",
                                            kind=Kind.BOUNCE))
    assert not any(m.startswith("phrase:spectrum.") for m in result.matched)
