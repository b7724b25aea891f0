"""Postal (self-hosted, postalserver/postal) webhooks: one JSON envelope per request,
``{"event", "timestamp", "payload", "uuid"}``.

Signature: Postal signs the raw body with its installation's RSA key (PKCS#1 v1.5):
``X-Postal-Signature-256`` (SHA-256, Postal 3.2 and later) and ``X-Postal-Signature``
(SHA-1, always). The newer one is verified when it is sent, else the SHA-1 one. There is no
shared secret: the credential is the public key, ``public_key`` (not secret), as
``postal default-dkim-record`` prints it (the ``p=`` value, a base64 SubjectPublicKeyInfo;
the whole DKIM record or a PEM block are accepted too). The signed ``timestamp`` stays the
same across Postal's retries, which end after about 36 minutes, so a request signed more than
``MAX_AGE`` ago (plus REBOUND_WEBHOOK_TOLERANCE_SECONDS) is a replay: 401. Duplicates within
that window are dropped on the envelope ``uuid``, which Postal reuses when it retries.

Events: MessageSent (delivered), MessageDelayed (deferral, ``postal:SoftFail``),
MessageDeliveryFailed (bounce, ``postal:HardFail``), MessageHeld (a drop: Postal did not send,
``details`` says why, e.g. its suppression list), MessageBounced (a DSN Postal received for a
sent message: a bounce of the original recipient, ``postal:Bounced``), MessageLinkClicked and
MessageLoaded (click, open). Postal has no complaint or unsubscribe events. Messages whose
``direction`` is ``incoming`` (Postal's inbound routes) are not ours and are ignored, as are
DomainDNSError and the send-limit events. The diagnostic is Postal's ``output`` (the remote
server's reply) and ``details``. Stream: the message ``tag`` when it names one.
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from email.utils import parseaddr

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from classifier.events import Kind
from store import CredentialsError
from webhook.esp.base import (
    Parsed,
    Provider,
    Rejected,
    WebhookRequest,
    bad_payload,
    epoch,
    smtp_parts,
    stream_of,
    text,
)

#: Postal gives up retrying a webhook after six attempts, about 36 minutes
MAX_AGE = 3600
HEADERS = (("X-Postal-Signature-256", hashes.SHA256), ("X-Postal-Signature", hashes.SHA1))
STATUS_KINDS = {"MessageSent": Kind.DELIVERED, "MessageDelayed": Kind.DEFERRAL,
                "MessageDeliveryFailed": Kind.BOUNCE, "MessageHeld": Kind.DROP}
CLASSES = {"MessageDelayed": "postal:SoftFail", "MessageDeliveryFailed": "postal:HardFail",
           "MessageHeld": "postal:Held"}
_DKIM_P = re.compile(r"(?:^|;)\s*p\s*=\s*([A-Za-z0-9+/=\s]+)")


def load_public_key(value: str) -> rsa.RSAPublicKey:
    """The RSA key from a base64 SPKI, a DKIM record (its ``p=``) or a PEM block."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(value.encode("ascii"))
    else:
        m = _DKIM_P.search(value) if "=" in value and ";" in value else None
        b64 = "".join((m.group(1) if m else value).split())
        key = serialization.load_der_public_key(base64.b64decode(b64, validate=True))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA key")
    return key


def verify(public_key: str, body: bytes, headers) -> bool:
    """Whether ``body`` carries Postal's signature by ``public_key`` (SHA-256 when sent)."""
    try:
        key = load_public_key(public_key)
    except (ValueError, binascii.Error):
        return False
    for header, digest in HEADERS:
        value = headers.get(header)
        if value is None:
            continue
        try:
            key.verify(base64.b64decode(value.strip(), validate=True), body, padding.PKCS1v15(), digest())
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True
    return False


def _address(value) -> str | None:
    """Postal's ``to`` may carry a display name: ``Ann <ann@example.org>``."""
    if not isinstance(value, str):
        return value
    return parseaddr(value)[1] or value


