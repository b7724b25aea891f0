"""``hostunknown`` needs a host or domain to be said not to exist, never a dotted local
part (issue 6): "john.doe does not exist" is about a mailbox, and reading it as a domain
would suppress a whole domain's worth of verdicts as ``invalid_domain``."""
from __future__ import annotations

import pytest

from classifier.events import Evidence, Kind
from classifier.rules.engine import RuleEngine


def matched(diagnostic, status=None):
    return RuleEngine().evaluate(Evidence(diagnostic=diagnostic, status=status, smtp_phase="RCPT",
                                          kind=Kind.BOUNCE))


@pytest.mark.parametrize("diagnostic", [
    "550 john.doe does not exist",
    "550 5.1.1 Recipient john.doe does not exist here",
    "550 user first.last not found",
    "550 mailbox first.last@example.com does not exist",
    "550 Recipient <john.doe@example.com> not found",
    "mail for domain partner.example: user john.doe not found",
    "550 the domain's user first.last@partner.example was not found",
])
def test_a_dotted_local_part_is_not_a_host(diagnostic):
    result = matched(diagnostic)
    assert "phrase:hostunknown.phrase" not in result.matched
    assert result.verdict.category != "domain_misconfigured"


@pytest.mark.parametrize("diagnostic", [
    "550 Host example.invalid not found",
    "550 domain example.invalid does not exist",
    "550 5.1.2 the domain nope.example does not exist",
    "553 mx1.nope.example does not exist",
    "550 Domain nope.example not found",
])
def test_named_hosts_and_domains_still_are(diagnostic):
    assert matched(diagnostic).verdict.reason == "hostunknown"
