"""The published signature test vectors verify as given, byte for byte, and fail when
anything is changed; the signed samples go through the HTTP stack as they are."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta

import orjson
import pytest

from store import CredentialSet
from tests.webhook.esp.conftest import TOPIC, make_request, sample, sample_json, sns_time
from webhook.esp import sendgrid
from webhook.esp.base import Context
from webhook.esp.resend import Resend, sign
from webhook.esp.sns import MAX_AGE, SnsCertificates, SnsError, SnsStale
from webhook.esp.sns import verify as sns_verify

SG = sample_json("sendgrid-signed-testvector.json")
SG_BODY = sample("sendgrid-signed-testvector-dropped.body.bin")
SNS = sample_json("sns-signature-testvectors.json")
SNS_PEM = sample(SNS["cert_file"])
SVIX = sample_json("svix-resend-signature-testvector.json")


# -- SendGrid ---------------------------------------------------------------------------

def test_sendgrid_vectors_verify_as_given():
    assert SG_BODY.decode() == SG["body_utf8"] and SG_BODY.endswith(b"\r\n")
    assert sendgrid.verify(SG["public_key_b64_der_spki"], SG["header_X-Twilio-Email-Event-Webhook-Signature"],
                           SG["header_X-Twilio-Email-Event-Webhook-Timestamp"], SG_BODY)
    node = SG["second_vector_nodejs"]
    assert sendgrid.verify(node["public_key_b64_der_spki"], node["signature"], node["timestamp"],
                           node["body_utf8_exact"].encode())


def test_sendgrid_vectors_fail_when_changed():
    sig, ts = SG["header_X-Twilio-Email-Event-Webhook-Signature"], SG["header_X-Twilio-Email-Event-Webhook-Timestamp"]
    key = SG["public_key_b64_der_spki"]
    assert not sendgrid.verify(SG["bad_key_should_fail"], sig, ts, SG_BODY)
    assert not sendgrid.verify(key, SG["bad_signature_should_fail"], ts, SG_BODY)
    assert not sendgrid.verify(key, sig, ts, SG_BODY.rstrip(b"\r\n"))          # the CRLF is signed
    assert not sendgrid.verify(key, sig, str(int(ts) + 1), SG_BODY)


def test_sendgrid_signed_vector_through_http(esp):
    esp.configure("sendgrid", public_key=SG["public_key_b64_der_spki"])
    headers = {"X-Twilio-Email-Event-Webhook-Signature": SG["header_X-Twilio-Email-Event-Webhook-Signature"],
               "X-Twilio-Email-Event-Webhook-Timestamp": SG["header_X-Twilio-Email-Event-Webhook-Timestamp"]}
    # the vector was signed long ago: its signature verifies (a bad one is a plain 401,
    # below), and then its timestamp, older than SendGrid's 72 h of retries, marks a replay
    r = esp.post("sendgrid", SG_BODY, headers)
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp", r.text
    assert esp.stored() == []


def test_sendgrid_vector_with_wrong_key_is_refused_and_stores_nothing(esp):
    esp.configure("sendgrid", public_key=SG["bad_key_should_fail"])
    r = esp.post("sendgrid", SG_BODY, {
        "X-Twilio-Email-Event-Webhook-Signature": SG["header_X-Twilio-Email-Event-Webhook-Signature"],
        "X-Twilio-Email-Event-Webhook-Timestamp": SG["header_X-Twilio-Email-Event-Webhook-Timestamp"]})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert esp.stored() == []


# -- Amazon SNS -------------------------------------------------------------------------

def pinned(check_expiry: bool) -> SnsCertificates:
    certs = SnsCertificates()
    certs.pin(SNS["messages"][0]["SigningCertURL"], SNS_PEM, check_expiry=check_expiry)
    return certs


def no_fetch(url):
    raise AssertionError(f"fetched {url}: the pinned certificate should have been used")


def published(message: dict) -> datetime:
    """When SNS published a vector: the time it is verified at (the vectors are from 2022)."""
    return datetime.fromisoformat(message["Timestamp"])


@pytest.mark.parametrize("index", range(4))
def test_sns_vectors_verify_as_given(index):
    message = SNS["messages"][index]
    sns_verify(message, pinned(check_expiry=False), no_fetch, now=published(message))
    # at that time the real certificate was valid (2021-09-07..2022-08-17): no exemption needed
    sns_verify(message, pinned(check_expiry=True), no_fetch, now=published(message) + timedelta(minutes=30))


@pytest.mark.parametrize("index", range(4))
def test_sns_vectors_are_refused_once_older_than_the_maximum_age(index):
    message = SNS["messages"][index]
    late = published(message) + MAX_AGE + timedelta(minutes=6)
    with pytest.raises(SnsStale):
        sns_verify(message, pinned(check_expiry=False), no_fetch, now=late)
    with pytest.raises(SnsStale):                                      # nor from the future
        sns_verify(message, pinned(check_expiry=False), no_fetch, now=published(message) - timedelta(minutes=6))
    with pytest.raises(SnsStale):                                      # today: a replay
        sns_verify(message, pinned(check_expiry=False), no_fetch)


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "TopicArn", "Signature"])
def test_sns_vectors_fail_when_one_byte_changes(field):
    message = dict(SNS["messages"][2])
    value = message[field]
    message[field] = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    with pytest.raises(SnsError):
        sns_verify(message, pinned(check_expiry=False), no_fetch, now=published(SNS["messages"][2]))


def test_sns_vector_subject_is_signed():
    message = dict(SNS["messages"][2])
    del message["Subject"]
    with pytest.raises(SnsError):
        sns_verify(message, pinned(check_expiry=False), no_fetch, now=published(message))


def test_sns_expired_certificate_is_refused_unless_pinned_without_expiry():
    message = SNS["messages"][0]
    after_expiry = datetime.fromisoformat("2022-08-18T00:00:00Z")
    with pytest.raises(SnsError, match="not valid now"):
        sns_verify(dict(message, Timestamp="2022-08-17T23:59:00.000Z"), pinned(check_expiry=True), no_fetch,
                   now=after_expiry)


def test_sns_vectors_through_http_are_refused_as_replays_without_fetching(esp, app, sns):
    _, server = sns
    app.extensions["rebound"].sns_certificates.pin(SNS["messages"][0]["SigningCertURL"], SNS_PEM, check_expiry=False)
    esp.configure("ses", topic_arns=",".join(m["TopicArn"] for m in SNS["messages"]))
    for message in SNS["messages"]:
        r = esp.post("ses", orjson.dumps(message), {"x-amz-sns-message-type": "Notification"},
                     content_type="text/plain; charset=UTF-8")
        assert r.status_code == 401 and r.json()["error"] == "stale_timestamp", r.text   # signed in 2022
    assert esp.stored() == [] and server.requests == []


def test_sns_topic_not_listed_is_forbidden(esp, app):
    app.extensions["rebound"].sns_certificates.pin(SNS["messages"][0]["SigningCertURL"], SNS_PEM, check_expiry=False)
    esp.configure("ses", topic_arns=TOPIC)
    r = esp.post("ses", orjson.dumps(SNS["messages"][0]), content_type="text/plain")
    assert r.status_code == 403 and r.json()["error"] == "topic_not_allowed"
    assert esp.stored() == []


def _http_sample(name: str) -> tuple[dict, bytes]:
    head, _, body = sample(name).decode().replace("\r\n", "\n").partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    for hop in ("Host", "Content-Length", "Connection"):
        headers.pop(hop, None)
    return headers, body.encode()


@pytest.mark.parametrize("kind", ["notification", "subscriptionconfirmation", "unsubscribeconfirmation"])
def test_sns_documentation_envelopes_have_placeholder_signatures_and_are_refused(esp, sns, kind):
    esp.configure("ses", topic_arns=TOPIC, auto_confirm="true")
    headers, body = _http_sample(f"sns-envelope-{kind}.http.txt")
    assert json.loads(body) == sample_json(f"sns-envelope-{kind}.json")
    # published now (the samples are from 2012): only the placeholder signature is wrong
    body = orjson.dumps(dict(json.loads(body), Timestamp=sns_time(time.time())))
    r = esp.post("ses", body, headers, content_type=None)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert esp.stored() == []
    assert not any("ConfirmSubscription" in path for _, path in sns[1].requests)


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_documentation_envelopes_resigned_by_a_real_key(esp, sns, version):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC, auto_confirm="true")
    headers, _ = _http_sample("sns-envelope-notification.http.txt")
    note = signer.sign(sample_json("sns-envelope-notification.json"), version)
    r = esp.post("ses", orjson.dumps(note), headers, content_type=None)
    assert r.status_code == 200 and r.json()["ignored"] == 1

    confirm = signer.sign(sample_json("sns-envelope-subscriptionconfirmation.json"), version)
    r = esp.post("ses", orjson.dumps(confirm), {"x-amz-sns-message-type": "SubscriptionConfirmation"},
                 content_type="text/plain; charset=UTF-8")
    assert r.status_code == 200 and r.json()["subscription"] == "confirmed"
    assert ("sns.us-west-2.amazonaws.com", "/?Action=ConfirmSubscription&TopicArn=" + TOPIC + "&Token=2336412f37...") \
        in server.requests

    bye = signer.sign(sample_json("sns-envelope-unsubscribeconfirmation.json"), version)
    r = esp.post("ses", orjson.dumps(bye), content_type="text/plain")
    assert r.status_code == 200 and r.json()["subscription"] == "unsubscribed"
    # the certificate was fetched once, then served from the cache
    assert sum(p.endswith(".pem") for _, p in server.requests) == 1


# -- Svix / Resend ----------------------------------------------------------------------

def svix_check(headers: dict, body: bytes, now: float, secret: str = SVIX["secret"]):
    handler = Resend(Context("t", CredentialSet("t", "resend", {"secret": secret}), tolerance=300))
    return handler.check_svix(make_request(body, headers, now))


def test_svix_vector_verifies_as_given():
    assert sign(SVIX["secret"], SVIX["svix-id"], SVIX["svix-timestamp"], SVIX["body"].encode()) \
        == SVIX["expected_svix-signature"]
    headers = {"svix-id": SVIX["svix-id"], "svix-timestamp": SVIX["svix-timestamp"],
               "svix-signature": SVIX["expected_svix-signature"]}
    assert svix_check(headers, SVIX["body"].encode(), now=float(SVIX["svix-timestamp"])) is True
    # several signatures in one header (Svix's key rotation): any one matching is enough
    many = dict(headers, **{"svix-signature": "v1,bm90IGl0 " + SVIX["expected_svix-signature"] + " v2,x"})
    assert svix_check(many, SVIX["body"].encode(), now=float(SVIX["svix-timestamp"])) is True


@pytest.mark.parametrize("change", ["body", "id", "timestamp", "signature"])
def test_svix_vector_fails_when_changed(change):
    headers = {"svix-id": SVIX["svix-id"], "svix-timestamp": SVIX["svix-timestamp"],
               "svix-signature": SVIX["expected_svix-signature"]}
    body = SVIX["body"].encode()
    if change == "body":
        body = body.replace(b"2", b"3", 1)
    elif change == "id":
        headers["svix-id"] += "x"
    elif change == "timestamp":
        headers["svix-timestamp"] = str(int(headers["svix-timestamp"]) + 1)
    else:
        headers["svix-signature"] = headers["svix-signature"].replace("g0h", "g0i")
    assert svix_check(headers, body, now=float(SVIX["svix-timestamp"])) is False


def test_svix_vector_over_http_is_verified_then_refused_as_stale(esp):
    esp.configure("resend", secret=SVIX["secret"])
    headers = {"svix-id": SVIX["svix-id"], "svix-timestamp": SVIX["svix-timestamp"],
               "svix-signature": SVIX["expected_svix-signature"]}
    r = esp.post("resend", SVIX["body"].encode(), headers)
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp"   # signature good, 2021 too old
    headers["svix-signature"] = headers["svix-signature"].replace("g0h", "g0i")
    r = esp.post("resend", SVIX["body"].encode(), headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert esp.stored() == []


# -- self-generated vectors (Mailgun, Mandrill: no official ones exist) -------------------

def test_mailgun_vector():
    v = sample_json("mailgun-signature-selfgenerated-vector.json")
    mac = hmac.new(v["signing_key"].encode(), (v["timestamp"] + v["token"]).encode(), hashlib.sha256).hexdigest()
    assert mac == v["expected_signature"] == v["example_body"]["signature"]["signature"]


def test_mailgun_vector_over_http_is_verified_then_refused_for_its_age_with_406(esp):
    v = sample_json("mailgun-signature-selfgenerated-vector.json")
    esp.configure("mailgun", signing_key=v["signing_key"])
    r = esp.post("mailgun", orjson.dumps(v["example_body"]))
    assert r.status_code == 406 and r.json()["error"] == "stale_timestamp"   # Mailgun stops retrying
    esp.configure("mailgun", signing_key="another-key", grace=0)
    r = esp.post("mailgun", orjson.dumps(v["example_body"]))
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"   # may become valid: retry
    assert esp.stored() == []


def test_mandrill_vector_and_sample_form_body_over_http(esp):
    v = sample_json("mandrill-signature-selfgenerated-vector.json")
    body = sample(v["form_body_file"]).strip()
    mac = hmac.new(v["webhook_key"].encode(), v["signed_string"].encode(), hashlib.sha1).digest()
    assert base64.b64encode(mac).decode() == v["expected_X-Mandrill-Signature"]
    esp.configure("mandrill", webhook_key=v["webhook_key"], url=v["webhook_url_as_configured"])
    r = esp.post("mandrill", body, {"X-Mandrill-Signature": v["expected_X-Mandrill-Signature"]},
                 content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert esp.codes("example.webhook@mandrillapp.com") == ["previously_bounced"]
    assert sample_json("mandrill-hard_bounce.event.json") == json.loads(v["mandrill_events_value"])[0]
