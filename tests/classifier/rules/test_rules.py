"""The rule tables and the engine's precedence."""
from __future__ import annotations

import pytest

from classifier.events import Evidence, Kind
from classifier.rules.engine import RuleEngine
from classifier.rules.phrases import RuleFileError, default_book, load, pattern_anchors
from classifier.rules.status_codes import lookup_reply, lookup_status, parse_status
from classifier.taxonomy import REASONS


def verdict(diagnostic="", status=None, reply=None, phase=None, kind=Kind.BOUNCE, provider=None,
            provider_class=None):
    return RuleEngine().evaluate(Evidence(diagnostic=diagnostic, status=status, reply_code=reply,
                                          smtp_phase=phase, kind=kind, provider=provider,
                                          provider_class=provider_class)).verdict


# --- RFC 3463 / RFC 5321 tables -------------------------------------------------------

@pytest.mark.parametrize("status,reason", [
    ("5.1.1", "userunknown"), ("5.1.2", "hostunknown"), ("5.1.6", "hasmoved"), ("5.1.10", "notaccept"),
    ("5.1.7", "rejected"), ("5.1.8", "rejected"), ("5.2.2", "mailboxfull"), ("4.2.2", "mailboxfull"),
    ("5.3.4", "mesgtoobig"), ("4.4.7", "expired"), ("5.7.26", "authfailure"), ("5.7.25", "requireptr"),
    ("5.7.13", "suspend"), ("5.0.0", "onhold"), ("5.6.0", "contenterror"),
])
def test_status_table(status, reason):
    found = lookup_status(status)
    assert found is not None and found[0] == reason
    assert found[2].endswith(status[2:])


def test_status_parsing_and_unknown_details_fall_back_to_subject():
    assert parse_status("Status: 5.1.1 (bad mailbox)") == ("5", "1", "1")
    assert parse_status("5.1") is None and parse_status(None) is None
    reason, confidence, rule = lookup_status("5.2.99")
    assert rule == "status-subject:5.2.x" and confidence < 0.5


@pytest.mark.parametrize("code,reason", [("421", "toomanyconn"), ("552", "mailboxfull"), ("556", "notaccept"),
                                         ("535", "securityerror"), ("551", "hasmoved")])
def test_reply_table(code, reason):
    assert lookup_reply(code)[0] == reason
    assert lookup_reply("250") is None and lookup_reply("abc") is None


# --- the phrase book ------------------------------------------------------------------

def test_every_rule_names_a_taxonomy_reason_and_compiles():
    book = default_book()
    assert len(book.rules) > 50
    assert all(r.reason in REASONS for r in book.rules)
    names = [r.name for r in book.rules]
    assert len(names) == len(set(names))


def test_bad_rule_files_fail_loudly():
    with pytest.raises(RuleFileError, match="unknown bounce reason"):
        load('[[rule]]\nname = "x"\nreason = "nosuchreason"\nconfidence = 0.5\npatterns = ["a"]\n')
    with pytest.raises(RuleFileError, match="bad pattern"):
        load('[[rule]]\nname = "x"\nreason = "blocked"\nconfidence = 0.5\npatterns = ["(unclosed"]\n')
    with pytest.raises(RuleFileError, match="unknown keys"):
        load('[[rule]]\nname = "x"\nreason = "blocked"\nconfidence = 0.5\npatterns = ["a"]\ntypo = 1\n')
    with pytest.raises(RuleFileError, match="duplicate"):
        load('[[rule]]\nname = "x"\nreason = "blocked"\nconfidence = 0.5\npatterns = ["a"]\n' * 2)


def test_anchors_are_literals_every_match_contains():
    assert pattern_anchors("user unknown") == ["user unknown"]
    assert sorted(pattern_anchors("(?:mailbox|inbox)")) == ["inbox", "mailbox"]
    assert pattern_anchors("(?:mailbox|inbox) is full") == [" is full"]      # the longest sure literal
    assert pattern_anchors("\\bts0[1-4]\\b") == ["ts0"]
    assert pattern_anchors("a|b") is None          # too short to filter on: always tried


