"""Resend webhooks, signed the Svix way.

Signature: ``svix-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` entries
(several while Svix rotates keys; any one matching is enough) over
``{svix-id}.{svix-timestamp}.{raw body}``, keyed with the base64-decoded part of the
``whsec_...`` secret. The timestamp must be within REBOUND_WEBHOOK_TOLERANCE_SECONDS (five
minutes by default, as Svix's own libraries). Svix signs every delivery attempt anew, so a
stale timestamp is answered 401 and the retry, freshly signed, succeeds. The
``webhook-*`` header names of Standard Webhooks are accepted too.

Events: email.sent (send), email.delivered, email.delivery_delayed (deferral),
email.complained, email.bounced (``bounce.type``/``subType`` as the provider class; a bounce
that only says Resend suppressed the address is a drop of unstated cause), email.opened,
email.clicked, email.failed (sender side) and email.suppressed (drops). Other types
(contacts, domains, inbound) are ignored and counted. One event per address in ``data.to``;
the idempotency key is ``svix-id`` (the store adds the recipient). Stream: tag ``stream``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from classifier.events import Kind
from store import CredentialsError
from webhook.esp.base import (
    HmacSignatureMixin,
    Parsed,
    Provider,
    TimestampFreshnessMixin,
    WebhookRequest,
    b64,
    bad_payload,
    iso,
    smtp_parts,
    stream_of,
    text,
)

KINDS = {
    "email.sent": Kind.SEND, "email.delivered": Kind.DELIVERED, "email.delivery_delayed": Kind.DEFERRAL,
    "email.complained": Kind.COMPLAINT, "email.bounced": Kind.BOUNCE, "email.opened": Kind.OPEN,
    "email.clicked": Kind.CLICK, "email.failed": Kind.DROP, "email.suppressed": Kind.DROP,
}


def secret_key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        raise ValueError("a Svix secret starts with whsec_")
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1,...`` signature Svix would send (tests and the vector check use it)."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _header(req: WebhookRequest, name: str) -> str | None:
    return req.headers.get(f"svix-{name}") or req.headers.get(f"webhook-{name}")


class Resend(HmacSignatureMixin, TimestampFreshnessMixin, Provider):
    name = "resend"
    title = "Resend"
    max_batch = 100
    credential_names = {"secret": True}
    auth_options = (("secret",),)
    authenticators = ("check_svix",)
    stale_is_permanent = False                        # every Svix retry is signed anew
    setup = "Webhooks > Add endpoint: the webhook URL; its signing secret (whsec_...) is secret"

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        value = value.strip()
        try:
            secret_key(value)
        except (ValueError, binascii.Error):
            raise CredentialsError("resend secret must be the endpoint's signing secret, whsec_<base64>") from None
        return value

    def check_svix(self, req: WebhookRequest) -> bool | None:
        secrets = self.creds.values("secret", req.now)
        if not secrets:
            return None
        msg_id, timestamp, header = _header(req, "id"), _header(req, "timestamp"), _header(req, "signature")
        if not (msg_id and timestamp and header):
            return False
        offered = [part[3:].encode("ascii", "replace") for part in header.split() if part.startswith("v1,")]
        keys = []
        for s in secrets:
            try:
                keys.append(secret_key(s))
            except (ValueError, binascii.Error):
                continue
        if not self.hmac_matches(keys, f"{msg_id}.{timestamp}.".encode() + req.body, offered, b64):
            return False
        self.check_fresh(req, timestamp)
        return True

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        e = req.json()
        if not isinstance(e, dict) or not isinstance(e.get("data"), dict):
            raise bad_payload("Resend posts one JSON object with type and data")
        name, data = e.get("type"), e["data"]
        kind = KINDS.get(name)
        if kind is None:
            out.ignore(name)
            return
        msg_id = _header(req, "id")
        when = iso(e.get("created_at")) or iso(data.get("created_at"))
        tags = data.get("tags")
        if isinstance(tags, list):
            tags = {t.get("name"): t.get("value") for t in tags if isinstance(t, dict)}
        stream = stream_of(tags.get("stream")) if isinstance(tags, dict) else None
        diagnostic = reply = status = provider_class = None
        if kind is Kind.BOUNCE:
            b = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
            codes = b.get("diagnosticCode")
            first = codes[0] if isinstance(codes, list) and codes else codes
            diagnostic, reply, status = smtp_parts(text(first) or text(b.get("message")))
            if text(first) and text(b.get("message")):
                diagnostic = f"{diagnostic} ({b['message']})"
            btype, sub = text(b.get("type")), text(b.get("subType"))
            if btype:
                provider_class = f"resend:{btype}" + (f"/{sub}" if sub else "")
            elif "suppressed" in (text(b.get("message")) or "").lower():
                kind, provider_class = Kind.DROP, "resend:suppressed"
            else:
                provider_class = "resend:bounce"
        elif kind is Kind.DROP:
            provider_class = "resend:failed" if name == "email.failed" else "resend:suppressed"
            failed = data.get("failed") if isinstance(data.get("failed"), dict) else {}
            diagnostic = text(failed.get("reason"))
        elif kind is Kind.DEFERRAL:
            provider_class = "resend:delivery_delayed"
        recipients = data.get("to") if isinstance(data.get("to"), list) else [data.get("to")]
        for r in recipients:
            out.add(r, kind, msg_id or f"resend:{data.get('email_id')}:{name}", when, stream=stream, status=status,
                    reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                    feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=text(data.get("email_id")))
