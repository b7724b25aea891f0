"""End to end over HTTP: failures that are the sender's never suppress the recipient and
are counted on the sender's health (issue 10; README "What it answers"). Covers the
sender-side readings of issues 1, 2 and 4: a refusal at MAIL FROM or with X.1.7/X.1.8, a
sender-verify failure, a sending quota, an unverified SES identity."""
from __future__ import annotations

import pytest

from tests.clock import ago
from tests.conftest import FIXTURES

RAW = {"Content-Type": "message/rfc822"}


def event(i, rcpt, diagnostic, **kw):
    return {"id": f"s-{i}", "type": "bounce", "recipient": rcpt, "diagnostic": diagnostic,
            "time": ago(days=i % 5), "stream": "transactional", **kw}


SENDER_SIDE_EVENTS = [
    ("rejected", dict(diagnostic="550 5.1.1 <news@shop.example>... User unknown (in reply to MAIL FROM command)",
                      status="5.1.1", reply_code="550", smtp_phase="MAIL")),
    ("rejected", dict(diagnostic="553 5.1.8 <news@shop.example>: Domain not found", status="5.1.8",
                      reply_code="553")),
    ("rejected", dict(diagnostic="550-Verification failed for <news@shop.example> 550-Response: 550 5.1.1 "
                                 "user unknown 550 Sender verify failed", status="5.1.1", reply_code="550")),
    ("speeding", dict(diagnostic="552 5.2.2 Daily sending quota exceeded", status="5.2.2", reply_code="552")),
    ("rejected", dict(diagnostic="554 Message rejected: Email address is not verified. The following identities "
                                 "failed the check in region US-EAST-1: news@shop.example", reply_code="554")),
]


@pytest.mark.parametrize("reason,fields", SENDER_SIDE_EVENTS)
def test_a_sender_side_event_leaves_the_recipient_sendable(api, reason, fields):
    # three times: a soft category's threshold (mailbox_full: 3 in 7 days) would be reached
    events = [event(i, "rosa@partner.example", **fields) for i in range(3)]
    assert api.post("/v1/events", json=events).json() == {"accepted": 3, "duplicates": 0}
    answer = api.get("/v1/recipients/rosa@partner.example").json()
    assert answer["sendable"] is True and answer["reasons"] == []
    history = api.get("/v1/recipients/rosa@partner.example/history").json()["events"]
    assert {e["verdict"]["reason"] for e in history if e.get("kind") == "bounce"} == {reason}
    status = api.get("/v1/senders/status").json()
    assert status["total"] == 3 and sum(status["categories"].values()) == 3


@pytest.mark.parametrize("name,recipient", [("exim-sender-verify.eml", "rosa@partner.example"),
                                            ("postfix-ses-unverified.eml", "mei@customer.example")])
def test_a_raw_sender_side_bounce_leaves_the_recipient_sendable(api, name, recipient):
    r = api.post(f"/v1/inbound/{api.tenant}", data=(FIXTURES / name).read_bytes(), headers=RAW)
    assert r.status_code == 200, r.text
    [found] = r.json()["recipients"]
    assert found["recipient"] == recipient and found["reason"] == "rejected" and found["hard"] is False
    assert not found["effects"]
    assert api.get(f"/v1/recipients/{recipient}").json()["sendable"] is True
    status = api.get("/v1/senders/status").json()
    assert status["categories"] == {"policy_rejected": 1}
    assert status["recent"][0]["reason"] == "rejected"
