"""ESP credentials: set by CLI and API, validated, encrypted at rest, never shown back,
rotated without downtime."""
from __future__ import annotations

import json
import os
import stat

import orjson
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from store.credentials import Credentials, CredentialSet
from tests.cli import run
from tests.webhook.esp.conftest import MailgunSigner, SendGridSigner, own
from webhook.cli import main
from webhook.secrets import secret_keys

EVENT = own("mailgun-failed.json")


def dump(redis_client) -> bytes:
    return b"".join(k + (redis_client.dump(k) or b"") for k in redis_client.scan_iter("*"))


def test_cli_sets_shows_and_deletes_credentials_and_the_webhook_uses_them(esp, settings, redis_url, redis_client):
    env = {"REBOUND_REDIS_URL": redis_url, "REBOUND_SECRET_KEY": settings.secret_key.get_secret_value()}
    signer = MailgunSigner()
    p = run(["providers", "set", esp.tenant, "mailgun", f"signing_key={signer.key}"], env=env)
    assert p.returncode == 0, p.stderr
    shown = json.loads(p.stdout)
    assert shown["credentials"] == {"signing_key": "***"}
    assert shown["webhook_path"] == f"/v1/webhooks/mailgun/{esp.tenant}"
    assert signer.key not in p.stdout and signer.key.encode() not in dump(redis_client)

    r = esp.post("mailgun", signer.body(EVENT))
    assert r.status_code == 200, r.text

    p = run(["providers", "show", esp.tenant], env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["provider"] == "mailgun"
    p = run(["providers", "delete", esp.tenant, "mailgun"], env=env)
    assert p.returncode == 0, p.stderr
    assert esp.post("mailgun", signer.body(EVENT)).status_code == 401


def test_cli_refuses_bad_values_with_a_clear_message(esp, settings, redis_url):
    env = {"REBOUND_REDIS_URL": redis_url, "REBOUND_SECRET_KEY": settings.secret_key.get_secret_value()}
    cases = [
        (["sendgrid", "public_key=bm90IGEga2V5"], "public_key"),
        (["postmark", "username=only"], "username+password"),
        (["mailgun", "signin_key=x"], "signin_key"),
        (["resend", "secret=abc"], "whsec_"),
        (["ses", "topic_arns=arn:aws:sqs:us-east-1:123456789012:q"], "ARN"),
        (["hubspot", "token=x"], "no webhook provider"),
    ]
    runner = CliRunner()
    for args, mentions in [*cases, (["mailgun", "signing_key=x"], "no tenant")]:
        tenant = "no-such-tenant" if mentions == "no tenant" else esp.tenant
        result = runner.invoke(main, ["providers", "set", tenant, *args], env=env)
        assert result.exit_code != 0 and mentions in result.output, (args, result.output)


def test_api_sets_credentials_and_never_returns_secrets(esp):
    r = esp.api.put("/v1/providers/sparkpost", json={"credentials": {"username": "sp-user", "password": "hunter2-long"}})
    assert r.status_code == 200, r.text
    assert r.json()["credentials"] == {"password": "***", "username": "sp-user"}
    listed = esp.api.get("/v1/providers").json()["providers"]
    assert [p["provider"] for p in listed] == ["sparkpost"] and "hunter2-long" not in json.dumps(listed)
    assert esp.api.get("/v1/providers/sparkpost").json()["credentials"]["password"] == "***"
    assert esp.api.get("/v1/providers/postmark").status_code == 404

    ok = esp.post("sparkpost", b"[]", {"Authorization": "Basic c3AtdXNlcjpodW50ZXIyLWxvbmc="})
    assert ok.status_code == 200, ok.text
    assert esp.api.delete("/v1/providers/sparkpost").json() == {"provider": "sparkpost", "deleted": True}
    assert esp.post("sparkpost", b"[]", {"Authorization": "Basic c3AtdXNlcjpodW50ZXIyLWxvbmc="}).status_code == 401


def test_api_validation_errors(esp):
    bad = esp.api.put("/v1/providers/sendgrid", json={"credentials": {"public_key": "nope"}})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_credentials"
    assert esp.api.put("/v1/providers/nope", json={"credentials": {"a": "b"}}).status_code == 404
    assert esp.api.put("/v1/providers/mailgun", json={"credentials": {}}).status_code == 400
    assert esp.api.get("/v1/providers").json() == {"providers": []}


def test_tenants_cannot_see_or_change_each_other(esp, make_tenant):
    esp.api.put("/v1/providers/brevo", json={"credentials": {"token": "tenant-a-token"}})
    other = make_tenant("Tenant B")
    assert other.get("/v1/providers").json() == {"providers": []}
    assert other.delete("/v1/providers/brevo").status_code == 404
    assert esp.post("brevo", b"{}", {"Authorization": "Bearer tenant-a-token"}).status_code == 200


def test_rotation_keeps_the_previous_key_valid_for_the_grace_period(esp):
    old, new = MailgunSigner(), MailgunSigner()
    esp.configure("mailgun", signing_key=old.key)
    shown = esp.api.put("/v1/providers/mailgun", json={"credentials": {"signing_key": new.key}, "grace_hours": 1}).json()
    assert list(shown["previous_valid_until"]) == ["signing_key"]
    assert esp.post("mailgun", old.body(EVENT)).status_code == 200          # retries signed before the change
    assert esp.post("mailgun", new.body(EVENT)).status_code == 200
    esp.api.put("/v1/providers/mailgun", json={"credentials": {"signing_key": MailgunSigner().key}, "grace_hours": 0})
    assert esp.post("mailgun", old.body(EVENT)).status_code == 401
    assert esp.post("mailgun", new.body(EVENT)).status_code == 401


def test_rotating_values_expire():
    creds = CredentialSet("t", "mailgun", {"signing_key": "new"}, {"signing_key": ("old", 1000)})
    assert creds.values("signing_key", now=999) == ["new", "old"]
    assert creds.values("signing_key", now=1000) == ["new"]
    both = CredentialSet("t", "postmark", {"username": "u", "password": "p2"}, {"password": ("p1", 50)})
    assert both.combos("username", "password", now=10) == [("u", "p2"), ("u", "p1")]
    assert both.combos("username", "token", now=10) == []


def test_sendgrid_can_switch_from_signature_to_oauth(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)
    r = esp.api.put("/v1/providers/sendgrid", json={"credentials": {"public_key": None, "oauth_token": "oauth-abc"}})
    assert r.json()["credentials"] == {"oauth_token": "***"}
    body = orjson.dumps(own("sendgrid-bounce.json"))
    assert esp.post("sendgrid", body, {"Authorization": "Bearer oauth-abc"}).status_code == 200
    assert esp.post("sendgrid", body, signer.headers(body)).status_code == 401    # removed at once


def test_credentials_encrypted_with_another_key_are_unreadable_not_a_crash(esp, redis_client):
    signer = MailgunSigner()
    foreign = Credentials(redis_client, esp.store.keys, [Fernet.generate_key()])
    foreign.set(esp.tenant, "mailgun", {"signing_key": signer.key}, grace_seconds=0)
    r = esp.post("mailgun", signer.body(EVENT))
    assert r.status_code == 503 and r.json()["error"] == "credentials_unreadable"
    assert esp.stored() == []


def test_a_blob_copied_to_another_tenant_does_not_authenticate_it(esp, make_tenant, redis_client):
    signer = MailgunSigner()
    esp.configure("mailgun", signing_key=signer.key)
    other = make_tenant("Tenant B")
    blob = redis_client.hget(esp.store.keys.credentials(esp.tenant), "mailgun")
    redis_client.hset(esp.store.keys.credentials(other.tenant), "mailgun", blob)
    r = esp.post("mailgun", signer.body(EVENT), tenant=other.tenant)
    assert r.status_code == 503 and r.json()["error"] == "credentials_unreadable"


def test_embedded_default_key_file_is_private_and_stable(make_settings, redis_url, tmp_path):
    settings = make_settings(redis_url, data_dir=tmp_path / "data")
    first = secret_keys(settings)
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_keys(settings) == first and len(first) == 1
    Fernet(first[0])                                         # a usable key


def test_secret_key_setting_is_validated():
    from webhook.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="REBOUND_SECRET_KEY"):
        Settings.from_env({"REBOUND_SECRET_KEY": "too-short"})
    a, b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    s = Settings.from_env({"REBOUND_SECRET_KEY": f"{a},{b}"})
    assert secret_keys(s) == [a.encode(), b.encode()]


