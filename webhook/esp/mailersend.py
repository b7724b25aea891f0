"""MailerSend activity webhooks, payload versions 1 ("Legacy") and 2, one event per request.

Signature: header ``Signature`` = lower-case hex HMAC-SHA256 of the raw body, keyed with the
webhook's signing secret (credential ``signing_secret``). MailerSend sends no timestamp or
nonce, so there is no freshness check; duplicates are dropped on the event id (``data.id``).
When a webhook is saved, MailerSend posts a ``webhook.test`` ping signed with a fixed public
secret and keeps the webhook only if it gets a 2xx: that secret is accepted for exactly that
body type, which carries no event, so nothing can be stored with it.

Versions: v1 carries ``data.email`` as an object (recipient ``data.email.recipient.email``,
bounce reason ``data.morph.reason``); v2 flattens it (recipient ``data.email`` or
``data.recipient``, bounce fields in ``data.meta``). Both are read.

Events: ``activity.sent`` (send), ``delivered``, ``soft_bounced`` (a bounce MailerSend calls
temporary: ``mailersend:soft_bounced``, never hard), ``hard_bounced``
(``mailersend:hard_bounced``), ``deferred`` (deferral), ``opened``/``opened_unique``,
``clicked``/``clicked_unique``, ``unsubscribed`` (from everything) and ``spam_complaint``.
Survey and account events are acknowledged and counted as ignored. Stream: a tag naming one.
"""
from __future__ import annotations

import hashlib
import hmac

from classifier.events import Kind
from webhook.esp.base import (
    HmacSignatureMixin,
    Parsed,
    Provider,
    WebhookRequest,
    bad_payload,
    hexlify,
    iso,
    reply_code,
    smtp_parts,
    stream_of,
    text,
)

#: the public secret MailerSend signs its webhook.test pings with (Symfony's bridge, hookdeck)
PING_SECRET = "test_Am3L1GuOIc4blLUuHqAPxxwkZaJyEk8G"
PING = "webhook.test"

KINDS = {
    "activity.sent": Kind.SEND, "activity.delivered": Kind.DELIVERED, "activity.soft_bounced": Kind.BOUNCE,
    "activity.hard_bounced": Kind.BOUNCE, "activity.deferred": Kind.DEFERRAL, "activity.opened": Kind.OPEN,
    "activity.opened_unique": Kind.OPEN, "activity.clicked": Kind.CLICK, "activity.clicked_unique": Kind.CLICK,
    "activity.unsubscribed": Kind.UNSUBSCRIBE, "activity.spam_complaint": Kind.COMPLAINT,
}


def sign(secret: str, body: bytes) -> str:
    """The ``Signature`` header MailerSend sends with ``body``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class MailerSend(HmacSignatureMixin, Provider):
    name = "mailersend"
    title = "MailerSend"
    max_batch = 1
    credential_names = {"signing_secret": True}
    auth_options = (("signing_secret",),)
    authenticators = ("check_signature",)
    setup = ("Domains > Manage > Webhooks > Add webhook: the webhook URL, the activity events, version 1 or 2; "
             "the webhook's signing secret is signing_secret")

    def check_signature(self, req: WebhookRequest) -> bool | None:
        secrets = self.creds.values("signing_secret", req.now)
        if not secrets:
            return None
        offered = (req.headers.get("Signature") or "").strip().lower().encode("ascii", "replace")
        if not offered:
            return False
        keys = [s.encode("utf-8") for s in secrets]
        if self.hmac_matches(keys, req.body, [offered], hexlify):
            return True
        # the save-time ping, signed with MailerSend's public test secret: only a ping body
        if self.hmac_matches([PING_SECRET.encode()], req.body, [offered], hexlify):
            body = req.json()
            return isinstance(body, dict) and body.get("type") == PING
        return False

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        e = req.json()
        if not isinstance(e, dict):
            raise bad_payload("MailerSend posts one JSON object per event")
        name = e.get("type")
        kind = KINDS.get(name) if isinstance(name, str) else None
        data = e.get("data")
        if kind is None or not isinstance(data, dict):
            out.ignore(name if isinstance(name, str) else None)
            return
        email = data.get("email")
        if isinstance(email, dict):                  # version 1
            recipient = (email.get("recipient") or {}).get("email")
            message_id = text((email.get("message") or {}).get("id"))
            tags = email.get("tags")
            when = iso(data.get("created_at")) or iso(e.get("created_at"))
            morph = data.get("morph") if isinstance(data.get("morph"), dict) else {}
            reason, code, btype = text(morph.get("reason")), None, None
        else:                                        # version 2
            recipient = email if isinstance(email, str) else data.get("recipient")
            message_id = text(data.get("message_id"))
            tags = data.get("tags")
            when = iso(e.get("created_at")) or iso(data.get("created_at"))
            meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
            reason, code, btype = text(meta.get("bounce_reason")), meta.get("bounce_code"), text(meta.get("bounce_type"))
        event_id = text(data.get("id")) or f"{message_id}:{name}"
        diagnostic = reply = status = provider_class = None
        if kind in (Kind.BOUNCE, Kind.DEFERRAL):
            diagnostic, reply, status = smtp_parts(reason)
            reply = reply_code(code) or reply
            event = name.split(".", 1)[1]
            provider_class = f"mailersend:{event}" + (f"/{btype}" if btype and btype not in event else "")
        out.add(recipient, kind, event_id, when, stream=stream_of(tags), status=status, reply_code=reply,
                diagnostic=diagnostic, provider_class=provider_class,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=message_id)
