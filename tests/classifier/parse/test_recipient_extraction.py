"""Addresses an NDR gives to contact (postmaster, help desk, abuse desk) or that are the
reporting system's own are never taken for the failed recipient (issue 7): suppressing
them would be wrong twice, and the real recipient would go unreported."""
from __future__ import annotations

import pytest

from classifier.parse import ndr, parse_message
from tests.conftest import FIXTURES


@pytest.mark.parametrize("name,recipients", [
    # "For assistance, contact support@... or write to abuse@...", then the real failure
    ("ndr-contact-addresses.eml", ["rosa@partner.example"]),
    # the report names its own MAILER-DAEMON address on a recipient-shaped line
    ("ndr-reporter-address.eml", ["rosa@partner.example"]),
    # a role address that did fail stays a recipient; the postmaster to write to does not
    ("ndr-role-recipient.eml", ["support@partner.example"]),
])
def test_only_failed_recipients_are_reported(name, recipients):
    report = parse_message((FIXTURES / name).read_bytes())
    assert [r.recipient for r in report.recipients] == recipients


@pytest.mark.parametrize("text", [
    "If you have questions, please contact\n  postmaster@partner.example\n",
    "For further assistance, please send mail to <postmaster@partner.example>.",
    "Our help desk: helpdesk@partner.example",
    "To report abuse write to abuse@isp.example",
])
def test_contact_addresses_are_recognised_by_their_context(text):
    start = text.index("@")
    start = max(text.rfind(c, 0, start) for c in " \n<:") + 1
    assert ndr.is_contact(text, start)


@pytest.mark.parametrize("text", [
    "<rosa@partner.example>: host mx said: 550 5.1.1 User unknown (in reply to RCPT TO command)\n\n<support@x.example>",
    "Delivery to the following recipient failed permanently:\n\n     help@partner.example\n",
    "The following address(es) failed:\n\n  postmaster@partner.example\n",
])
def test_failed_addresses_are_not_contacts(text):
    last = text.rstrip().rsplit(None, 1)[-1].strip("<>")
    assert not ndr.is_contact(text, text.rindex(last))


@pytest.mark.parametrize("text", [
    "Could not send message to rosa@partner.example",
    "local delivery failed: unable to write to mailbox rosa@partner.example",
    "Failed to send to rosa@partner.example: 550 5.1.1 user unknown",
])
def test_the_failed_address_in_a_failure_sentence_is_not_a_contact(text):
    assert not ndr.is_contact(text, text.index("rosa@"))
