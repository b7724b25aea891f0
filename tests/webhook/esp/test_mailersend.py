"""MailerSend: the vectors in ../shared/esp/mailersend verify as given (and the derived ones
fail), every sample of both payload versions goes through the HTTP stack signed with the
tenant's secret, and the save-time ping is answered without storing anything."""
from __future__ import annotations

import time

import orjson
import pytest

from tests.webhook.esp.shared_esp import Material, authentic
from webhook.esp.mailersend import PING_SECRET, MailerSend, sign

M = Material("mailersend")
SECRET = "tenant-signing-secret-0123456789"


@pytest.mark.parametrize("vector", M.vectors()["vectors"], ids=lambda v: v["id"])
def test_vectors(vector):
    ok = authentic(MailerSend, {"signing_secret": vector["secret"]}, M.body(vector), vector["headers"], time.time())
    if vector["id"] == "ms-ping-computed":
        ok = ok and orjson.loads(M.body(vector))["type"] == "webhook.test"
    assert ok is (vector["expected"] == "valid")


@pytest.fixture
def mailersend(esp):
    esp.configure("mailersend", signing_secret=SECRET)
    return esp.poster("mailersend", lambda body: {"Signature": sign(SECRET, body)})


def test_the_ping_is_accepted_with_the_public_secret_and_stores_nothing(esp, mailersend):
    [ping] = [v for v in M.vectors()["vectors"] if v["id"] == "ms-ping-computed"]
    M.sample("webhook_test_ping.json")
    r = esp.post("mailersend", M.body(ping), ping["headers"])
    assert r.status_code == 200 and r.json() == {"accepted": 0, "duplicates": 0, "ignored": 1}
    # the public secret signs nothing else
    event = M.sample("v1/anymail_hard_bounced.json")
    r = esp.post("mailersend", event, {"Signature": sign(PING_SECRET, event)})
    assert r.status_code == 401
    assert esp.ignored() == {"mailersend:webhook.test": 1}       # counted, no event stored
    assert esp.stored() == [f"rb:t:{{{esp.tenant}}}:ignored"]


@pytest.mark.parametrize("name", ["v1/anymail_hard_bounced.json", "v2/symfony_hard_bounced.json"])
def test_hard_bounce_suppresses_with_the_reason_mailersend_gives(esp, mailersend, name):
    body = M.sample(name)
    assert mailersend(body) == {"accepted": 1, "duplicates": 0, "ignored": 0}
    address = "invalid@example.com" if "v1" in name else "test@example.com"
    # "Host or domain name not found": the domain, not the mailbox
    assert esp.codes(address) == ["invalid_domain"]
    [entry] = esp.history(address)
    assert entry["provider_class"].startswith("mailersend:hard_bounced")
    assert entry["diagnostic"] == "Host or domain name not found"
    assert mailersend(body) == {"accepted": 0, "duplicates": 1, "ignored": 0}     # MailerSend retries


@pytest.mark.parametrize("name", ["v1/anymail_soft_bounced.json", "v2/symfony_soft_bounced.json"])
def test_soft_bounce_never_suppresses(esp, mailersend, name):
    mailersend(M.sample(name))
    address = "notauser@example.com" if "v1" in name else "test@example.com"
    assert esp.answer(address)["sendable"] is True
    [entry] = esp.history(address)
    assert entry["kind"] == "bounce" and entry["verdict"]["hard"] is False
    assert entry["provider_class"].startswith("mailersend:soft_bounced")


@pytest.mark.parametrize("name", ["v1/anymail_spam_complaint.json", "v2/symfony_spam_complaint.json"])
def test_spam_complaint(esp, mailersend, name):
    mailersend(M.sample(name))
    address = "recipient@example.com" if "v1" in name else "test@example.com"
    assert esp.codes(address, stream="marketing") == ["previous_spam"]


@pytest.mark.parametrize("name", ["v1/anymail_unsubscribed.json", "v2/symfony_unsubscribed.json"])
def test_unsubscribe_from_everything(esp, mailersend, name):
    mailersend(M.sample(name))
    address = "recipient@example.com" if "v1" in name else "test@example.com"
    assert esp.codes(address, stream="marketing") == ["unsubscribed_all"]


@pytest.mark.parametrize("name, kind", [
    ("v1/anymail_sent.json", "send"), ("v1/doc_sent.json", "send"), ("v1/anymail_delivered.json", "delivered"),
    ("v1/anymail_opened.json", "open"), ("v1/anymail_clicked.json", "click"), ("v2/doc_sent.json", "send"),
    ("v2/symfony_sent.json", "send"), ("v2/symfony_sent_email_key.json", "send"),
    ("v2/symfony_delivered.json", "delivered"), ("v2/symfony_opened.json", "open"),
    ("v2/symfony_clicked.json", "click"),
])
def test_engagement_and_delivery(esp, mailersend, name, kind):
    event = M.sample_json(name)
    data = event["data"]
    address = data["email"]["recipient"]["email"] if isinstance(data.get("email"), dict) \
        else data.get("email") or data.get("recipient")
    mailersend(M.sample(name))
    [entry] = esp.history(address)
    assert entry["kind"] == kind and entry["id"] == data["id"] and entry["provider"] == "mailersend"
    assert esp.answer(address)["sendable"] is True


def test_survey_events_are_counted_as_ignored(esp, mailersend):
    assert mailersend(M.sample("v2/doc_survey_submitted.json")) == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert esp.ignored() == {"mailersend:activity.survey_submitted": 1}


def test_a_stream_tag_is_kept(esp, mailersend):
    event = M.sample_json("v2/symfony_delivered.json")
    event["data"]["tags"] = ["newsletter", "marketing"]
    mailersend(orjson.dumps(event))
    assert esp.history("test@example.com")[0]["stream"] == "marketing"


def test_tampered_or_unsigned_requests_are_refused(esp, mailersend):
    body = M.sample("v1/anymail_hard_bounced.json")
    assert esp.post("mailersend", body.replace(b"invalid@", b"victim@"), {"Signature": sign(SECRET, body)}).status_code == 401
    assert esp.post("mailersend", body).status_code == 401
    assert esp.stored() == []


def test_every_sample_is_sent_by_a_test():
    assert M.samples() <= M.named_in(__file__), sorted(M.samples() - M.named_in(__file__))
