"""Bad webhook requests get the status code that makes each ESP do the right thing, and
leave nothing behind; unknown event types are acknowledged and counted, not refused."""
from __future__ import annotations

import time

import orjson
import pytest
import requests
from cryptography.fernet import Fernet

from store.credentials import ReplayGuard
from store.keys import Keys, bucket_of
from tests.conftest import OPERATOR_KEY, LiveServer
from tests.webhook.esp.conftest import MailgunSigner, SendGridSigner, sample, sample_json
from webhook import create_app
from webhook.provider_config import configure

AUTH_FAILED = {"error": "unauthorized", "message": "the request could not be authenticated for this webhook URL"}


@pytest.fixture
def sendgrid(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)

    def post(body: bytes, **kw):
        return esp.post("sendgrid", body, signer.headers(body), **kw)
    return post


@pytest.fixture
def mailgun(esp):
    signer = MailgunSigner()
    esp.configure("mailgun", signing_key=signer.key)
    return signer


def test_unknown_provider_is_404(esp):
    r = esp.post("hubspot", b"[]")
    assert r.status_code == 404 and r.json()["error"] == "unknown_provider"
    assert "sendgrid" in r.json()["message"]


def test_unknown_tenant_unconfigured_provider_and_bad_signature_look_the_same(esp, sendgrid):
    body = sample("sendgrid-bounce.json")
    unknown_tenant = esp.post("sendgrid", body, SendGridSigner().headers(body), tenant="no-such-tenant")
    not_configured = esp.post("postmark", sample("postmark-bounce.json"))
    bad_signature = esp.post("sendgrid", body, SendGridSigner().headers(body))
    weird_tenant = esp.post("sendgrid", body, tenant="..%2F..%2Fetc")
    for r in (unknown_tenant, not_configured, bad_signature):
        assert r.status_code == 401 and r.json() == AUTH_FAILED
    assert weird_tenant.status_code in (401, 404)
    assert esp.stored() == []


