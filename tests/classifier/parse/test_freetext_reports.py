"""Free-text and vendor NDRs without a recipient block (issue 12): who failed, and why.

Every message here is written for this file, in the styles such reports take (IMail,
MailEnable, X.400 gateways, directory robots, list relays, JMRP ...); none is a copy of a
real one. Each test is about one mechanism of classifier/parse/freetext.py, signals.py,
arf.py or the DSN reading, as a user of ``parse_message`` sees it.
"""
from __future__ import annotations

import json

import pytest

from classifier.parse import freetext, parse_message
from tests.conftest import shared


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


# --- addresses near failure words ------------------------------------------------------

@pytest.mark.parametrize("body", [
    # IMail style: a label, the address, the remote's reply below
    ("Unknown user: ana.ruiz@dest.example\n\nRCPT TO generated following response:\n"
    "550 5.1.1 <ana.ruiz@dest.example>... no mailbox here\n\n\nOriginal message follows.\n\nHi\n"),
    # a relay's one-line summary
    ("Intended recipient: ana.ruiz@dest.example\n\nThe following mail has been returned because it "
    "encountered an error while being processed.\n\n--------RETURNED MAIL FOLLOWS--------\nHi\n"),
    # MailEnable style, the address wrapped in [SMTP:...]
    ("Message could not be delivered to some recipients.\n\n\tRecipient: [SMTP:ana.ruiz@dest.example]\n"
    "\tReason: Remote SMTP Server Returned: 550 mailbox not local\n\nMessage headers follow:\n"),
    # an X.400 gateway glues the address to its label with '='
    ("did not reach the following recipient(s):\n\nc=ES;a= ;p=Dest;o=Hub;dda:SMTP=ana.ruiz@dest.example; on Mon\n"
    "    The recipient name is not recognized\n"),
    # a sentence, in quotes, with the failure words after it
    "Delivery of email to this address\n\n\"ana.ruiz@dest.example\"\n\nhas been postponed due to a full mailbox.\n",
    # in another language
    "Die E-Mail-Adresse ana.ruiz@dest.example existiert nicht. Bitte die Schreibweise pruefen.\n",
    # a directory robot names the address inside its sentence
    ("The address to which your message was addressed, ana.ruiz@dest.example, did not exactly match "
    "an address of ours.\n"),
])
def test_an_address_beside_failure_words_is_the_failed_recipient(body):
    assert recipients(mail(body)) == ["ana.ruiz@dest.example"]


def test_every_address_of_a_list_written_into_the_failure_sentence_is_a_recipient():
    body = ("Delivery failed for the following recipients: ana.ruiz@dest.example, bo.lind@dest.example "
            "and \"cy.moss@dest.example\"\nReason: 550 No such user\n")
    report = parse_message(mail(body, subject="Returned mail"))
    assert [r.recipient for r in report.recipients] == ["ana.ruiz@dest.example", "bo.lind@dest.example",
                                                         "cy.moss@dest.example"]
    assert all("No such user" in r.evidence.diagnostic for r in report.recipients)


def test_sender_contact_daemon_and_example_addresses_are_not_recipients():
    body = ("Your mail to the following recipient could not be delivered because it is not accepting "
            "mail from news@sender.example:\n\n"
            "    Local mailbox ana.ruiz@dest.example is unavailable: user not found\n\n"
            "If you need help, please contact helpdesk@carrier.example or postmaster@carrier.example.\n\n"
            "Our addresses have the form first.last@dest.example; please check the spelling and the "
            "directory at https://dest.example before writing again.\n\n"
            "System Contact: MAILER-DAEMON@relay.carrier.example\n\n"
            "------ This is a copy of your message, including all the headers. ------\n\n"
            "From: news@sender.example\nTo: ana.ruiz@dest.example\nSubject: March news\n\nHello\n")
    assert recipients(mail(body)) == ["ana.ruiz@dest.example"]


