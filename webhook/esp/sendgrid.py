"""SendGrid Event Webhook: JSON arrays of events, signed with ECDSA P-256 (or OAuth bearer).

Signature: ``X-Twilio-Email-Event-Webhook-Signature`` is base64 DER of an ECDSA P-256 /
SHA-256 signature over the bytes of ``X-Twilio-Email-Event-Webhook-Timestamp`` followed by
the raw body, exactly as received (the official test vector fails if a trailing CRLF is
stripped). The verification key is the base64 DER SubjectPublicKeyInfo shown in SendGrid's
settings (credential ``public_key``). SendGrid documents no freshness window and retries for
up to 72 hours, so a signed timestamp older than 72 hours plus
REBOUND_WEBHOOK_TOLERANCE_SECONDS is a replay and refused (401 ``stale_timestamp``), as is
one further ahead than the tolerance or not a number: unchecked, a captured request was
accepted again once its event ids had left the dedup window (issue 15).

Stream: a custom argument ``stream`` ("marketing"/"transactional"), else a ``category``
with one of those names, else Marketing Campaigns sends (``marketing_campaign_id``) are
marketing. Subscription scope: ``asm_group_id`` (group unsubscribe/resubscribe).

Drops mirror SendGrid's own lists: "Unsubscribed Address" becomes an unsubscribe (of the
group when ``asm_group_id`` is given), "Spam Reporting Address" a complaint, and the other
reasons ("Bounced Address", "Invalid", "Spam Content", ...) a drop classified through
``classifier/rules/provider_classes.py``.
"""
from __future__ import annotations

import base64
import binascii
import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from classifier.events import Kind
from store import CredentialsError
from webhook.esp.base import (
    BearerTokenMixin,
    Parsed,
    Provider,
    TimestampFreshnessMixin,
    WebhookRequest,
    bad_payload,
    epoch,
    fingerprint,
    smtp_parts,
    status_code,
    stream_of,
    text,
)

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

KINDS = {
    "processed": Kind.SEND, "delivered": Kind.DELIVERED, "open": Kind.OPEN, "click": Kind.CLICK,
    "deferred": Kind.DEFERRAL, "bounce": Kind.BOUNCE, "dropped": Kind.DROP,
    "spamreport": Kind.COMPLAINT, "unsubscribe": Kind.UNSUBSCRIBE,
    "group_unsubscribe": Kind.UNSUBSCRIBE, "group_resubscribe": Kind.RESUBSCRIBE,
}
#: drops that mirror a list SendGrid keeps: the drop means the same as the original event
DROP_KINDS = {"unsubscribed address": Kind.UNSUBSCRIBE, "spam reporting address": Kind.COMPLAINT}


@functools.lru_cache(maxsize=256)
def load_public_key(b64_der: str) -> ec.EllipticCurvePublicKey:
    """The verification key from SendGrid's base64 DER SubjectPublicKeyInfo (cached: the
    parse costs more than the verification)."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(b64_der, validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise ValueError("not a base64 DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def verify(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes) -> bool:
    """SendGrid's signature check, usable on its own (the official vectors test this)."""
    try:
        key = load_public_key(public_key_b64)
        der = base64.b64decode(signature_b64, validate=True)
        key.verify(der, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True


class EcdsaSignatureMixin:
    def check_ecdsa(self, req: WebhookRequest) -> bool | None:
        keys = self.creds.values("public_key", req.now)
        if not keys:
            return None
        signature, timestamp = req.headers.get(SIGNATURE), req.headers.get(TIMESTAMP)
        if not signature or not timestamp:
            return False
        if not any(verify(k, signature, timestamp, req.body) for k in keys):
            return False
        self.check_fresh(req, timestamp)
        return True


class SendGrid(EcdsaSignatureMixin, TimestampFreshnessMixin, BearerTokenMixin, Provider):
    name = "sendgrid"
    title = "SendGrid"
    max_age = 72 * 3600                               # SendGrid's retries keep their first timestamp
    kinds = KINDS
    credential_names = {"public_key": False, "oauth_token": True}
    auth_options = (("public_key",), ("oauth_token",))
    authenticators = ("check_ecdsa", "check_bearer")
    oauth_credential = "oauth_token"
    bearer_credential = "oauth_token"
    setup = ("Settings > Mail Settings > Event Webhook: HTTP Post URL = the webhook URL; enable "
             "Signed Event Webhook and set its verification key as public_key (or OAuth: oauth_token)")

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        value = value.strip()
        if name == "public_key":
            try:
                load_public_key(value)
            except ValueError as exc:
                raise CredentialsError(f"sendgrid public_key: {exc}") from None
        return value

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        data = req.json()
        if not isinstance(data, list):
            raise bad_payload("SendGrid posts a JSON array of events")
        out.expect(len(data), self.title)
        self.parse_objects(data, out)

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        event_id = e.get("sg_event_id") or fingerprint(e.get("sg_message_id"), name, e.get("email"),
                                                        e.get("timestamp"))
        group = e.get("asm_group_id")
        subscription = str(group) if group not in (None, "") else None
        provider_class = diagnostic = reply = status = None
        if kind in (Kind.BOUNCE, Kind.DROP, Kind.DEFERRAL, Kind.DELIVERED):
            diagnostic, reply, status = smtp_parts(e.get("reason") or e.get("response"))
            status = status_code(e.get("status")) or status
        if kind is Kind.BOUNCE:
            classification = text(e.get("bounce_classification"))
            provider_class = f"sendgrid:{e.get('type') or 'bounce'}" + (f"/{classification}" if classification else "")
        elif kind is Kind.DROP:
            reason = text(e.get("reason")) or ""
            kind = DROP_KINDS.get(reason.lower(), Kind.DROP)
            provider_class = f"sendgrid:dropped/{reason}" if reason else "sendgrid:dropped"
        elif kind is Kind.DEFERRAL:
            provider_class = "sendgrid:deferred"
        if kind is Kind.UNSUBSCRIBE and name == "unsubscribe":
            subscription = None                       # a global unsubscribe, whatever the group
        stream = stream_of(e.get("stream"), e.get("category")) or (
            "marketing" if e.get("marketing_campaign_id") else None)
        out.add(e.get("email"), kind, event_id, epoch(e.get("timestamp")), stream=stream,
                subscription=subscription if kind in (Kind.UNSUBSCRIBE, Kind.RESUBSCRIBE) else None,
                status=status, reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None,
                message_id=text(e.get("sg_message_id")))
