"""One changed byte in the body, the timestamp or the signature (or the password, for the
providers that authenticate with one) is refused, per provider, and nothing is stored.

What each scheme covers is the ESP's choice: Mailgun signs only its timestamp and token
(not the event), and basic/bearer authentication covers no content at all; those rows test
what their scheme does cover.
"""
from __future__ import annotations

import base64

import orjson
import pytest

from tests.webhook.esp.conftest import (
    TOPIC,
    MailgunSigner,
    MandrillSigner,
    SendGridSigner,
    SvixSigner,
    sample,
    sample_json,
)


def flip(value: str | bytes, at: int | None = None):
    """Change one character (or byte) in the middle to another of the same class (digit,
    lower or upper case letter), keeping the type and length: hex stays hex, base64 base64."""
    data = value.encode() if isinstance(value, str) else value
    i = len(data) // 2 if at is None else at
    c = chr(data[i])
    if c.isdigit():
        new = "1" if c == "0" else "0"
    elif c.islower():
        new = "b" if c == "a" else "a"
    else:
        new = "B" if c == "A" else "A"
    changed = data[:i] + new.encode() + data[i + 1:]
    return changed.decode() if isinstance(value, str) else changed


def test_flip_changes_exactly_one_byte():
    for v in ("abcdef", b"0123456789", "MEUCIGHQ=="):
        out = flip(v)
        assert len(out) == len(v) and sum(a != b for a, b in zip(out, v)) == 1


def sendgrid_case(esp, request, part):
    s = SendGridSigner()
    esp.configure("sendgrid", public_key=s.public_key)
    body = sample("sendgrid-bounce.json")
    headers = s.headers(body)
    if part == "body":
        body = body.replace(b"500 unknown recipient", b"500 unknown recipiant")
    elif part == "timestamp":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(headers["X-Twilio-Email-Event-Webhook-Timestamp"]) + 1)
    elif part == "signature":
        headers["X-Twilio-Email-Event-Webhook-Signature"] = flip(headers["X-Twilio-Email-Event-Webhook-Signature"], 20)
    return esp.post("sendgrid", body, headers)


def mailgun_case(esp, request, part):
    s = MailgunSigner()
    esp.configure("mailgun", signing_key=s.key)
    body = orjson.loads(s.body(sample_json("mailgun-failed-permanent-delayed-bounce.event-data.json")))
    sig = body["signature"]
    if part == "timestamp":
        sig["timestamp"] = str(int(sig["timestamp"]) - 1)
    elif part == "token":
        sig["token"] = flip(sig["token"])
    elif part == "signature":
        sig["signature"] = flip(sig["signature"])
    return esp.post("mailgun", orjson.dumps(body))


def ses_case(esp, request, part):
    signer, _ = request.getfixturevalue("sns")
    esp.configure("ses", topic_arns=TOPIC)
    envelope = signer.notification(sample("ses-event-bounce.json").decode())
    if part == "body":
        envelope["Message"] = envelope["Message"].replace("user unknown", "user unknowm")
    elif part == "timestamp":
        ts = envelope["Timestamp"]                    # a millisecond later: still fresh, not signed
        envelope["Timestamp"] = ts[:-2] + ("1" if ts[-2] != "1" else "2") + "Z"
    elif part == "signature":
        envelope["Signature"] = flip(envelope["Signature"], 40)
    return esp.post("ses", orjson.dumps(envelope), content_type="text/plain")


def mandrill_case(esp, request, part):
    s = MandrillSigner()
    esp.configure("mandrill", webhook_key=s.key, url=s.url)
    body, headers = s.post_args([sample_json("mandrill-hard_bounce.event.json")])
    if part == "body":
        body = body.replace(b"bad_mailbox", b"bad_mailbix")
    elif part == "timestamp":
        body = body.replace(b"1384954004", b"1384954005")     # the event's ts: inside the signed form
    elif part == "signature":
        headers["X-Mandrill-Signature"] = flip(headers["X-Mandrill-Signature"], 5)
    elif part == "url":
        esp.configure("mandrill", url=s.url + "/", grace=0)  # not the URL Mandrill signed
    return esp.post("mandrill", body, headers, content_type="application/x-www-form-urlencoded")


def resend_case(esp, request, part):
    s = SvixSigner()
    esp.configure("resend", secret=s.secret)
    body = sample("resend-bounced-ingester-fixture.json")
    headers = s.headers(body)
    if part == "body":
        body = body.replace(b"User unknown", b"User unknowm")
    elif part == "timestamp":
        headers["svix-timestamp"] = str(int(headers["svix-timestamp"]) - 1)
    elif part == "signature":
        headers["svix-signature"] = "v1," + flip(headers["svix-signature"][3:], 7)
    elif part == "id":
        headers["svix-id"] = flip(headers["svix-id"])
    return esp.post("resend", body, headers)


def basic_case(provider, sample_name, **creds):
    def case(esp, request, part):
        esp.configure(provider, **creds)
        if "token" in creds:
            header = {"Authorization": "Bearer " + (flip(creds["token"]) if part == "password" else creds["token"])}
        else:
            pw = flip(creds["password"]) if part == "password" else creds["password"]
            header = {"Authorization": "Basic " + base64.b64encode(f"{creds['username']}:{pw}".encode()).decode()}
        return esp.post(provider, sample(sample_name), header)
    return case


CASES = {
    "sendgrid": (sendgrid_case, ["body", "timestamp", "signature"]),
    "mailgun": (mailgun_case, ["timestamp", "token", "signature"]),
    "ses": (ses_case, ["body", "timestamp", "signature"]),
    "mandrill": (mandrill_case, ["body", "timestamp", "signature", "url"]),
    "resend": (resend_case, ["body", "timestamp", "signature", "id"]),
    "postmark": (basic_case("postmark", "postmark-bounce.json", username="pm", password="pm-secret"), ["password"]),
    "mailjet": (basic_case("mailjet", "mailjet-bounce.json", username="mj", password="mj-secret"), ["password"]),
    "sparkpost-basic": (basic_case("sparkpost", "sparkpost-bounce-batch.json", username="sp", password="sp-secret"),
                        ["password"]),
    "sparkpost-bearer": (basic_case("sparkpost", "sparkpost-bounce-batch.json", token="sp-token-1234"), ["password"]),
    "brevo-bearer": (basic_case("brevo", "brevo-hard_bounce.json", token="brevo-token-123"), ["password"]),
    "brevo-basic": (basic_case("brevo", "brevo-hard_bounce.json", username="bv", password="bv-secret"), ["password"]),
}
PARAMS = [(name, part) for name, (_, parts) in CASES.items() for part in [None, *parts]]


@pytest.mark.parametrize("name, part", PARAMS, ids=[f"{n}-{p or 'intact'}" for n, p in PARAMS])
def test_tampered_requests_are_refused_and_store_nothing(esp, request, name, part):
    case, _ = CASES[name]
    r = case(esp, request, part)
    if part is None:                                     # the intact request is accepted
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] >= 1
        return
    assert r.status_code == 401, r.text
    assert r.json() == {"error": "unauthorized",
                        "message": "the request could not be authenticated for this webhook URL"}
    assert esp.stored() == []


def test_a_signature_is_not_valid_for_another_tenant(esp, make_tenant):
    s = SendGridSigner()
    esp.configure("sendgrid", public_key=s.public_key)
    other = make_tenant("Tenant B")
    body = sample("sendgrid-bounce.json")
    r = esp.post("sendgrid", body, s.headers(body), tenant=other.tenant)
    assert r.status_code == 401
    assert esp.stored() == []