def test_wrong_content_type_is_415(esp, sendgrid):
    r = sendgrid(b"email=a%40example.org", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    assert esp.stored() == []


def test_signed_invalid_json_is_400(esp, sendgrid):
    r = sendgrid(b'[{"event": "bounce",')
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = sendgrid(b'{"event": "bounce"}')
    assert r.status_code == 400 and r.json()["error"] == "invalid_payload"
    assert esp.stored() == []


def test_mailgun_gets_406_for_requests_that_can_never_succeed(esp, mailgun):
    event = sample_json("mailgun-failed-permanent-delayed-bounce.event-data.json")
    r = esp.post("mailgun", b"{not json")
    assert r.status_code == 406 and r.json()["error"] == "invalid_json"
    r = esp.post("mailgun", mailgun.body(event), content_type="multipart/form-data; boundary=x")
    assert r.status_code == 406 and r.json()["error"] == "unsupported_media_type"
    stale = esp.post("mailgun", mailgun.body(event, timestamp=int(time.time()) - 3600))
    future = esp.post("mailgun", mailgun.body(event, timestamp=int(time.time()) + 3600))
    for r in (stale, future):
        assert r.status_code == 406 and r.json()["error"] == "stale_timestamp"
    assert esp.stored() == []
    # a bad signature may become valid once the operator sets the right key: Mailgun retries
    r = esp.post("mailgun", mailgun.body(event, key="not-the-key"))
    assert r.status_code == 401


def test_mailgun_token_is_single_use(esp, mailgun):
    body = mailgun.body(sample_json("mailgun-failed-permanent-delayed-bounce.event-data.json"), token="t" * 50)
    first = esp.post("mailgun", body)
    replay = esp.post("mailgun", body)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert replay.status_code == 406 and replay.json()["error"] == "replayed"
    assert len([e for e in esp.history("christest123@test.com") if e["kind"] == "bounce"]) == 1


def test_batch_over_the_maximum_is_413_and_stores_nothing(esp, app, sendgrid):
    svc = app.extensions["rebound"]
    svc.settings = svc.settings.model_copy(update={"max_batch": 5})
    event = sample_json("sendgrid-bounce.json")[0]
    batch = [dict(event, sg_event_id=f"e{i}", email=f"u{i}@example.org") for i in range(6)]
    r = sendgrid(orjson.dumps(batch))
    assert r.status_code == 413 and r.json()["error"] == "batch_too_large"
    assert esp.stored() == []
    assert sendgrid(orjson.dumps(batch[:5])).status_code == 200


def test_unknown_event_types_are_acknowledged_and_counted(esp, live_server, sendgrid):
    event = sample_json("sendgrid-bounce.json")[0]
    batch = [event, dict(event, event="account_status_change", sg_event_id="x1"),
             dict(event, event="account_status_change", sg_event_id="x2"), dict(event, event="processed", sg_event_id="p")]
    r = sendgrid(orjson.dumps(batch))
    assert r.status_code == 200 and r.json() == {"accepted": 2, "duplicates": 0, "ignored": 2}
    assert esp.ignored() == {"sendgrid:account_status_change": 2}
    metrics = requests.get(live_server.url + "/metrics", timeout=10,
                           headers={"Authorization": f"Bearer {OPERATOR_KEY}"}).text
    assert 'rebound_webhook_ignored_total{provider="sendgrid",type="account_status_change"} 2.0' in metrics


def test_an_invalid_recipient_in_an_authentic_batch_is_counted_not_fatal(esp, sendgrid):
    event = sample_json("sendgrid-bounce.json")[0]
    r = sendgrid(orjson.dumps([event, dict(event, email="not an address", sg_event_id="bad")]))
    assert r.json() == {"accepted": 1, "duplicates": 0, "ignored": 1}
    assert esp.ignored() == {"sendgrid:invalid-recipient": 1}


def test_mandrill_head_check_and_no_head_elsewhere(esp):
    assert esp.http.head(f"{esp.base}/v1/webhooks/mandrill/{esp.tenant}", timeout=10).status_code == 200
    assert esp.http.head(f"{esp.base}/v1/webhooks/sendgrid/{esp.tenant}", timeout=10).status_code == 405
    assert esp.http.head(f"{esp.base}/v1/webhooks/nope/{esp.tenant}", timeout=10).status_code == 404


def test_store_unavailable_is_503_with_retry_after(make_settings, private_redis):


    app = create_app(make_settings(private_redis.url, secret_key=Fernet.generate_key().decode(), redis_timeout=0.5))
    store = app.extensions["rebound"].store
    tenant, _ = store.tenants.create("down")
    signer = SendGridSigner()
    configure(store, tenant, "sendgrid", {"public_key": signer.public_key}, 0)
    server = LiveServer(app)
    try:
        private_redis.stop()
        body = sample("sendgrid-bounce.json")
        r = requests.post(f"{server.url}/v1/webhooks/sendgrid/{tenant}", data=body, timeout=10,
                          headers={"Content-Type": "application/json", **signer.headers(body)})
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert r.json()["error"] == "store_unavailable"
    finally:
        server.stop()


def test_replay_guard_forgets_a_token_whose_request_was_not_stored(redis_client):
    guard = ReplayGuard(redis_client, Keys("rb"))
    assert guard.claim("t", "mailgun", "tok", b"body", 60) is True
    assert guard.claim("t", "mailgun", "tok", b"another body", 60) is False     # a forgery
    guard.forget("t", "mailgun", "tok")
    assert guard.claim("t", "mailgun", "tok", b"another body", 60) is True
    assert 0 < redis_client.ttl(next(redis_client.scan_iter("rb:t:{t}:replay:*"))) <= 60


def test_replay_guard_lets_the_same_request_in_until_it_is_stored(redis_client):
    guard = ReplayGuard(redis_client, Keys("rb"))
    assert guard.claim("t", "mailgun", "tok", b"body", 60) is True
    assert guard.claim("t", "mailgun", "tok", b"body", 60) is True      # retried before it was stored
    assert guard.claim("t", "mailgun", "tok", b"other", 60) is False
    guard.spend("t", "mailgun", "tok")
    assert guard.claim("t", "mailgun", "tok", b"body", 60) is False     # stored: now a replay
    assert 0 < redis_client.ttl(next(redis_client.scan_iter("rb:t:{t}:replay:*"))) <= 60


def test_ingest_survives_a_script_flush(esp, redis_client):
    """Redis forgets scripts on restart (or SCRIPT FLUSH): the next batch loads it again."""
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)
    redis_client.script_flush()
    body = sample("sendgrid-bounce.json")
    r = esp.post("sendgrid", body, signer.headers(body))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert esp.codes("example@test.com") == ["previously_bounced"]
    redis_client.script_flush()
    assert esp.api.put("/v1/suppressions/x@example.org", json={"note": "n"}).status_code == 200