def test_prefilter_finds_what_a_plain_search_finds():
    """The anchor index is an optimisation only: it must not lose a match."""
    import re
    book = default_book()
    texts = ["550 5.1.1 <a@b.example>: recipient address rejected: user unknown in local recipient table",
             "421 4.7.0 [ts01] messages from 192.0.2.1 temporarily deferred",
             "552 5.2.2 quota exceeded (mailbox full)", "554 5.7.1 service unavailable; client host blocked using zen.spamhaus.org",
             "dns error: 123 dns type 'mx' lookup of example.jp responded with code nxdomain"]
    for text in texts:
        slow = {r.name for r in book.rules if any(re.search(p, text) for p in r.patterns)}
        fast = {r.name for _, r in book.matches(text)}
        assert fast == slow, text


# --- precedence -----------------------------------------------------------------------

def test_specific_phrase_beats_generic_code():
    v = verdict("550 5.1.1 Too many recipients this hour, slow down", "5.1.1", "550")
    assert v.reason == "speeding" and v.category == "rate_limited" and not v.hard
    assert v.explanation[0] == "phrase:speeding.phrase" and "over:status:5.1.1" in v.explanation


def test_microsoft_s3150_is_a_block_not_a_missing_account():
    v = verdict("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
                "Internet service provider since part of their network is on our block list (S3150).", "5.7.1", "550")
    assert (v.reason, v.category, v.hard) == ("blocked", "sender_blocked", False)
    assert v.explanation[0] == "phrase:microsoft.s3150-blocked"


def test_vague_word_loses_to_a_specific_code():
    v = verdict("550 5.1.1 mailbox unavailable", "5.1.1", "550", phase="RCPT")
    assert v.reason == "userunknown" and v.hard


def test_code_alone_decides_when_no_phrase_matches():
    v = verdict("552 5.2.2 see https://example.test/x", "5.2.2", "552")
    assert v.reason == "mailboxfull" and v.explanation[0] == "status:5.2.2"


def test_rejected_is_about_the_envelope_sender():
    v = verdict("553 5.1.8 <me@sender.example>... Domain of sender address does not exist", "5.1.8", "553",
                phase="MAIL")
    assert v.reason == "rejected" and v.category == "policy_rejected"
    # a recipient-level phrase given at MAIL FROM is about the sender too
    v = verdict("550 5.1.7 No such domain sender.example", "5.1.7", "550", phase="MAIL")
    assert v.reason == "rejected"
    # and a bare refusal at MAIL FROM
    v = verdict("550 5.7.1 Access denied", "5.7.1", "550", phase="MAIL")
    assert v.reason == "rejected"


def test_user_unknown_after_data_is_a_filter():
    v = verdict("550 Unknown user", "5.0.0", "550", phase="DATA")
    assert v.reason == "filtered" and not v.hard
    assert any(e.startswith("phase:DATA") for e in v.explanation)
    # at RCPT it is what it says
    assert verdict("550 Unknown user", "5.0.0", "550", phase="RCPT").reason == "userunknown"
    # and a 5.1.1 code settles it whatever the phase
    assert verdict("550 5.1.1 Unknown user", "5.1.1", "550", phase="DATA").reason == "userunknown"


def test_hardness_follows_the_class_digit_and_deferrals_are_soft():
    assert verdict("550 5.1.1 user unknown", "5.1.1", "550", phase="RCPT").hard is True
    assert verdict("450 4.1.1 user unknown (directory busy)", "4.1.1", "450", phase="RCPT").hard is False
    deferred = verdict("450 4.1.1 user unknown", "4.1.1", "450", phase="RCPT", kind=Kind.DEFERRAL)
    assert deferred.hard is False
    assert verdict("host unknown", "5.1.2", None).hard is True
    assert verdict("relay access denied", "5.7.1", "554").reason == "norelaying"
    assert verdict("relay access denied", "5.7.1", "554").hard is True
    assert verdict("relay access denied", "4.7.1", "454").hard is False


