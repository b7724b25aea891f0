"""Brevo (ex-Sendinblue) transactional webhooks: one JSON event per request (an array is
accepted too); authenticated by a bearer ``token`` (Brevo's webhook "auth" setting) or by
basic auth (``username``/``password`` in the URL).

Events: request (send), delivered, hard_bounce, soft_bounce (never hard), deferred,
blocked (Brevo's blocklist, cause not stated: a drop that suppresses nothing by itself),
invalid_email (a drop classified as a nonexistent address), error (sender side), spam and
complaint (complaint), unsubscribed (from everything), opened/unique_opened, click. Apple
Mail privacy "proxy" opens are not engagement and are ignored. Brevo has no event id: the
key is message-id + event + event time. Stream: ``stream`` in the ``X-Mailin-custom`` JSON,
else a tag naming a stream.
"""
from __future__ import annotations

from classifier.events import Kind
from webhook.esp.base import (
    BasicAuthMixin,
    BearerTokenMixin,
    Parsed,
    Provider,
    WebhookRequest,
    epoch,
    fingerprint,
    iso,
    maybe_json,
    smtp_parts,
    stream_of,
    text,
)

KINDS = {
    "request": Kind.SEND, "delivered": Kind.DELIVERED, "hard_bounce": Kind.BOUNCE, "soft_bounce": Kind.BOUNCE,
    "deferred": Kind.DEFERRAL, "blocked": Kind.DROP, "invalid_email": Kind.DROP, "error": Kind.DROP,
    "spam": Kind.COMPLAINT, "complaint": Kind.COMPLAINT, "unsubscribed": Kind.UNSUBSCRIBE,
    "opened": Kind.OPEN, "unique_opened": Kind.OPEN, "click": Kind.CLICK,
}
FAILURES = (Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP)


class Brevo(BearerTokenMixin, BasicAuthMixin, Provider):
    name = "brevo"
    title = "Brevo"
    kinds = KINDS
    credential_names = {"token": True, "username": False, "password": True}
    auth_options = (("token",), ("username", "password"))
    authenticators = ("check_bearer", "check_basic_auth")
    setup = ("Transactional > Settings > Webhooks: URL = the webhook URL, authentication: bearer token "
             "(token) or https://USERNAME:PASSWORD@ in the URL")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        data = req.json()
        self.parse_objects(data if isinstance(data, list) else [data], out)

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        ts = e.get("ts_event") or e.get("ts_epoch") or e.get("ts")
        when = epoch(ts) or iso(e.get("date"))
        mid = text(e.get("message-id"))
        event_id = f"{mid}:{name}:{ts}" if mid else fingerprint(name, e.get("email"), ts, e.get("id"))
        stream = stream_of(maybe_json(e.get("X-Mailin-custom")).get("stream"), e.get("tags"), e.get("tag"))
        diagnostic = reply = status = None
        if kind in FAILURES:
            diagnostic, reply, status = smtp_parts(text(e.get("reason")))
        out.add(e.get("email"), kind, event_id, when, stream=stream, status=status, reply_code=reply,
                diagnostic=diagnostic, provider_class=f"brevo:{name}" if kind in FAILURES else None,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=mid)
