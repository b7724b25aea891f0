"""Authentic requests with odd values (a list where a string belongs, a number for an
address, nested junk) never get a 500: each is stored, ignored or refused with a 4xx."""
from __future__ import annotations

import orjson
import pytest

from tests.webhook.esp.conftest import (
    TOPIC,
    MailgunSigner,
    MandrillSigner,
    SendGridSigner,
    SvixSigner,
    sample_json,
)

JUNK = [None, 17, 1.5e300, "", "x" * 5000, [], ["a", {"b": 1}], {}, {"nested": [1, 2]}, True]


def mutations(obj: dict):
    """The object with one field at a time replaced by each kind of junk."""
    for key in obj:
        for junk in JUNK:
            yield {**obj, key: junk}


def post_all(esp, provider, bodies, sign, **kw):
    statuses = set()
    for body in bodies:
        r = esp.post(provider, body, sign(body), **kw)
        assert r.status_code < 500, (r.status_code, r.text, body[:300])
        statuses.add(r.status_code)
    return statuses


def test_sendgrid(esp):
    s = SendGridSigner()
    esp.configure("sendgrid", public_key=s.public_key)
    event = sample_json("sendgrid-bounce.json")[0]
    bodies = [orjson.dumps([m]) for m in mutations(event)] + [orjson.dumps(j) for j in JUNK]
    assert 200 in post_all(esp, "sendgrid", bodies, s.headers)


def test_mailgun(esp):
    s = MailgunSigner()
    esp.configure("mailgun", signing_key=s.key)
    event = sample_json("mailgun-failed-temporary.event-data.json")
    bodies = [s.body(m) for m in mutations(event)] + [s.body(j) for j in JUNK]
    assert 200 in post_all(esp, "mailgun", bodies, lambda b: {})


@pytest.mark.parametrize("provider, name, creds, headers", [
    ("postmark", "postmark-bounce.json", {"username": "u", "password": "p"}, {"Authorization": "Basic dTpw"}),
    ("mailjet", "mailjet-bounce.json", {"username": "u", "password": "p"}, {"Authorization": "Basic dTpw"}),
    ("brevo", "brevo-hard_bounce.json", {"token": "tok"}, {"Authorization": "Bearer tok"}),
])
def test_basic_auth_providers(esp, provider, name, creds, headers):
    esp.configure(provider, **creds)
    event = sample_json(name)
    bodies = [orjson.dumps(m) for m in mutations(event)] + [orjson.dumps(j) for j in JUNK]
    assert 200 in post_all(esp, provider, bodies, lambda b: headers)


def test_sparkpost(esp):
    esp.configure("sparkpost", token="tok")
    event = sample_json("sparkpost-bounce-batch.json")[0]["msys"]["message_event"]
    bodies = [orjson.dumps([{"msys": {"message_event": m}}]) for m in mutations(event)]
    bodies += [orjson.dumps([{"msys": j}]) for j in JUNK] + [orjson.dumps(j) for j in JUNK]
    assert 200 in post_all(esp, "sparkpost", bodies, lambda b: {"Authorization": "Bearer tok"})


def test_mandrill(esp):
    s = MandrillSigner()
    esp.configure("mandrill", webhook_key=s.key, url=s.url)
    event = sample_json("mandrill-hard_bounce.event.json")
    events = [dict(event, msg=m) for m in mutations(event["msg"])] + list(mutations(event))
    statuses = set()
    for e in events + JUNK:
        body, headers = s.post_args([e] if isinstance(e, dict) else e)
        r = esp.post("mandrill", body, headers, content_type="application/x-www-form-urlencoded")
        assert r.status_code < 500, (r.text, e)
        statuses.add(r.status_code)
    assert 200 in statuses


def test_resend(esp):
    s = SvixSigner()
    esp.configure("resend", secret=s.secret)
    event = sample_json("resend-bounced-ingester-fixture.json")
    bodies = [orjson.dumps(dict(event, data=m)) for m in mutations(event["data"])]
    bodies += [orjson.dumps(m) for m in mutations(event)]
    assert 200 in post_all(esp, "resend", bodies, s.headers)


def test_ses(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    n = sample_json("ses-event-bounce.json")
    messages = [dict(n, bounce=m) for m in mutations(n["bounce"])] + list(mutations(n))
    messages += [dict(n, mail=m) for m in mutations(n["mail"])]
    bodies = [orjson.dumps(signer.notification(orjson.dumps(m).decode())) for m in messages]
    assert 200 in post_all(esp, "ses", bodies, lambda b: {}, content_type="text/plain")
