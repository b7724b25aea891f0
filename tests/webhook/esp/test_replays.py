"""Issue 15, finding 7: replays. A signed SendGrid request was accepted again once its event
ids had left the dedup window (its timestamp never checked), and Mailgun and Svix timestamps
of "nan" passed the freshness check."""
from __future__ import annotations

import time

import orjson
import pytest

from tests.webhook.esp.conftest import MailgunSigner, SendGridSigner, SvixSigner


def test_7_a_signed_sendgrid_request_older_than_72_hours_is_refused(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)
    body = orjson.dumps([{"email": "old@example.org", "event": "bounce", "sg_event_id": "old-1",
                          "reason": "550 5.1.1 user unknown", "timestamp": int(time.time())}])
    old = str(int(time.time()) - 72 * 3600 - 600)
    r = esp.post("sendgrid", body, signer.headers(body, timestamp=old))
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp", r.text
    assert esp.stored() == []
    retry = str(int(time.time()) - 71 * 3600)          # SendGrid's own retries, within 72 h
    assert esp.post("sendgrid", body, signer.headers(body, timestamp=retry)).status_code == 200


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_7_non_finite_timestamps_are_refused_everywhere(esp, value):
    mailgun, svix, sendgrid = MailgunSigner(), SvixSigner(), SendGridSigner()
    esp.configure("mailgun", signing_key=mailgun.key)
    esp.configure("resend", secret=svix.secret)
    esp.configure("sendgrid", public_key=sendgrid.public_key)
    body = mailgun.body({"event": "failed", "severity": "permanent", "recipient": "n1@example.org", "id": "n1",
                         "timestamp": 1.0}, timestamp=value)
    assert esp.post("mailgun", body).status_code == 406          # Mailgun: permanent, stop retrying
    body = orjson.dumps({"type": "email.bounced", "created_at": "2026-01-01T00:00:00Z",
                         "data": {"to": ["n2@example.org"], "bounce": {"type": "Permanent"}}})
    headers = svix.headers(body, timestamp=value)
    assert esp.post("resend", body, headers).status_code == 401
    body = orjson.dumps([{"email": "n3@example.org", "event": "bounce", "sg_event_id": "n3", "timestamp": value}])
    assert esp.post("sendgrid", body, sendgrid.headers(body, timestamp=value)).status_code == 401
    assert esp.stored() == []
    # an event time that is not a finite number is not taken as a time (the request's is)
    body = orjson.dumps([{"email": "n4@example.org", "event": "bounce", "sg_event_id": "n4", "timestamp": value,
                          "reason": "550 5.1.1 user unknown"}])
    assert esp.post("sendgrid", body, sendgrid.headers(body)).status_code == 200