def test_a_summarised_original_names_the_recipient_only_on_its_to_line():
    """A report that quotes the original's header summary names its From (the sender) and
    its To; only the To may be the failed recipient, and only when nothing else is named."""
    body = ("I'm afraid I wasn't able to deliver the following message.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "From: news@sender.example\nTo: ana.ruiz@dest.example\nSubject: March news\n\n"
            "---Below this line is a copy of the message.\n\nHello\n")
    assert recipients(mail(body)) == ["ana.ruiz@dest.example"]


@pytest.mark.parametrize("line", ["Envelope-From: news@sender.example", "Original-Sender: News Desk <news@sender.example>",
                                  "MAIL FROM:<news@sender.example>", "Cc: ed@sender.example"])
def test_a_report_naming_only_the_senders_side_names_no_recipient(line):
    report = f"{line}\nYour message could not be delivered: the recipient is unknown.\n"
    assert freetext.failed_records(report) == []


# --- a diagnostic per recipient ---------------------------------------------------------

def test_each_recipient_of_a_free_text_report_keeps_its_own_reason():
    body = ("Unknown user: ana.ruiz@dest.example\n\nRCPT TO generated following response:\n"
            "550 5.1.1 <ana.ruiz@dest.example>... Addressee unknown\n\n"
            "Mailbox full: bo.lind@dest.example\n\nRCPT TO generated following response:\n"
            "452 4.2.2 <bo.lind@dest.example>... Over quota, try later\n\n\n"
            "Original message follows.\n\nHello\n")
    found = {r.recipient: r for r in parse_message(mail(body)).recipients}
    assert set(found) == {"ana.ruiz@dest.example", "bo.lind@dest.example"}
    ana, bo = found["ana.ruiz@dest.example"].evidence, found["bo.lind@dest.example"].evidence
    assert "Addressee unknown" in ana.diagnostic and "quota" not in ana.diagnostic.lower()
    assert "Over quota" in bo.diagnostic and "unknown" not in bo.diagnostic.lower()
    assert (ana.status, bo.status) == ("5.1.1", "4.2.2")


def test_a_recipient_whose_line_says_little_does_not_borrow_the_previous_recipients_reason():
    report = ("Your message could not be delivered.\n\n"
              "Mailbox full: bo.lind@dest.example\n\nana.ruiz@dest.example\n")
    found = {r.recipient: r.diagnostic for r in freetext.failed_records(report)}
    assert set(found) == {"ana.ruiz@dest.example", "bo.lind@dest.example"}
    assert "full" not in found["ana.ruiz@dest.example"]
    assert "Mailbox full" in found["bo.lind@dest.example"] and "ana.ruiz" not in found["bo.lind@dest.example"]


@pytest.mark.parametrize("body,action", [
    (("This is an advisory only.\n\nDelivery of email to this address\n\n\"ana.ruiz@dest.example\"\n\n"
     "has been postponed due to a full mailbox.\n\nWe will continue to try to deliver your message.\n"), "delayed"),
    # "you do not need to resend" beside "permanent": nothing more will be tried
    (("The attached message had PERMANENT fatal delivery errors!\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
     "Sending: <news@sender.example> to <ana.ruiz@dest.example>\n"
     "550 5.1.1 <ana.ruiz@dest.example>: no such user\n"), "failed"),
    # "has not been delivered" is said of failures; a deferral says "not yet"
    (("Your message to ana.ruiz@dest.example has reached us, but this address is no longer valid.\n\n"
     "Your message has NOT been delivered.\n"), "failed"),
    ("Your message to ana.ruiz@dest.example has not yet been delivered: the remote server is busy.\n", "delayed"),
])
def test_a_report_that_will_retry_is_a_deferral_and_one_that_gave_up_is_not(body, action):
    raw = mail(body, from_="postmaster@relay.carrier.example", subject="Mail delivery report")
    assert [(r.recipient, r.action) for r in parse_message(raw).recipients] == [("ana.ruiz@dest.example", action)]


