"""Postal: the vectors in ../shared/esp/postal (made with the public test key of Postal's own
CI) verify as given and fail when changed; every sample goes through the HTTP stack signed
with a real RSA key of the test's own, the way Postal signs (SHA-256 and SHA-1 headers)."""
from __future__ import annotations

import base64
import functools
import time

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.webhook.esp.shared_esp import Material, authentic
from webhook.esp.postal import MAX_AGE, Postal

M = Material("postal")
VECTORS = M.vectors()


@functools.lru_cache(maxsize=1)
def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key() -> str:
    der = _key().public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def signed(envelope: dict, *, age: float = 0, sha1_only: bool = False) -> tuple[bytes, dict]:
    """``envelope`` as Postal would post it now (``age`` seconds ago): compact JSON, signed."""
    body = orjson.dumps(dict(envelope, timestamp=time.time() - age))
    sig = lambda digest: base64.b64encode(_key().sign(body, padding.PKCS1v15(), digest)).decode()
    headers = {"X-Postal-Signature": sig(hashes.SHA1())}
    if not sha1_only:
        headers["X-Postal-Signature-256"] = sig(hashes.SHA256())
    return body, headers


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["id"])
def test_vectors(vector):
    body = M.body(vector)
    when = orjson.loads(VECTORS["vectors"][0]["body"])["timestamp"] if vector["id"] != "postal-bounced-valid" \
        else orjson.loads(body)["timestamp"]
    assert authentic(Postal, {"public_key": VECTORS["public_key_spki_base64"]}, body, vector["headers"],
                     now=when + 1) is (vector["expected"] == "valid")


def test_the_key_is_taken_as_postal_prints_it(esp):
    spki = VECTORS["public_key_spki_base64"]
    pem = (M.dir / VECTORS["public_key_pem_file"]).read_text()
    for given in (spki, f"v=DKIM1; t=s; h=sha256; p={spki};", pem):
        assert esp.configure("postal", public_key=given)["credentials"]["public_key"] == spki


def test_a_vector_over_http_is_verified_then_refused_as_a_replay(esp):
    esp.configure("postal", public_key=VECTORS["public_key_spki_base64"])
    [sent] = [v for v in VECTORS["vectors"] if v["id"] == "postal-sent-valid"]
    r = esp.post("postal", M.body(sent), sent["headers"])
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp"     # signed in 2020
    [other] = [v for v in VECTORS["vectors"] if v["id"] == "postal-other-key"]
    r = esp.post("postal", M.body(sent), other["headers"])
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert esp.stored() == []


@pytest.fixture
def postal(esp):
    esp.configure("postal", public_key=public_key())

    def post(envelope: dict, **kw) -> dict:
        body, headers = signed(envelope, **kw)
        r = esp.post("postal", body, headers)
        assert r.status_code == 200, r.text
        return r.json()
    return post


def test_delivery_failure_is_read_from_the_remote_servers_reply(esp, postal):
    envelope = M.sample_json("anymail_hard_fail_MessageDeliveryFailed.json")
    envelope["payload"]["output"] = "550 5.1.1 <failed@example.com>: Recipient address rejected: User unknown"
    assert postal(envelope) == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert esp.codes("failed@example.com") == ["previously_bounced"]
    [entry] = esp.history("failed@example.com")
    assert entry["provider_class"] == "postal:HardFail" and entry["status"] == "5.1.1" and entry["reply_code"] == "550"
    assert entry["id"] == envelope["uuid"]
    assert postal(envelope) == {"accepted": 0, "duplicates": 1, "ignored": 0}    # Postal's retry reuses the uuid


def test_delivery_failure_as_sampled_has_no_reason_and_does_not_suppress(esp, postal):
    postal(M.sample_json("anymail_hard_fail_MessageDeliveryFailed.json"))       # output: "server output"
    [entry] = esp.history("failed@example.com")
    assert entry["kind"] == "bounce" and entry["verdict"]["hard"] is False
    assert esp.answer("failed@example.com")["sendable"] is True


def test_delay_is_a_deferral(esp, postal):
    postal(M.sample_json("anymail_soft_fail_MessageDelayed.json"))
    [entry] = esp.history("deferred@example.com")
    assert entry["kind"] == "deferral" and entry["provider_class"] == "postal:SoftFail"
    assert esp.answer("deferred@example.com")["sendable"] is True


def test_held_by_postals_suppression_list_is_a_drop_that_suppresses_nothing(esp, postal):
    postal(M.sample_json("anymail_held_MessageHeld.json"))
    [entry] = esp.history("suppressed@example.com")
    assert entry["kind"] == "drop" and "suppression list" in entry["diagnostic"]
    assert esp.answer("suppressed@example.com")["sendable"] is True


@pytest.mark.parametrize("name", ["constructed_envelope_MessageBounced.json",
                                  "anymail_bounce_MISLABELLED_MessageBounced.json"])
def test_bounce_of_a_sent_message(esp, postal, name):
    envelope = M.sample_json(name)
    address = envelope["payload"]["original_message"]["to"]
    postal(envelope)
    assert esp.codes(address) == ["previously_bounced"]
    [entry] = esp.history(address)
    assert entry["provider_class"] == "postal:Bounced"


def test_the_documented_bounce_payload_in_an_envelope(esp, postal):
    postal({"event": "MessageBounced", "payload": M.sample_json("doc_payload_MessageBounced.json"), "uuid": "u-doc-1"})
    assert esp.codes("test@example.com") == ["previously_bounced"]


def test_sent_click_and_open(esp, postal):
    postal(M.sample_json("anymail_delivered_MessageSent.json"))
    postal({"event": "MessageSent", "payload": M.sample_json("doc_payload_message_status_MessageSent.json"),
            "uuid": "u-doc-2"}, sha1_only=True)                                # Postal before 3.2
    postal({"event": "MessageLinkClicked", "payload": M.sample_json("doc_payload_MessageLinkClicked.json"),
            "uuid": "u-doc-3"})
    postal({"event": "MessageLoaded", "payload": M.sample_json("doc_payload_MessageLoaded.json"), "uuid": "u-doc-4"})
    assert [e["kind"] for e in esp.history("recipient@example.com")] == ["delivered"]
    assert sorted(e["kind"] for e in esp.history("test@example.com")) == ["click", "delivered", "open"]


def test_incoming_messages_are_not_ours(esp, postal):
    assert postal(M.sample_json("anymail_incoming_direction_HardFail.json"))["ignored"] == 1
    assert esp.history("incoming@example.com") == []


def test_stale_and_tampered_requests_are_refused(esp):
    esp.configure("postal", public_key=public_key())
    envelope = M.sample_json("anymail_delivered_MessageSent.json")
    body, headers = signed(envelope, age=MAX_AGE + 400)
    assert esp.post("postal", body, headers).json()["error"] == "stale_timestamp"
    body, headers = signed(envelope)
    assert esp.post("postal", body.replace(b"recipient@", b"victim@"), headers).status_code == 401
    # a good SHA-1 signature does not excuse a bad SHA-256 one
    bad = dict(headers, **{"X-Postal-Signature-256": headers["X-Postal-Signature"]})
    assert esp.post("postal", body, bad).status_code == 401
    assert esp.stored() == []


def test_every_sample_is_sent_by_a_test():
    assert M.samples() <= M.named_in(__file__), sorted(M.samples() - M.named_in(__file__))
