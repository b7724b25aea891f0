"""Scaleway Transactional Email through Topics and Events: the synthetic vectors check the
string to sign and the RSA signature; over HTTP, every sample arrives in an SNS envelope signed
with a real key whose certificate a test CA issued, served (with the CA's trust chain) by a
local HTTPS server answering as Scaleway's hosts."""
from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import ssl
import time

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.webhook.esp.conftest import _cert, serve_https, sns_time
from tests.webhook.esp.shared_esp import Material
from webhook.esp import sns
from webhook.esp.scaleway import ScalewayCertificates
from webhook.fetch import Fetcher

M = Material("scaleway")
META = M.vectors()
TOPIC = "arn:scw:sns:fr-par:project-1a2b3c4d-0000-4000-8000-00000000000b:tem-events"
CERT_HOST, CHAIN_HOST = "sns.mnq.fr-par.scaleway.com", "messaging.s3.fr-par.scw.cloud"
CERT_URL = f"https://{CERT_HOST}/fr-par/sns/signing-cert.pem"


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Signer:
    """A Topics and Events look-alike: an RSA key whose certificate ``ca_key`` issued."""

    def __init__(self, ca_key, ca_name: str):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = _cert(self.key, ca_key, "sns.mnq.fr-par.scaleway.com", ca_name, ca=False)

    def sign(self, envelope: dict, age: float = 0) -> dict:
        msg = {k: v for k, v in envelope.items() if k not in ("Signature", "SignatureVersion", "SigningCertURL")}
        msg.update(Timestamp=sns_time(time.time() - age), SignatureVersion="1", SigningCertURL=CERT_URL)
        sig = self.key.sign(sns.string_to_sign(msg), padding.PKCS1v15(), hashes.SHA1())
        return dict(msg, Signature=base64.b64encode(sig).decode())

    def notification(self, event: dict, topic: str = TOPIC) -> dict:
        return self.sign({"Type": "Notification", "MessageId": secrets.token_hex(8), "TopicArn": topic,
                          "Message": json.dumps(event)})


class FakeScaleway:
    """HTTPS on loopback for Scaleway's hosts: the trust chain, the signing certificate (the
    one the test names) and subscription confirmations; every request recorded."""

    def __init__(self, tmp):
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = _cert(self.ca_key, self.ca_key, "Scaleway Test CA", "Scaleway Test CA", ca=True)
        self.signer = Signer(self.ca_key, "Scaleway Test CA")
        self.served = _pem(self.signer.cert)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        self.tls_ca = _cert(tls_key, tls_key, "Rebound TLS Test CA", "Rebound TLS Test CA", ca=True)
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(leaf_key, tls_key, CERT_HOST, "Rebound TLS Test CA", ca=False,
                     sans=[x509.DNSName(CERT_HOST), x509.DNSName(CHAIN_HOST)])
        (tmp / "tls.crt").write_bytes(_pem(leaf))
        (tmp / "tls.key").write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
        self.requests: list[tuple[str, str]] = []

        def answer(path: str) -> tuple[int, bytes]:
            if path.endswith("sns-trust-chain.pem"):
                return 200, _pem(self.ca)
            if path.endswith(".pem"):
                return 200, self.served
            return 200, b"<ConfirmSubscriptionResponse/>"

        self.server, port = serve_https(answer, tmp / "tls.crt", tmp / "tls.key", self.requests)
        self.fetcher = Fetcher(timeout=5, ssl_context=ssl.create_default_context(cadata=_pem(self.tls_ca).decode()),
                               connect_to={f"{h}:443": ("127.0.0.1", port) for h in (CERT_HOST, CHAIN_HOST)})

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def scaleway(app, esp, tmp_path):
    fake = FakeScaleway(tmp_path)
    app.extensions["rebound"].fetcher = fake.fetcher
    esp.configure("scaleway", topic_arns=TOPIC, auto_confirm="true")

    def post(event: dict) -> dict:
        r = esp.post("scaleway", orjson.dumps(fake.signer.notification(event)), content_type="text/plain")
        assert r.status_code == 200, r.text
        return r.json()
    post.fake = fake
    yield post
    fake.stop()


# -- the synthetic vectors: canonical string and RSA only (their certificate is self-signed) --

@pytest.mark.parametrize("vector", META["vectors"], ids=lambda v: v["id"])
def test_vectors(vector):
    # the synthetic certificate sits at an example.invalid URL, which is not signed: pin it at a Scaleway one
    message = dict(json.loads(M.body(vector)), SigningCertURL=CERT_URL)
    certs = ScalewayCertificates("fr-par")
    certs.pin(CERT_URL, (M.dir / META["certificate_pem_file"]).read_bytes(), check_expiry=False)
    verify = lambda: sns.verify(message, certs, None, now=dt.datetime.fromisoformat(message["Timestamp"]),
                                versions={"1": hashes.SHA1})
    if vector["expected"] == "valid":
        verify()
    else:
        with pytest.raises(sns.SnsError):
            verify()