# --- the returned original when the report names nobody --------------------------------

ORIGINAL = ("Received: from out.sender.example (out.sender.example [192.0.2.7])\n"
            "\tby mx.dest.example (MTA) with ESMTP id 4Xa9\n\tfor <{envelope}>; Mon, 2 Mar 2026 09:59:58 +0000\n"
            "From: News <news@sender.example>\nTo: {to}\nSubject: March news\n{extra}"
            "Message-ID: <m-42@sender.example>\n\nHello\n")
MULTIPART = ("Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n"
             "This message was created automatically by mail delivery software.\n\n"
             "A message that you sent could not be delivered to one or more of its recipients.\n\n"
             "One or more of the recipients are not a valid user of the system.\n\n"
             "--b1\nContent-Type: message/rfc822\n\n{original}\n--b1--\n")


def _with_original(original: str) -> bytes:
    raw = mail("", subject="Mail delivery failed").decode()
    head, _, _ = raw.partition("\n\n")
    return (head + "\nMIME-Version: 1.0\n" + MULTIPART.format(original=original)).encode()


def test_a_report_that_names_nobody_fails_the_originals_recipient():
    original = ORIGINAL.format(envelope="ana.ruiz@dest.example", to="Ana <ana.ruiz@dest.example>", extra="")
    assert recipients(_with_original(original)) == ["ana.ruiz@dest.example"]


def test_a_mailing_list_originals_recipient_is_its_envelope_recipient():
    """A list's message is addressed To the list: the subscriber is in the envelope only."""
    original = ORIGINAL.format(envelope="bo.lind@dest.example", to="talk@lists.sender.example",
                               extra="List-Id: Talk <talk.lists.sender.example>\n"
                                     "X-Original-To: talk@lists.sender.example\n")
    assert recipients(_with_original(original)) == ["bo.lind@dest.example"]


def test_a_report_that_names_nobody_fails_the_recipient_its_verp_return_path_encodes():
    body = "Your message could not be delivered: the mailbox is full.\n"
    assert recipients(mail(body, to="news-bounces+ana.ruiz=dest.example@sender.example")) == \
        ["ana.ruiz@dest.example"]


# --- bare local parts ------------------------------------------------------------------

def test_a_bare_local_part_takes_the_domain_the_report_settles():
    """Named by local part only: the reporting system's own (registrable) domain, or the
    returned original's recipient with that local part. No domain settled, no recipient."""
    body = (" --------Message not delivered to the following:\n\n"
            " ana.ruiz    No matches to directory query\n\n --------Unsent Message below:\n\nHello\n")
    assert recipients(mail(body, from_="MAILER-DAEMON@mx2.hub.dest.example")) == ["ana.ruiz@dest.example"]
    listed = ("Your mail cannot be delivered to the following address(es):\n\n"
              ' ana.ruiz "(0), ErrMsg=mail box space not enough"\n\n'
              "---- Header of the source mail attached ----\n\n"
              "Received: from out.sender.example by mx.dest.example\n"
              "\tfor <Ana.Ruiz@mail.dest.example>; Mon, 2 Mar 2026\n"
              "From: news@sender.example\nTo: talk@lists.sender.example\nSubject: March news\n")
    assert recipients(mail(listed, from_='"Relay System" <>')) == ["Ana.Ruiz@mail.dest.example"]
    assert recipients(mail(body, from_='"Relay System" <>')) == []


# --- is it a bounce at all --------------------------------------------------------------

FAILED = ("------ Failed Recipients ------\n\n<ana.ruiz@dest.example>: Requested action not taken: "
          "mailbox unavailable. [SMTP Error Code 550]\n-------- Returned Mail --------\n\nHello\n")


