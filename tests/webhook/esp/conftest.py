"""Fixtures for the ESP webhook tests: real keys, real signatures, a real HTTPS server.

Every provider is exercised the way it really authenticates: the tests generate an ECDSA
P-256 key for SendGrid, an RSA key and certificate for SNS (served over HTTPS by a local
server posing as sns.<region>.amazonaws.com, behind a test CA the app's fetcher trusts),
HMAC keys for Mailgun, Mandrill and Svix, and passwords/tokens for the others.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import http.server
import ipaddress
import json
import secrets
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest
import requests
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import FIXTURES, shared
from webhook.esp.base import WebhookRequest
from webhook.esp.sns import string_to_sign
from webhook.fetch import Fetcher
from webhook.provider_config import configure

SNS_HOSTS = ("sns.us-east-1.amazonaws.com", "sns.us-east-2.amazonaws.com", "sns.us-west-2.amazonaws.com")
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"


def sample(name: str) -> bytes:
    """An ESP's official sample (../shared/esp/samples): the test, or at import its module,
    is skipped where ../shared is absent."""
    return shared("esp", "samples", name).read_bytes()


def own(name: str):
    """A payload of tests/fixtures/esp, written by us: what the tests of a mechanism use so
    that they run without ../shared."""
    return json.loads((FIXTURES / "esp" / name).read_bytes())


def sample_json(name: str):
    return json.loads(sample(name))


@pytest.fixture
def settings(make_settings, redis_url, tmp_path):
    """The app of these tests encrypts credentials with a key of its own."""
    return make_settings(redis_url, secret_key=Fernet.generate_key().decode(), data_dir=tmp_path / "data")


#: reasons judged from the address alone at query time, whatever the events said
FROM_THE_ADDRESS = {"invalid_syntax", "role_address", "disposable_domain"}


class Esp:
    """One tenant posting webhooks to the live server and asking about the result."""

    def __init__(self, app, api, base: str):
        self.app, self.api, self.base = app, api, base
        self.svc = app.extensions["rebound"]
        self.store = self.svc.store
        self.tenant = api.tenant
        self.http = requests.Session()

    def configure(self, provider: str, grace: int = 3600, **values) -> dict:
        return configure(self.store, self.tenant, provider, values, grace_seconds=grace)

    def post(self, provider: str, body: bytes, headers: dict | None = None,
             content_type: str | None = "application/json", tenant: str | None = None) -> requests.Response:
        h = dict(headers or {})
        if content_type:
            h.setdefault("Content-Type", content_type)
        return self.http.post(f"{self.base}/v1/webhooks/{provider}/{tenant or self.tenant}", data=body,
                              headers=h, timeout=30)

    def poster(self, provider: str, sign=lambda body: {}, **kw):
        """post(body) -> the JSON answer, asserting a 200; ``sign(body)`` gives the headers."""
        def post(body: bytes) -> dict:
            r = self.post(provider, body, sign(body), **kw)
            assert r.status_code == 200, r.text
            return r.json()
        return post

    def answer(self, address: str, **params) -> dict:
        return self.api.get(f"/v1/recipients/{address}", params=params).json()

    def codes(self, address: str, **params) -> list[str]:
        """The reasons the events caused: not those judged from the address alone at query
        time (the samples' addresses include role accounts such as bounce@ and hello@)."""
        return [r["code"] for r in self.answer(address, **params)["reasons"] if r["code"] not in FROM_THE_ADDRESS]

    def history(self, address: str) -> list[dict]:
        return self.api.get(f"/v1/recipients/{address}/history").json()["events"]

    def ignored(self) -> dict[str, int]:
        return self.store.ignored.counts(self.tenant)

    def stored(self) -> list[str]:
        """Every key of this tenant except its credentials: what a request left behind."""
        r = self.store.r
        return sorted(k.decode() for k in r.scan_iter(f"rb:t:*{self.tenant}*") if not k.endswith(b":esp"))


@pytest.fixture
def esp(app, api, live_server) -> Esp:
    return Esp(app, api, live_server.url)


def make_request(body: bytes, headers: dict, now: float, mimetype: str = "application/json") -> WebhookRequest:
    from werkzeug.datastructures import Headers

    return WebhookRequest("POST", body, Headers(headers), mimetype, now)


# -- signers ------------------------------------------------------------------------------

class SendGridSigner:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: str | None = None) -> dict:
        ts = timestamp or str(int(time.time()))
        sig = self.key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts}