def test_the_sample_envelopes_are_the_vectors():
    [note] = [v for v in META["vectors"] if v["id"] == "scw-sns-notification-valid"]
    [conf] = [v for v in META["vectors"] if v["id"] == "scw-sns-confirmation-valid"]
    assert M.sample_json("constructed_sns_notification_email_dropped.json") == json.loads(note["body"])
    assert M.sample_json("constructed_sns_subscription_confirmation.json") == json.loads(conf["body"])
    assert json.loads(json.loads(note["body"])["Message"]) == M.sample_json("constructed_email_dropped.json")


# -- over HTTP ------------------------------------------------------------------------------

def test_mailbox_not_found_suppresses(esp, scaleway):
    assert scaleway(M.sample_json("constructed_email_mailbox_not_found.json"))["accepted"] == 1
    assert esp.codes("nobody@example.com") == ["previously_bounced"]
    [entry] = esp.history("nobody@example.com")
    assert entry["provider_class"] == "scaleway:email_mailbox_not_found" and entry["status"] == "5.1.1"
    # the trust chain and the certificate were fetched once each, from Scaleway's hosts
    assert sorted(h for h, _ in scaleway.fake.requests) == [CHAIN_HOST, CERT_HOST]
    event = M.sample_json("constructed_email_mailbox_not_found.json")
    assert scaleway(event)["duplicates"] == 1                                   # the same event id again
    assert len(scaleway.fake.requests) == 2


def test_a_drop_for_content_is_about_the_sender(esp, scaleway):
    scaleway(M.sample_json("constructed_email_dropped.json"))
    assert esp.answer("carol@example.com")["sendable"] is True
    [entry] = esp.history("carol@example.com")
    assert entry["kind"] == "bounce" and entry["reply_code"] == "550" and entry["status"] == "5.7.1"


def test_spam_deferral_and_blocklisted(esp, scaleway):
    scaleway(M.sample_json("constructed_email_spam.json"))
    scaleway(M.sample_json("constructed_email_deferred.json"))
    scaleway(M.sample_json("constructed_email_blocklisted.json"))
    assert esp.answer("dave@example.org", stream="marketing")["sendable"] is True     # spam: not a complaint
    assert esp.history("bob@example.net")[0]["kind"] == "deferral"
    [drop] = esp.history("nobody@example.com")
    assert drop["kind"] == "drop" and drop["provider_class"] == "scaleway:email_blocklisted/mailbox_not_found"
    assert esp.codes("nobody@example.com") == ["previously_bounced"]


def test_queued_delivered_and_blocklist_notices(esp, scaleway):
    scaleway(M.sample_json("constructed_email_queued.json"))
    scaleway(M.sample_json("constructed_email_delivered.json"))
    assert scaleway(M.sample_json("constructed_blocklist_created.json"))["ignored"] == 1
    assert sorted(e["kind"] for e in esp.history("alice@example.org")) == ["delivered", "send"]


def test_subscription_confirmation(esp, scaleway):
    envelope = scaleway.fake.signer.sign(M.sample_json("constructed_sns_subscription_confirmation.json"))
    r = esp.post("scaleway", orjson.dumps(envelope), content_type="text/plain")
    assert r.status_code == 200 and r.json()["subscription"] == "confirmed"
    assert any(h == "sns.mnq.fr-par.scaleway.com" and "ConfirmSubscription" in p for h, p in scaleway.fake.requests)


def test_a_certificate_another_ca_issued_is_refused(esp, app, scaleway):
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = Signer(rogue_key, "Scaleway Test CA")          # same name, other key
    scaleway.fake.served = _pem(rogue.cert)
    r = esp.post("scaleway", orjson.dumps(rogue.notification(M.sample_json("constructed_email_mailbox_not_found.json"))),
                 content_type="text/plain")
    assert r.status_code == 401 and esp.history("nobody@example.com") == []


def test_topics_not_listed_and_other_hosts_are_refused_before_fetching(esp, scaleway):
    event = M.sample_json("constructed_email_mailbox_not_found.json")
    other = "arn:scw:sns:fr-par:project-1a2b3c4d-0000-4000-8000-00000000000c:elsewhere"
    r = esp.post("scaleway", orjson.dumps(scaleway.fake.signer.notification(event, topic=other)), content_type="text/plain")
    assert r.status_code == 403
    envelope = dict(scaleway.fake.signer.notification(event), SigningCertURL="https://evil.example/cert.pem")
    assert esp.post("scaleway", orjson.dumps(envelope), content_type="text/plain").status_code == 401
    assert scaleway.fake.requests == [] and esp.history("nobody@example.com") == []


def test_the_arn_is_checked_when_set(esp):
    r = esp.api.put("/v1/providers/scaleway", json={"credentials": {"topic_arns": "arn:aws:sns:us-east-1:1:x"}})
    assert r.status_code == 400 and "arn:scw:sns" in r.json()["message"]


def test_every_sample_is_sent_by_a_test():
    assert M.samples() <= M.named_in(__file__), sorted(M.samples() - M.named_in(__file__))
