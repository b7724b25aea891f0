"""Mailtrap Email Sending webhooks: batches of up to 500 events, as JSON (``{"events": [...]}``)
or JSON Lines (one event per line), whichever payload format the webhook was given.

Signature: header ``Mailtrap-Signature`` = lower-case hex HMAC-SHA256 of the raw body, keyed
with the webhook's signing secret (credential ``signing_secret``; resetting it at Mailtrap
kills the old one at once, so set the new one here as soon as it is shown). No timestamp or
nonce is sent: duplicates are dropped on each event's ``event_id``, which Mailtrap documents
as the idempotency key. Only a 200 stops Mailtrap's retries (every 5 minutes, 40 times).

Events: delivery, bounce (permanent), soft bounce (a deferral: Mailtrap retries), suspension
(a deferral on the sending side: unverified domain or account limit), reject (not sent;
``reason`` names Mailtrap's suppression list entry: an unsubscription becomes an unsubscribe,
a bounce a drop classified as a previous bounce, a spam complaint a complaint), spam
(complaint), unsubscribe (from everything), open, click. The provider class is
``mailtrap:<bounce_category>`` (`` (soft)`` for soft bounces), so Mailtrap's own reading
(badrecipient, overquota, block, spam, ...) counts as evidence. Stream: ``sending_stream``
(Mailtrap's ``bulk`` stream is marketing), else ``custom_variables.stream`` or a category
naming one.
"""
from __future__ import annotations

import hashlib
import hmac
import re

import orjson

from classifier.events import Kind
from webhook.esp.base import (
    HmacSignatureMixin,
    Parsed,
    Provider,
    WebhookRequest,
    bad_payload,
    epoch,
    hexlify,
    reply_code,
    smtp_parts,
    stream_of,
    text,
)

KINDS = {
    "delivery": Kind.DELIVERED, "bounce": Kind.BOUNCE, "soft bounce": Kind.DEFERRAL, "suspension": Kind.DEFERRAL,
    "reject": Kind.DROP, "spam": Kind.COMPLAINT, "unsubscribe": Kind.UNSUBSCRIBE, "open": Kind.OPEN,
    "click": Kind.CLICK,
}
STREAMS = {"bulk": "marketing", "transactional": "transactional"}
#: what a reject's "Recipient in suppression list. Reason: ..." names, as the event it mirrors
LIST_REASONS = (
    (re.compile(r"unsubscri", re.IGNORECASE), Kind.UNSUBSCRIBE, None),
    (re.compile(r"spam|complain", re.IGNORECASE), Kind.COMPLAINT, None),
    (re.compile(r"bounce", re.IGNORECASE), Kind.DROP, "mailtrap:suppressed/bounce"),
)


def sign(secret: str, body: bytes) -> str:
    """The ``Mailtrap-Signature`` header Mailtrap sends with ``body``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def events_of(req: WebhookRequest) -> list:
    """The events of a JSON body (``{"events": [...]}``, or one event object) or of JSON Lines."""
    if req.mimetype in ("application/jsonl", "application/x-ndjson", "application/json-lines"):
        items = []
        for line in req.body.splitlines():
            if line.strip():
                try:
                    items.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    raise bad_payload("a line of the JSON Lines body is not valid JSON", "invalid_json") from None
        return items
    body = req.json()
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return body["events"]
    if isinstance(body, dict) and "event" in body:
        return [body]
    raise bad_payload("Mailtrap posts {\"events\": [...]} or JSON Lines")


class Mailtrap(HmacSignatureMixin, Provider):
    name = "mailtrap"
    title = "Mailtrap"
    content_types = ("application/json", "application/jsonl", "application/x-ndjson", "application/json-lines")
    max_batch = 500
    credential_names = {"signing_secret": True}
    auth_options = (("signing_secret",),)
    authenticators = ("check_signature",)
    setup = ("Settings > Webhooks > Create New Webhook: the webhook URL, JSON or JSON Lines, Email Sending, the "
             "stream, domain and events; the webhook's signing secret is signing_secret")

    def check_signature(self, req: WebhookRequest) -> bool | None:
        secrets = self.creds.values("signing_secret", req.now)
        if not secrets:
            return None
        offered = (req.headers.get("Mailtrap-Signature") or "").strip().lower().encode("ascii", "replace")
        if len(offered) != 64 or not req.body:
            return False
        return self.hmac_matches([s.encode("utf-8") for s in secrets], req.body, [offered], hexlify)

    type_field = "event"
    kinds = KINDS

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        items = events_of(req)
        out.expect(len(items), self.title)
        self.parse_objects(items, out)

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        variables = e.get("custom_variables") if isinstance(e.get("custom_variables"), dict) else {}
        stream = (STREAMS.get(str(e.get("sending_stream")).lower()) or stream_of(variables.get("stream"))
                  or stream_of(e.get("category")))
        event_id = text(e.get("event_id")) or f"{e.get('message_id')}:{name}:{e.get('timestamp')}"
        common = {"stream": stream, "message_id": text(e.get("message_id"))}
        when = epoch(e.get("timestamp"))
        if name in ("bounce", "soft bounce"):
            diagnostic, reply, status = smtp_parts(text(e.get("response")))
            category = text(e.get("bounce_category")) or "bounce"
            out.add(e.get("email"), kind, event_id, when, status=status,
                    reply_code=reply_code(e.get("response_code")) or reply, diagnostic=diagnostic,
                    provider_class=f"mailtrap:{category.lower()}" + (" (soft)" if kind is Kind.DEFERRAL else ""),
                    **common)
        elif name == "suspension":
            out.add(e.get("email"), kind, event_id, when, diagnostic=text(e.get("reason")),
                    provider_class="mailtrap:suspension", **common)
        elif name == "reject":
            reason = text(e.get("reason")) or "unknown"
            kind, provider_class = Kind.DROP, "mailtrap:reject"
            if "suppression" in reason.lower():
                for pattern, listed, listed_class in LIST_REASONS:
                    if pattern.search(reason.partition(":")[2] or reason):
                        kind, provider_class = listed, listed_class
                        break
                else:
                    provider_class = "mailtrap:suppressed"
            out.add(e.get("email"), kind, event_id, when,
                    diagnostic=reason if kind is Kind.DROP else None, provider_class=provider_class,
                    feedback_type="abuse" if kind is Kind.COMPLAINT else None, **common)
        else:
            out.add(e.get("email"), kind, event_id, when,
                    subscription=text(variables.get("subscription")) if kind is Kind.UNSUBSCRIBE else None,
                    feedback_type="abuse" if kind is Kind.COMPLAINT else None, **common)
