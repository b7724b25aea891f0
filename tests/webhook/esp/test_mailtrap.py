"""Mailtrap: the official cross-SDK vector and its negative cases verify as the SDKs say, and
every sample (JSON and JSON Lines) goes through the HTTP stack signed with the tenant's secret."""
from __future__ import annotations

import time

import orjson
import pytest

from classifier.taxonomy import SENDER_SIDE
from tests.webhook.esp.shared_esp import Material, authentic
from webhook.esp.mailtrap import Mailtrap, sign

M = Material("mailtrap")
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize("vector", M.vectors()["vectors"], ids=lambda v: v["id"])
def test_vectors(vector):
    assert authentic(Mailtrap, {"signing_secret": vector["secret"]}, M.body(vector), vector["headers"],
                     time.time()) is (vector["expected"] == "valid")


def test_the_official_vector_over_http(esp):
    [v] = [v for v in M.vectors()["vectors"] if v["id"] == "mt-cross-sdk-valid"]
    esp.configure("mailtrap", signing_secret=v["secret"])
    r = esp.post("mailtrap", M.body(v), v["headers"])
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    [entry] = esp.history("recipient@example.com")
    assert entry["kind"] == "delivered" and entry["id"] == "f1e2d3c4-b5a6-7890-1234-567890abcdef"
    assert entry["stream"] == "transactional"


@pytest.fixture
def mailtrap(esp):
    esp.configure("mailtrap", signing_secret=SECRET)

    def post(name: str, content_type: str = "application/json") -> dict:
        body = M.sample(name)
        r = esp.post("mailtrap", body, {"Mailtrap-Signature": sign(SECRET, body)}, content_type=content_type)
        assert r.status_code == 200, r.text
        return r.json()
    return post


@pytest.mark.parametrize("name", ["anymail_bounce.json"])
def test_bounce_of_a_nonexistent_mailbox(esp, mailtrap, name):
    assert mailtrap(name)["accepted"] == 1
    assert esp.codes("invalid@example.com") == ["previously_bounced"]
    [entry] = esp.history("invalid@example.com")
    assert entry["provider_class"] == "mailtrap:hard" and entry["status"] == "5.1.1"
    assert entry["reply_code"] == "550"
    assert mailtrap(name) == {"accepted": 0, "duplicates": 1, "ignored": 0}      # Mailtrap retries


@pytest.mark.parametrize("name, content_type", [("doc_bounce.json", "application/json"),
                                                ("doc_bounce.jsonl", "application/jsonl")])
def test_a_bounce_mailtrap_files_as_spam_is_about_the_sender(esp, mailtrap, name, content_type):
    mailtrap(name, content_type)
    assert esp.answer("receiver@example.com")["sendable"] is True
    [entry] = esp.history("receiver@example.com")
    assert entry["provider_class"] == "mailtrap:spam" and entry["verdict"]["category"] in SENDER_SIDE
    assert entry["reply_code"] == "555"


@pytest.mark.parametrize("name", ["anymail_soft_bounce.json", "doc_soft_bounce.json", "anymail_suspension.json",
                                  "doc_suspension.json"])
def test_soft_bounces_and_suspensions_are_deferrals(esp, mailtrap, name):
    address = M.sample_json(name)["events"][0]["email"]
    mailtrap(name)
    [entry] = esp.history(address)
    assert entry["kind"] == "deferral" and entry["verdict"]["hard"] is False
    assert esp.answer(address)["sendable"] is True


def test_a_reject_names_mailtraps_suppression_list_entry(esp, mailtrap):
    mailtrap("doc_reject.json")                         # "Recipient in suppression list. Reason: unsubscription"
    assert esp.codes("receiver@example.com", stream="marketing") == ["unsubscribed_all"]


def test_a_reject_of_unstated_cause_suppresses_nothing(esp, mailtrap):
    mailtrap("anymail_reject.json")
    [entry] = esp.history("receiver@example.com")
    assert entry["kind"] == "drop" and entry["provider_class"] == "mailtrap:reject"
    assert esp.answer("receiver@example.com")["sendable"] is True


@pytest.mark.parametrize("name", ["anymail_spam.json", "doc_spam.json"])
def test_spam_complaint(esp, mailtrap, name):
    mailtrap(name)
    assert esp.codes("receiver@example.com", stream="marketing") == ["previous_spam"]


@pytest.mark.parametrize("name", ["anymail_unsubscribe.json", "doc_unsubscribe.json"])
def test_unsubscribe(esp, mailtrap, name):
    mailtrap(name)
    assert esp.codes("receiver@example.com", stream="marketing") == ["unsubscribed_all"]


@pytest.mark.parametrize("name, content_type, kinds", [
    ("anymail_delivery.json", "application/json", ["delivered"]), ("doc_delivery.json", "application/json", ["delivered"]),
    ("anymail_open.json", "application/json", ["open"]), ("doc_open.json", "application/json", ["open"]),
    ("anymail_click.json", "application/json", ["click"]), ("doc_click.json", "application/json", ["click"]),
    ("doc_delivery_batch.jsonl", "application/jsonl", ["delivered", "delivered"]),
    ("doc_mixed.jsonl", "application/jsonl", ["delivered", "open", "click"]),
])
def test_deliveries_opens_clicks(esp, mailtrap, name, content_type, kinds):
    assert mailtrap(name, content_type)["accepted"] == len(kinds)
    text = M.sample(name)
    events = orjson.loads(text)["events"] if name.endswith(".json") else [orjson.loads(x) for x in text.splitlines()]
    assert sorted(e["kind"] for a in {e["email"] for e in events} for e in esp.history(a)) == sorted(kinds)


def test_bulk_stream_is_marketing(esp, mailtrap):
    esp.configure("mailtrap", signing_secret=SECRET)
    event = dict(M.sample_json("doc_delivery.json")["events"][0], sending_stream="bulk")
    body = orjson.dumps({"events": [event]})
    assert esp.post("mailtrap", body, {"Mailtrap-Signature": sign(SECRET, body)}).status_code == 200
    assert esp.history("receiver@example.com")[0]["stream"] == "marketing"


def test_more_than_500_events_is_too_large_and_unsigned_is_refused(esp, mailtrap):
    event = M.sample_json("doc_delivery.json")["events"][0]
    body = orjson.dumps({"events": [dict(event, event_id=str(i)) for i in range(501)]})
    assert esp.post("mailtrap", body, {"Mailtrap-Signature": sign(SECRET, body)}).status_code == 413
    assert esp.post("mailtrap", M.sample("doc_delivery.json")).status_code == 401
    assert esp.stored() == []


def test_every_sample_is_sent_by_a_test():
    assert M.samples() <= M.named_in(__file__), sorted(M.samples() - M.named_in(__file__))