def _break(redis_client, key: str) -> None:
    """Make ``key`` a key of the wrong type: every command on it fails (WRONGTYPE)."""
    redis_client.delete(key)
    redis_client.rpush(key, "not what the store expects")


@pytest.mark.parametrize("where", ["policy", "records"])
def test_mailgun_retry_is_accepted_when_storing_failed(esp, mailgun, redis_client, where):
    """The token is claimed before the event is stored; when Redis then fails (reading the
    tenant's policy to build the ingest stream, or applying the event), the token is given
    back, so Mailgun's retry of the very same request stores the event instead of being
    refused as a replay."""
    event = sample_json("mailgun-failed-permanent-delayed-bounce.event-data.json")
    body = mailgun.body(event)
    keys = esp.store.keys
    key = keys.policy(esp.tenant) if where == "policy" else keys.records(esp.tenant, bucket_of(event["recipient"]))
    _break(redis_client, key)
    failed = esp.post("mailgun", body)
    assert failed.status_code >= 500 and failed.status_code != 406, failed.text
    redis_client.delete(key)                       # Redis is well again
    assert esp.history(event["recipient"]) == []   # nothing of it was applied; Mailgun retries
    retry = esp.post("mailgun", body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["accepted"] == 1
    assert esp.codes(event["recipient"]) == ["previously_bounced"]
    again = esp.post("mailgun", body)              # once stored, the token is spent
    assert again.status_code == 406 and again.json()["error"] == "replayed"


def test_mailgun_retry_is_accepted_even_when_the_token_could_not_be_given_back(esp, mailgun, settings, redis_client,
                                                                             redis_url):
    """Redis refuses the write, then giving the token back as well (here the app's Redis user
    may not DEL: a real NOPERM). The token stays claimed by that request: Mailgun's retry of
    it is let in, another body signed with the same token is not."""
    redis_client.acl_setuser("nodel", enabled=True, passwords=["+nodel-pw"], categories=["+@all"],
                             commands=["-del", "-unlink"], keys=["*"], channels=["*"])
    no_del = redis_url.replace("redis://", "redis://nodel:nodel-pw@", 1)
    app = create_app(settings.model_copy(update={"redis_url": no_del}))
    server = LiveServer(app)
    try:
        def post(body: bytes) -> requests.Response:
            return requests.post(f"{server.url}/v1/webhooks/mailgun/{esp.tenant}", data=body, timeout=30,
                                 headers={"Content-Type": "application/json"})

        event = sample_json("mailgun-failed-permanent-delayed-bounce.event-data.json")
        body = mailgun.body(event)
        key = esp.store.keys.records(esp.tenant, bucket_of(event["recipient"]))
        _break(redis_client, key)
        assert post(body).status_code >= 500
        assert list(redis_client.scan_iter(f"rb:t:{{{esp.tenant}}}:replay:*"))    # still claimed
        redis_client.delete(key)
        forged = orjson.loads(body)
        forged["event-data"]["recipient"] = "someone.else@example.org"
        refused = post(orjson.dumps(forged))
        assert refused.status_code == 406 and refused.json()["error"] == "replayed"
        retry = post(body)
        assert retry.status_code == 200 and retry.json()["accepted"] == 1, retry.text
        assert esp.codes(event["recipient"]) == ["previously_bounced"]
        assert post(body).json()["error"] == "replayed"                           # stored: spent
        assert esp.answer("someone.else@example.org")["sendable"] is True
    finally:
        server.stop()
        redis_client.acl_deluser("nodel")