@pytest.mark.parametrize("headers", [
    {"from": "Relay_Mail_Service@carrier.example", "subject": "Returned Mail - Error During Delivery"},
    {"from": "Relay <relay@carrier.example>", "subject": "Notice", "return_path": "<>"},
    {"from": "Relay <relay@carrier.example>", "subject": "Notice", "return_path": "<MAILER-DAEMON>"},
])
def test_a_report_is_a_bounce_by_its_text_with_a_bounce_subject_or_a_daemon_return_path(headers):
    report = parse_message(mail(FAILED, **headers))
    assert report.is_bounce
    assert [r.recipient for r in report.recipients] == ["ana.ruiz@dest.example"]


@pytest.mark.parametrize("headers,body", [
    # a person writing about a failed delivery
    ({"from": "Ana Ruiz <ana.ruiz@dest.example>", "subject": "Re: Delivery failure"},
     "Hi, my last message could not be delivered to bo.lind@dest.example, the mailbox is full.\n"),
    # a ticket about a failed delivery: the bounce words are not where a bounce's subject has them
    ({"from": "Helpdesk <helpdesk@company.example>", "subject": "Ticket #123: Mail delivery failed to a customer",
      "return_path": "<helpdesk@company.example>"},
     "Hi team, a customer says our mail to ana.ruiz@dest.example could not be delivered. Can someone check?\n"),
    # the same words with no bounce subject and no daemon return path
    ({"from": "Ana Ruiz <ana.ruiz@dest.example>", "subject": "about bo", "return_path": "<ana.ruiz@dest.example>"},
     "Your message could not be delivered to bo.lind@dest.example: unknown user.\n"),
    # an RFC 3834 auto-reply: null return path, and it says what it is
    ({"from": "Bo Lind <bo.lind@dest.example>", "subject": "Automatic reply: March news", "return_path": "<>",
      "auto_submitted": "auto-replied"},
     "I am out of the office until Monday; your message has not been delivered to my deputy.\n"),
])
def test_mail_that_only_talks_about_failures_is_not_a_bounce(headers, body):
    report = parse_message(mail(body, **headers))
    assert not report.is_bounce
    assert all(r.action not in ("failed", "delayed") for r in report.recipients)


# --- one recipient named twice ----------------------------------------------------------

def test_a_recipient_named_in_several_dsn_blocks_is_reported_once():
    blocks = "".join(f"Final-Recipient: rfc822; <ana.ruiz@dest.example>\nX-Actual-Recipient: rfc822; "
                     f"alias{i}@dest.example\nAction: failed\nStatus: 5.1.1\n\n" for i in range(4))
    raw = ("From: Mail Delivery Subsystem <MAILER-DAEMON@mx.dest.example>\nTo: news-bounces@sender.example\n"
           "Subject: Returned mail: User unknown\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b2\"\n\n"
           "--b2\nContent-Type: text/plain\n\n----- The following addresses had permanent fatal errors -----\n"
           "<ana.ruiz@dest.example>\n\n550 <ana.ruiz@dest.example>... User unknown\n\n"
           "--b2\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.dest.example\n\n"
           + blocks + "--b2--\n")
    report = parse_message(raw.encode())
    assert [(r.recipient, r.evidence.status) for r in report.recipients] == [("ana.ruiz@dest.example", "5.1.1")]


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


# --- Mailman's corpus, against flufl.bounce's own expectations --------------------------

@pytest.mark.shared
def test_mailmans_corpus_recipients_are_found():
    """flufl.bounce's tests list the recipients of each message of its corpus: at least 90%
    of them are found (72 of 99 before these mechanisms; issue 12's target 0.90)."""
    root = shared("corpora", "flufl.bounce")
    want = found = 0
    for line in (root / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        expected = {a.lower() for a in row["flufl_permanent"] + row["flufl_temporary"]}
        got = {(r.recipient or "").lower() for r in parse_message((root / row["file"]).read_bytes()).recipients}
        want, found = want + len(expected), found + len(expected & got)
    assert want and found / want >= 0.90, f"{found} of {want}"
