"""Raw payloads: kept for requests that carry a failure, complaint or unsubscribe (what a
reclassification or an audit needs), not for deliveries, opens and clicks (memory); read
back by the tenant they belong to, from the API and the shell, by the references that
history entries and review examples carry."""
from __future__ import annotations

import base64
import json
import time

import orjson
import pytest
from click.testing import CliRunner

from tests.webhook.esp.conftest import SendGridSigner, sample
from webhook.cli import main

NOW = int(time.time())


def event(kind: str, email: str, n: int, **extra) -> dict:
    return {"email": email, "timestamp": NOW, "event": kind, "sg_event_id": f"{kind}-{n}",
            "sg_message_id": f"m{n}.filter", **extra}


@pytest.fixture
def sendgrid(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)

    def post(events: list[dict] | bytes):
        body = events if isinstance(events, bytes) else orjson.dumps(events)
        r = esp.post("sendgrid", body, signer.headers(body))
        assert r.status_code == 200, r.text
        return body
    return post


def raw_keys(esp) -> list[bytes]:
    return list(esp.store.r.scan_iter(f"rb:t:{{{esp.tenant}}}:raw:*"))


def refs(esp, address: str) -> list[str | None]:
    return [e.get("raw_ref") for e in esp.history(address)]


def test_deliveries_opens_and_clicks_are_not_kept(esp, sendgrid):
    sendgrid([event("processed", "a@example.org", 1), event("delivered", "a@example.org", 2),
              event("open", "a@example.org", 3), event("click", "a@example.org", 4, url="https://x.example/")])
    assert len(esp.history("a@example.org")) == 4
    assert raw_keys(esp) == [] and refs(esp, "a@example.org") == [None] * 4


@pytest.mark.parametrize("kind, extra", [
    ("bounce", {"reason": "550 5.1.1 user unknown", "status": "5.1.1", "type": "bounce"}),
    ("deferred", {"response": "451 4.7.1 try again later"}),
    ("dropped", {"reason": "Bounced Address"}),
    ("spamreport", {}),
    ("unsubscribe", {}),
])
def test_failures_complaints_and_unsubscribes_are_kept_and_resolve(esp, sendgrid, kind, extra):
    body = sendgrid([event("delivered", "d@example.org", 1), event(kind, "b@example.org", 2, **extra)])
    [ref] = refs(esp, "b@example.org")
    assert ref is not None and len(raw_keys(esp)) == 1
    r = esp.api.get(f"/v1/raw/{ref}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["payload"].encode() == body and got["encoding"] == "utf-8"
    assert got["provider"] == "sendgrid" and got["size"] == len(body) and got["truncated"] is False
    assert got["received"] and got["expires"] > got["received"]


def test_a_sample_bounce_is_kept_once_however_often_it_is_sent(esp, sendgrid):
    body = sample("sendgrid-bounce.json")
    sendgrid(body)
    sendgrid(body)                                  # the ESP retries: the same payload, once
    [ref] = refs(esp, "example@test.com")
    assert len(raw_keys(esp)) == 1
    assert esp.api.get(f"/v1/raw/{ref}").json()["payload"].encode() == body


def test_payloads_are_the_tenants_own(esp, sendgrid, make_tenant, redis_client):
    sendgrid(sample("sendgrid-bounce.json"))
    [ref] = refs(esp, "example@test.com")
    other = make_tenant("Tenant B")
    mine = esp.api.get(f"/v1/raw/{ref}")
    theirs = other.get(f"/v1/raw/{ref}")
    assert mine.status_code == 200
    assert theirs.status_code == 404 and theirs.json()["error"] == "not_found"
    assert "example@test.com" not in theirs.text
    for unknown in ("0" * 32, "not-a-ref", ref.upper()):
        assert esp.api.get(f"/v1/raw/{unknown}").status_code == 404
    assert esp.http.get(f"{esp.base}/v1/raw/{ref}", timeout=10).status_code == 401   # no API key
    redis_client.expire(next(iter(raw_keys(esp))), 0)                                # retention over
    assert esp.api.get(f"/v1/raw/{ref}").status_code == 404
    assert refs(esp, "example@test.com") == [ref]                                    # history stays


def test_payloads_larger_than_the_limit_are_cut_and_say_so(esp, sendgrid, app):
    app.extensions["rebound"].store.raw.max_bytes = 100
    body = sendgrid([event("bounce", "big@example.org", 1, reason="550 5.1.1 " + "x" * 500, status="5.1.1")])
    [ref] = refs(esp, "big@example.org")
    got = esp.api.get(f"/v1/raw/{ref}").json()
    assert got["truncated"] is True and got["size"] == len(body) and got["payload"].encode() == body[:100]


def test_a_raw_message_that_is_not_utf8_comes_back_as_base64(api):
    dsn = (b"From: MAILER-DAEMON@mx.example.net\r\nTo: sender@example.com\r\nSubject: Undelivered Mail\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
           b"This is the mail system at host mx.example.net. Adresse inconnue: d\xe9j\xe0 vu\r\n\r\n"
           b"<ann@example.org>: host mx.example.org said: 550 5.1.1 <ann@example.org>: Recipient address "
           b"rejected: User unknown in virtual mailbox table\r\n")
    r = api.post(f"/v1/inbound/{api.tenant}", data=dsn, headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    [entry] = api.get("/v1/recipients/ann@example.org/history").json()["events"]
    got = api.get(f"/v1/raw/{entry['raw_ref']}").json()
    assert got["encoding"] == "base64" and base64.b64decode(got["payload"]) == dsn
    assert got["provider"] == "inbound"


def test_rebound_raw_show(esp, sendgrid, settings, redis_url, make_tenant):
    body = sample("sendgrid-bounce.json")
    sendgrid(body)
    [ref] = refs(esp, "example@test.com")
    env = {"REBOUND_REDIS_URL": redis_url}
    runner = CliRunner()
    shown = runner.invoke(main, ["raw", "show", ref, "--tenant", esp.tenant], env=env)
    assert shown.exit_code == 0, shown.output
    got = json.loads(shown.stdout)
    assert got["ref"] == ref and got["payload"].encode() == body and got["provider"] == "sendgrid"
    alone = runner.invoke(main, ["raw", "show", ref, "--tenant", esp.tenant, "--body"], env=env)
    assert alone.exit_code == 0 and alone.stdout_bytes == body
    other = make_tenant("Tenant B")
    for args, says in [([ref, "--tenant", other.tenant], "no raw payload"),
                       (["0" * 32, "--tenant", esp.tenant], "no raw payload"),
                       ([ref, "--tenant", "no-such-tenant"], "no tenant"),
                       ([ref], "--tenant")]:
        result = runner.invoke(main, ["raw", "show", *args], env=env)
        assert result.exit_code != 0 and says in result.output, (args, result.output)


def test_payloads_kept_before_they_had_metadata_still_resolve(esp, redis_client):
    """Payloads stored by the previous version (the bytes alone, under the same key) are
    read back, without what was not recorded then, until their retention ends."""
    body = sample("sendgrid-bounce.json")
    ref = "0123456789abcdef0123456789abcdef"
    redis_client.set(esp.store.keys.raw(esp.tenant, ref), body, ex=3600)
    got = esp.api.get(f"/v1/raw/{ref}")
    assert got.status_code == 200, got.text
    assert got.json()["payload"].encode() == body and got.json()["provider"] is None and got.json()["expires"]
