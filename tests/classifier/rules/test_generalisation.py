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


# --- the words over a generic code (a specific code stays strong) --------------------------

@pytest.mark.parametrize("text,reason", [
    ("550 5.2.1 The mailbox you named does not exist", "userunknown"),
    ("550 5.7.1 Recipient mailbox does not exist here", "userunknown"),
    ("550 5.2.0 Rejected: message judged to be spam", "spamdetected"),
    ("550 5.7.1 Message size exceeds the limit of this server", "mesgtoobig"),
    ("550 5.7.1 Rejected: SPF check failed for the sending domain", "authfailure"),
    ("552 5.2.3 Rejected: the recipient is over quota", "mailboxfull"),
    ("550 5.7.1 Message refused, the recipient's mailbox is full", "mailboxfull"),
])
def test_words_decide_over_a_generic_code(text, reason):
    assert rules(text).reason == reason


def test_a_specific_code_is_not_overruled_by_vague_words():
    assert rules("550 5.1.1 mailbox unavailable").reason == "userunknown"
    assert rules("550 5.1.1 recipient rejected").reason == "userunknown"


@pytest.mark.parametrize("text", ["550 5.7.1 Recipient rejected", "550 5.0.0 Recipient address rejected.",
                                  "554 recipient rejected by policy"])
def test_a_bare_recipient_rejected_suppresses_nobody(text):
    v = rules(text, phase="RCPT")
    assert v.category not in SUPPRESSING and not v.hard


# --- spam and content refusals, worded other ways -------------------------------------------

@pytest.mark.parametrize("text", [
    "550 5.7.1 This message appears to be unsolicited and was refused",
    "554 5.7.1 Rejected: your message scored 14.2 spam points",
    "554 Message scored too high on our filter",
    "550 Bulk mail is not accepted here",
    "550 5.7.1 Message rejected as bulk advertising",
    "554 5.7.1 Message refused: it looks like junk mail",
    "554 5.6.0 Message content rejected",
    "550 5.7.0 Unsolicited commercial email is not welcome",
])
def test_spam_wordings_flag_the_message_not_the_recipient_or_sender(text):
    v = rules(text)
    assert v.category == "spam_flagged" and not v.hard


def test_an_antivirus_footer_is_not_a_virus_verdict():
    v = rules("552 mailbox is full. -- checked by Acme Antivirus, VirusWall edition")
    assert v.reason == "mailboxfull"
    assert rules("554 5.7.1 Refused: the attachment carries a virus").reason == "virusdetected"


def test_a_refusal_of_mail_from_someone_is_not_a_domain_that_takes_no_mail():
    assert rules("550 This user does not accept mail from your domain").category != "domain_misconfigured"
    assert rules("550 5.1.10 This domain does not accept mail").reason == "notaccept"


# --- DNS failures are about the recipient's domain ------------------------------------------

@pytest.mark.parametrize("text", [
    "Name service error for name=shop.example type=MX: Host not found, try again",
    "Name service error for name=shop.example type=A: Malformed or unexpected name server reply",
    "DNS lookup of shop.example answered NXDOMAIN",
    "550 5.1.2 Domain not found",
    "550 no MX or A record for shop.example",
])
def test_dns_failures_of_the_destination_are_the_domain(text):
    v = rules(text)
    assert CATEGORY_OF[v.reason] == "domain_misconfigured"


def test_a_transient_dns_failure_does_not_suppress():
    v = rules("451 4.4.3 Name service error for name=shop.example type=MX: Host not found, try again",
              kind=Kind.DEFERRAL)
    assert v.reason == "hostunknown" and not v.hard


# --- temporary limits are throttling, block lists are blocks --------------------------------

@pytest.mark.parametrize("text,reason", [
    ("421 4.7.0 Service refused, please try again later", "speeding"),
    ("450 4.7.1 Mail temporarily deferred from your host, retry later", "speeding"),
    ("451 4.7.1 You are sending too fast, slow down", "speeding"),
    ("421 Too many concurrent connections from your address, slow down", "toomanyconn"),
    ("421 4.7.0 Connection limit reached for 203.0.113.9", "toomanyconn"),
])
def test_temporary_limits_are_rate_limiting(text, reason):
    v = rules(text, kind=Kind.DEFERRAL)
    assert v.reason == reason and v.category == "rate_limited"


@pytest.mark.parametrize("text", [
    "554 5.7.1 Service refused: your IP is on our blocklist",
    "550 5.7.1 Sender IP 203.0.113.9 listed at a DNSBL for sending spam",
    "451 4.7.1 Deferred: client host blocked using a public RBL, try later",
    "550 5.7.511 Access denied, banned sender 203.0.113.9",
])
def test_a_block_list_is_a_block_of_the_sender(text):
    v = rules(text)
    assert v.category == "sender_blocked" and not v.hard


def test_too_many_invalid_recipients_is_the_senders_policy_problem():
    v = rules("550 5.7.1 Too many invalid recipients, session closed")
    assert v.reason == "policyviolation" and not v.hard


def test_dane_is_a_word_not_a_fragment():
    assert rules("554 5.7.5 DANE validation of the peer failed").category == "auth_failure"
    blocked = rules("554 5.7.1 Client host blocked, see www.barracudanetworks.com for removal")
    assert blocked.category == "sender_blocked"


def test_a_sign_off_after_a_permanent_reply_is_no_expiry():
    """qmail ends every permanent failure with "Giving up on <address>.": the reply decides."""
    v = rules("203.0.113.7 does not like recipient. Remote host said: 550 5.1.1 no such mailbox here "
              "Giving up on 203.0.113.7.", phase="RCPT")
    assert (v.reason, v.hard) == ("userunknown", True)
    assert rules("Still failing after 5 days, giving up.", kind=Kind.BOUNCE).reason == "expired"


def test_a_sending_ip_named_as_a_spam_source_is_blocked_whatever_else_is_refused():
    v = rules("554 5.7.1 Relay access refused: your IP is known as a spam source")
    assert v.category == "sender_blocked" and not v.hard


@pytest.mark.parametrize("text,reason", [
    ("Delivery failed: the recipients are not accepting mail from lists@example.org", "filtered"),
    ("550 Invalid userid: nobody.here@example.org", "userunknown"),
])
def test_who_refuses_and_who_is_missing_in_other_words(text, reason):
    assert rules(text).reason == reason