def test_genkey(tmp_path):
    p = run(["providers", "genkey"])
    assert p.returncode == 0
    Fernet(p.stdout.strip().encode())


@pytest.mark.parametrize("provider, name", [("sendgrid", "oauth_token"), ("sparkpost", "token")])
def test_oauth_token_url_for_esps_that_fetch_their_bearer(esp, provider, name):
    esp.configure(provider, **{name: "client-secret-123"})
    url = f"{esp.base}/v1/webhooks/{provider}/{esp.tenant}/oauth/token"
    r = esp.http.post(url, data={"grant_type": "client_credentials", "client_id": esp.tenant,
                                 "client_secret": "client-secret-123"}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    basic = esp.http.post(url, data={"grant_type": "client_credentials"}, auth=(esp.tenant, "client-secret-123"),
                          timeout=10)
    assert basic.json()["access_token"] == token["access_token"]
    body = b"[]" if provider == "sparkpost" else orjson.dumps(own("sendgrid-bounce.json"))
    assert esp.post(provider, body, {"Authorization": f"Bearer {token['access_token']}"}).status_code == 200

    wrong = esp.http.post(url, data={"client_id": "x", "client_secret": "guess"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = esp.http.post(url.replace(esp.tenant, "nobody"), data={"client_secret": "client-secret-123"}, timeout=10)
    assert unknown.status_code == 401 and unknown.json() == wrong.json()
    grant = esp.http.post(url, data={"grant_type": "password", "client_secret": "client-secret-123"}, timeout=10)
    assert grant.status_code == 400


def test_no_oauth_token_url_where_the_esp_has_none(esp):
    r = esp.http.post(f"{esp.base}/v1/webhooks/mailgun/{esp.tenant}/oauth/token", data={"client_secret": "x"},
                      timeout=10)
    assert r.status_code == 404