def test_deferral_without_specific_cause_is_expired_and_gave_up_4xx_too():
    v = verdict("connect to mx.example.com[192.0.2.1]:25: Connection timed out", "4.4.1", kind=Kind.DEFERRAL)
    assert v.reason == "expired" and not v.hard
    v = verdict("450 4.2.0 mailbox busy", "4.2.0", "450", kind=Kind.BOUNCE)
    assert v.reason == "expired" and v.explanation[0] == "failed-with-4xx:gave-up"
    # a network cause that is not a time-out stays what it is
    v = verdict("lost connection with mx.example.com while performing the HELO handshake", "4.4.2",
                kind=Kind.BOUNCE)
    assert v.reason == "networkerror"
    # a specific cause still wins over "still pending"
    assert verdict("452 4.2.2 Mailbox full", "4.2.2", "452", kind=Kind.DEFERRAL).reason == "mailboxfull"


def test_nothing_to_go_on():
    v = verdict("")
    assert (v.reason, v.category) == ("undefined", "unknown") and v.confidence <= 0.1
    v = verdict("the frobnicator said no")
    assert v.reason == "onhold" and v.confidence < 0.3 and v.explanation == ("no-rule-matched",)


def test_report_kinds_settle_the_reason():
    assert verdict(kind=Kind.COMPLAINT).reason == "feedback"
    assert verdict(kind=Kind.DELIVERED).reason == "delivered"
    v = verdict("Out of office", provider_class="auto-reply")
    assert v.reason == "vacation" and v.category == "auto_reply" and not v.hard


def test_vendor_rules_can_be_limited_to_a_provider():
    text = "The recipient name is not recognized MSEXCH:IMS:X 0 (000C05A6) Unknown Recipient"
    assert verdict(text, provider="exchange").reason == "userunknown"
    assert "exchange.name-not-recognized" in " ".join(verdict(text, provider="exchange").explanation)


@pytest.mark.parametrize("text,reason", [
    ("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "blocked"),
    ("550 5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM)", "authfailure"),
    ("550 5.7.25 The IP address sending this message does not have a PTR record setup", "requireptr"),
    ("552 5.3.4 Message size exceeds fixed maximum message size", "mesgtoobig"),
    ("554 5.7.1 Message rejected as spam by Content Filtering", "spamdetected"),
    ("550 5.7.1 Virus detected: Eicar-Test-Signature", "virusdetected"),
    ("421 4.7.0 Too many concurrent connections from your IP", "toomanyconn"),
    ("550 5.2.1 The email account that you tried to reach is disabled", "suspend"),
    ("550 5.1.6 recipient no longer on server", "hasmoved"),
    ("556 5.1.10 Recipient address has null MX", "notaccept"),
    ("530 5.7.0 Must issue a STARTTLS command first", "failedstarttls"),
    ("554 5.4.6 Hop count exceeded - possible mail loop", "networkerror"),
    ("452 4.3.1 Insufficient system storage", "systemfull"),
    ("550 5.7.1 Messages with multiple addresses in From: header are not accepted", "notcompliantrfc"),
])
def test_phrase_families(text, reason):
    code = text.split()[1]
    assert verdict(text, code, text[:3]).reason == reason


@pytest.mark.parametrize("text,status", [
    ("host gmail-smtp-in.l.google.com[247.2.70.156] said: 552 5.7.0 message rejected", "5.7.0"),
    ("232.4.165.83 does not like recipient. Remote host said: 550 user unknown", None),
    ("Remote server 10.4.1.1 said: 4.2.2 mailbox full", "4.2.2"),
])
def test_one_status_code_expression_for_parsing_rules_and_model(text, status):
    """An IP address is not a status code: the parser, the rule tables and the model's code
    tokens read the same code from the same text (one expression, imported)."""
    from classifier.model.features import code_tokens
    from classifier.parse.text import find_status
    from classifier.rules.status_codes import parse_status

    assert find_status(text) == status
    assert (".".join(parse_status(text)) if parse_status(text) else None) == status
    tokens = code_tokens(None, None, None, None, None, text)
    assert [t for t in tokens if t.startswith("sf=")] == [f"sf={status or 'none'}"]
