"""Rules that hold on mail they were not written from (issue 12): the words decide what they
say, the SMTP phase refines a reading only where it is stated, and nothing inside an address
is read as a statement. The diagnostics here are written for these tests, in the many ways
servers say the same thing; none is copied from a corpus."""
from __future__ import annotations

import pytest

from classifier.events import Evidence, Kind
from classifier.rules.engine import RuleEngine
from classifier.rules.phrases import default_book, load, mask_local_parts
from classifier.rules.status_codes import REPLY_RE, STATUS_RE
from classifier.taxonomy import CATEGORY_OF

SUPPRESSING = {"nonexistent_account", "domain_misconfigured"}


def rules(diagnostic, status=None, phase=None, provider=None, kind=Kind.BOUNCE, engine=None):
    """The rule verdict, with the codes read from the text as a parser would."""
    if status is None and (m := STATUS_RE.search(diagnostic)):
        status = ".".join(m.groups())
    reply = m.group(1) if (m := REPLY_RE.match(diagnostic)) else None
    return (engine or RuleEngine()).evaluate(Evidence(diagnostic=diagnostic, status=status, reply_code=reply,
                                                      smtp_phase=phase, provider=provider, kind=kind)).verdict


# --- the SMTP phase refines "user unknown" only where it is stated ------------------------

UNKNOWN_USER = ["550 Unknown user", "550 sorry, no such user here", "550 Recipient does not exist on this server",
                "553 invalid recipient", "550 Unrouteable address", "554 user unknown (state 12)"]


@pytest.mark.parametrize("text", UNKNOWN_USER)
def test_user_unknown_with_no_stated_phase_is_a_dead_address(text):
    v = rules(text, provider="postfix")
    assert (v.reason, v.hard) == ("userunknown", True)


@pytest.mark.parametrize("text", UNKNOWN_USER)
def test_user_unknown_said_after_the_data_is_a_filter(text):
    v = rules(text, phase="DATA")
    assert (v.reason, v.hard) == ("filtered", False)
    assert rules(text, phase="RCPT").reason == "userunknown"


@pytest.mark.parametrize("gateway", sorted(default_book().filter_gateways))
def test_a_documented_filter_gateway_answers_user_unknown_for_its_filter(gateway):
    assert rules("550 Unknown user", provider=gateway).reason == "filtered"
    # a code that says the address itself is bad settles it, gateway or not
    assert rules("550 5.1.1 Unknown user", provider=gateway).reason == "userunknown"


def test_the_filter_gateways_are_data_of_the_phrase_book():
    book = load('filter_gateways = ["wibblegate"]\n[[rule]]\nname = "u"\nreason = "userunknown"\n'
                'confidence = 0.9\npatterns = ["no such user"]\n')
    engine = RuleEngine(book)
    assert rules("550 no such user", provider="wibblegate", engine=engine).reason == "filtered"
    assert rules("550 no such user", provider="mfilter", engine=engine).reason == "userunknown"


# --- what is inside an address is nobody's statement --------------------------------------

def test_local_parts_are_masked_and_domains_kept():
    assert mask_local_parts("<spam.reports@example.org>: no such user") == "<x@example.org>: no such user"
    assert mask_local_parts("mailbox full for box.full+tag@mx.example.net") == "mailbox full for x@mx.example.net"
    assert mask_local_parts("no address here") == "no address here"


@pytest.mark.parametrize("text,reason", [
    ("550 5.1.1 <spam.reports@example.org>: recipient not found", "userunknown"),
    ("550 <mailbox.full@example.net>... no such user", "userunknown"),
    ("550 <virus-alerts@example.com> unknown mailbox", "userunknown"),
    ("554 message from <user.unknown@example.org> refused as spam", "spamdetected"),
    ("452 4.2.2 <no.such.user@example.org> mailbox over quota", "mailboxfull"),
])
def test_words_inside_an_address_trigger_no_phrase(text, reason):
    assert rules(text, phase="RCPT").reason == reason