class MailgunSigner:
    def __init__(self):
        self.key = secrets.token_hex(16)

    def body(self, event_data: dict, timestamp: int | None = None, token: str | None = None,
             key: str | None = None) -> bytes:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        token = token or secrets.token_hex(25)
        sig = hmac.new((key or self.key).encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
        return orjson.dumps({"signature": {"timestamp": ts, "token": token, "signature": sig},
                             "event-data": event_data})


class MandrillSigner:
    def __init__(self, key: str = "test-webhook-key", url: str = "https://hooks.example.com/mandrill?x=1"):
        self.key, self.url = key, url

    def signature(self, fields: dict, url: str | None = None) -> str:
        signed = (url or self.url) + "".join(k + v for k, v in sorted(fields.items()))
        return base64.b64encode(hmac.new(self.key.encode(), signed.encode(), hashlib.sha1).digest()).decode()

    def post_args(self, events: list) -> tuple[bytes, dict]:
        fields = {"mandrill_events": json.dumps(events)}
        return urlencode(fields).encode(), {"X-Mandrill-Signature": self.signature(fields)}


class SvixSigner:
    def __init__(self):
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    def headers(self, body: bytes, msg_id: str | None = None, timestamp: int | None = None,
                secret: str | None = None) -> dict:
        from webhook.esp.resend import sign

        msg_id = msg_id or "msg_" + secrets.token_hex(8)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"svix-id": msg_id, "svix-timestamp": ts, "svix-signature": sign(secret or self.secret, msg_id, ts, body)}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, issuer_key, subject: str, issuer: str, *, ca: bool, sans=(), days: int = 30):
    """A certificate with the extensions real ones carry (key identifiers, key usage):
    Python 3.13 verifies TLS chains with VERIFY_X509_STRICT, which refuses a CA without
    them, as a client meeting a real SNS host would never see."""
    now = dt.datetime.now(dt.UTC)
    usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                           "encipher_only", "decipher_only"), False)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **usage), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@functools.lru_cache(maxsize=1)
def _rsa_identity():
    """One RSA key and certificate per test session: generating them costs ~0.1 s."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _cert(key, key, "sns.amazonaws.com", "sns.amazonaws.com", ca=False)


class SnsSigner:
    """An SNS look-alike: an RSA signing key with its certificate, served at an SNS URL."""

    def __init__(self, cert_url: str):
        self.key, self.cert = _rsa_identity()
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.cert_url = cert_url

    def sign(self, envelope: dict, version: str = "1", age: float = 0) -> dict:
        """Sign ``envelope`` as published ``age`` seconds ago (samples carry old Timestamps)."""
        msg = {k: v for k, v in envelope.items() if k not in ("Signature", "SignatureVersion", "SigningCertURL")}
        msg["Timestamp"] = sns_time(time.time() - age)
        msg["SignatureVersion"] = version
        msg["SigningCertURL"] = self.cert_url
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = self.key.sign(string_to_sign(msg), padding.PKCS1v15(), digest)
        msg["Signature"] = base64.b64encode(sig).decode()
        return msg

    def notification(self, message: str | dict, topic: str = TOPIC, version: str = "1", age: float = 0) -> dict:
        if not isinstance(message, str):
            message = json.dumps(message)
        return self.sign({"Type": "Notification", "MessageId": secrets.token_hex(16), "TopicArn": topic,
                          "Message": message,
                          "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"}, version, age)


def sns_time(epoch: float) -> str:
    """A Timestamp as SNS writes them: 2026-11-26T10:00:00.123Z."""
    t = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def serve_https(answer, cert_file: Path, key_file: Path, requests: list) -> tuple:
    """A local HTTPS server in a thread for fakes of ESPs' certificate and confirmation hosts:
    ``answer(path) -> (status, body)`` for every GET, each recorded in ``requests`` as
    (Host, path). Returns (server, port); stop it with ``server.shutdown()``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append((self.headers.get("Host"), self.path))
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, server.server_address[1]


class FakeSns:
    """A local HTTPS server answering as sns.<region>.amazonaws.com: it serves the signing
    certificate for any *.pem path (404 for paths with "missing", a web page for those with
    "garbage") and records every request."""

    def __init__(self, tmp: Path, signer_pem: bytes):
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = _cert(self.ca_key, self.ca_key, "Rebound Test CA", "Rebound Test CA", ca=True)
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(leaf_key, self.ca_key, SNS_HOSTS[0], "Rebound Test CA", ca=False,
                     sans=[x509.DNSName(h) for h in SNS_HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        cert_file, key_file = tmp / "sns.crt", tmp / "sns.key"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.requests: list[tuple[str, str]] = []

        def answer(path: str) -> tuple[int, bytes]:
            if "missing" in path:
                return 404, b"not found"
            if "garbage" in path:
                return 200, b"<html>not a certificate</html>"
            if path.endswith(".pem"):
                return 200, signer_pem
            if "Action=ConfirmSubscription" in path:
                return 200, b"<ConfirmSubscriptionResponse/>"
            return 404, b"not found"

        self.server, self.port = serve_https(answer, cert_file, key_file, self.requests)

    def fetcher(self) -> Fetcher:
        ctx = ssl.create_default_context(cadata=self.ca.public_bytes(serialization.Encoding.PEM).decode())
        return Fetcher(timeout=5, ssl_context=ctx, connect_to={f"{h}:443": ("127.0.0.1", self.port) for h in SNS_HOSTS})

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def sns(app, tmp_path):
    """(signer, fake SNS server); the app fetches SNS URLs from the fake server."""
    signer = SnsSigner("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-rebound-test.pem")
    server = FakeSns(tmp_path, signer.pem)
    app.extensions["rebound"].fetcher = server.fetcher()
    yield signer, server
    server.stop()
