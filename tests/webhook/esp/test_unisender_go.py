"""Unisender Go: the real captured request verifies with its (since disabled) API key, the
derived vectors fail, and every sample goes through the HTTP stack authenticated as Unisender
Go does it (the body's MD5 with the tenant's API key in place of the auth value)."""
from __future__ import annotations

import time

import orjson
import pytest

from tests.webhook.esp.shared_esp import Material, authentic
from webhook.esp.unisender_go import UnisenderGo, sign

M = Material("unisender-go")
KEY = "tenant-api-key-6mjstx9gwi7qj8eni6m77"


@pytest.mark.parametrize("vector", M.vectors()["vectors"], ids=lambda v: v["id"])
def test_vectors(vector):
    assert authentic(UnisenderGo, {"api_key": vector["api_key"]}, M.body(vector), {},
                     time.time()) is (vector["expected"] == "valid")


def test_the_real_request_over_http(esp):
    [v] = [v for v in M.vectors()["vectors"] if v["id"] == "ug-real-valid"]
    M.sample("REAL_signed_clicked.raw"), M.sample("REAL_signed_clicked.pretty.json")
    assert M.sample("REAL_signed_clicked.raw") == M.body(v)
    esp.configure("unisender-go", api_key=v["api_key"])
    r = esp.post("unisender-go", M.body(v))
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    [entry] = esp.history("unisendergo@anymail.dev")
    assert entry["kind"] == "click" and entry["message_id"] == "1sn15Z-0007Le-GtVN"
    assert esp.post("unisender-go", M.body(v)).json()["duplicates"] == 1      # its retry counts once


def test_get_check_when_the_webhook_is_switched_on(esp):
    assert esp.http.get(f"{esp.base}/v1/webhooks/unisender-go/{esp.tenant}", timeout=10).status_code == 200
    assert esp.http.get(f"{esp.base}/v1/webhooks/postmark/{esp.tenant}", timeout=10).status_code == 405


@pytest.fixture
def unisender(esp):
    esp.configure("unisender-go", api_key=KEY)

    def post(event: dict) -> dict:
        r = esp.post("unisender-go", sign(KEY, orjson.dumps(dict(event, auth="%AUTH%"))))
        assert r.status_code == 200, r.text
        return r.json()
    return post


def test_hard_bounce_of_an_unknown_user(esp, unisender):
    assert unisender(M.sample_json("anymail_single_hard_bounced.json"))["accepted"] == 1
    assert esp.codes("bounce@example.com") == ["previously_bounced"]
    [entry] = esp.history("bounce@example.com")
    assert entry["provider_class"] == "unisender-go:err_user_unknown" and entry["reply_code"] == "555"


def test_soft_bounce_is_a_deferral(esp, unisender):
    unisender(M.sample_json("anymail_single_soft_bounced.json"))
    [entry] = esp.history("full@example.com")
    assert entry["kind"] == "deferral" and entry["provider_class"] == "unisender-go:err_mailbox_full (soft)"
    assert esp.answer("full@example.com")["sendable"] is True


def test_spam_and_unsubscribe(esp, unisender):
    unisender(M.sample_json("anymail_single_spam.json"))
    unisender(M.sample_json("anymail_single_unsubscribed.json"))
    assert sorted(esp.codes("to@example.com", stream="marketing")) == ["previous_spam", "unsubscribed_all"]


@pytest.mark.parametrize("name, kind", [
    ("anymail_single_sent.json", "send"), ("anymail_single_delivered.json", "delivered"),
    ("anymail_single_opened.json", "open"), ("anymail_single_clicked.json", "click"),
])
def test_single_events(esp, unisender, name, kind):
    event = M.sample_json(name)
    unisender(event)
    assert [e["kind"] for e in esp.history(event["email"])] == [kind]


def test_a_batch_and_its_retry(esp, unisender):
    batch = M.sample_json("anymail_multi_sent_delivered.json")
    assert unisender(batch) == {"accepted": 2, "duplicates": 0, "ignored": 0}
    assert [e["kind"] for e in esp.history("cc@example.com")] == ["delivered"]
    # Unisender's retry adds retry_count: the same events, counted once
    assert unisender(dict(batch, retry_count=1)) == {"accepted": 0, "duplicates": 2, "ignored": 0}


def test_a_spam_block_notice_is_ignored_and_a_tampered_body_refused(esp, unisender):
    notice = {"events_by_user": [{"user_id": 1, "events": [{"event_name": "transactional_spam_block", "event_data": {
        "block_time": "2024-09-08 19:56:41", "block_type": "one_smtp", "domain": "example.org",
        "SMTP_blocks_count": 1, "domain_status": "blocked"}}]}]}
    assert unisender(notice) == {"accepted": 0, "duplicates": 0, "ignored": 1}
    body = sign(KEY, orjson.dumps(dict(M.sample_json("anymail_single_hard_bounced.json"), auth="%AUTH%")))
    assert esp.post("unisender-go", body.replace(b"bounce@", b"victim@")).status_code == 401
    assert esp.history("victim@example.com") == []


def test_every_sample_is_sent_by_a_test():
    assert M.samples() <= M.named_in(__file__), sorted(M.samples() - M.named_in(__file__))