class Postal(Provider):
    name = "postal"
    title = "Postal"
    max_batch = 1
    credential_names = {"public_key": False}
    auth_options = (("public_key",),)
    authenticators = ("check_signature",)
    setup = ("Mail server > Webhooks > Add webhook: the webhook URL, all events; public_key: the p= value "
             "that `postal default-dkim-record` prints (Postal's signing key, public)")

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        try:
            key = load_public_key(value)
        except (ValueError, binascii.Error):
            raise CredentialsError("postal public_key must be the installation's RSA public key: the p= value "
                                   "of `postal default-dkim-record` (base64), the DKIM record, or a PEM block") from None
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode("ascii")

    def check_signature(self, req: WebhookRequest) -> bool | None:
        keys = self.creds.values("public_key", req.now)
        if not keys:
            return None
        if not any([verify(k, req.body, req.headers) for k in keys]):
            return False
        body = req.json()
        ts = body.get("timestamp") if isinstance(body, dict) else None
        try:
            ts = float(ts)
        except (TypeError, ValueError):
            ts = math.nan
        if not math.isfinite(ts) or req.now - ts > MAX_AGE + self.ctx.tolerance or ts - req.now > self.ctx.tolerance:
            raise Rejected(401, "stale_timestamp",
                           f"the request was signed more than {MAX_AGE} s ago (or in the future)",
                           permanent=True, reason="stale_timestamp")
        return True

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        e = req.json()
        if not isinstance(e, dict) or not isinstance(e.get("payload"), dict):
            raise bad_payload("Postal posts one JSON object with event and payload")
        name, p = e.get("event"), e["payload"]
        event_id = text(e.get("uuid")) or text(str(e.get("timestamp")))
        if isinstance(p.get("original_message"), dict) and isinstance(p.get("bounce"), dict):
            self._bounced(name, p, event_id, out)     # MessageBounced: the only payload of this shape
            return
        message = p.get("message") if isinstance(p.get("message"), dict) else None
        if message is None or name not in (*STATUS_KINDS, "MessageLinkClicked", "MessageLoaded"):
            out.ignore(name if isinstance(name, str) else None)
            return
        if message.get("direction") == "incoming":
            out.ignore(f"{name}:incoming")
            return
        when = epoch(p.get("timestamp")) or epoch(e.get("timestamp"))
        common = {"stream": stream_of(message.get("tag")), "message_id": text(message.get("message_id"))}
        if name == "MessageLinkClicked":
            out.add(_address(message.get("to")), Kind.CLICK, event_id, when, **common)
        elif name == "MessageLoaded":
            out.add(_address(message.get("to")), Kind.OPEN, event_id, when, **common)
        else:
            kind = STATUS_KINDS[name]
            output, details = text(p.get("output")), text(p.get("details"))
            diagnostic, reply, status = smtp_parts(output)
            if kind is Kind.DROP or not diagnostic:
                diagnostic = details or diagnostic
            elif details and kind is not Kind.DELIVERED:
                diagnostic = f"{diagnostic} ({details})"
            out.add(_address(message.get("to")), kind, event_id, when, status=status, reply_code=reply,
                    diagnostic=diagnostic, provider_class=CLASSES.get(name), **common)

    @staticmethod
    def _bounced(name, p: dict, event_id: str | None, out: Parsed) -> None:
        original, bounce = p["original_message"], p["bounce"]
        if original.get("direction") == "incoming":
            out.ignore(f"{name}:incoming")
            return
        out.add(_address(original.get("to")), Kind.BOUNCE, event_id or f"bounce:{bounce.get('id')}",
                epoch(bounce.get("timestamp")) or epoch(p.get("timestamp")),
                stream=stream_of(original.get("tag")),
                remote_mta=text(parseaddr(bounce.get("from") or "")[1].partition("@")[2]) or None,
                provider_class="postal:Bounced", message_id=text(original.get("message_id")))
