"""Mailgun webhooks: one JSON event per request, ``{"signature": {...}, "event-data": {...}}``.

Signature: ``hex(HMAC-SHA256(key=webhook signing key, msg=timestamp + token))`` (credential
``signing_key``). After the signature: the timestamp must be within
REBOUND_WEBHOOK_TOLERANCE_SECONDS of now, and the token is single-use (remembered in Redis
with SET NX EX for twice that window; Mailgun's retry of a request that failed is the same
request, let in again until it is stored). Mailgun retries any answer except 2xx and 406 for
hours, so a request that can never be valid (stale timestamp, replayed token, bad JSON,
wrong content type) is answered 406; a bad signature stays 401, because it becomes valid
once the operator sets the right key and Mailgun retries.

Events: ``failed`` with severity permanent is a bounce (delayed bounces included), temporary
a deferral; the ``suppress-*`` reasons mirror Mailgun's lists (suppress-bounce: a drop
classified as a previous bounce; suppress-complaint: a complaint; suppress-unsubscribe: an
unsubscribe). The provider class is ``mailgun:<severity>/<reason>``; ``espblock`` never
suppresses the recipient. Stream: ``user-variables.stream``, else a tag naming a stream;
unsubscribe scope: ``user-variables.subscription``, else all.
"""
from __future__ import annotations

from classifier.events import Kind
from webhook.esp.base import (
    HmacSignatureMixin,
    Parsed,
    Provider,
    ReplayProtectionMixin,
    TimestampFreshnessMixin,
    WebhookRequest,
    bad_payload,
    epoch,
    fingerprint,
    hexlify,
    reply_code,
    smtp_parts,
    status_code,
    stream_of,
    text,
)

KINDS = {
    "accepted": Kind.SEND, "delivered": Kind.DELIVERED, "opened": Kind.OPEN, "clicked": Kind.CLICK,
    "complained": Kind.COMPLAINT, "unsubscribed": Kind.UNSUBSCRIBE,
}
#: legacy webhook names of the failed event
FAILED = {"failed": None, "permanent_fail": "permanent", "temporary_fail": "temporary"}
SUPPRESS_KINDS = {"suppress-complaint": Kind.COMPLAINT, "suppress-unsubscribe": Kind.UNSUBSCRIBE,
                  "suppress-bounce": Kind.DROP}


class Mailgun(HmacSignatureMixin, TimestampFreshnessMixin, ReplayProtectionMixin, Provider):
    name = "mailgun"
    title = "Mailgun"
    max_batch = 1
    permanent_status = 406
    credential_names = {"signing_key": True}
    auth_options = (("signing_key",),)
    authenticators = ("check_signature",)
    setup = ("Sending > Webhooks: add the webhook URL for each event type; the HTTP webhook "
             "signing key (Settings > API Security) is signing_key")

    def check_signature(self, req: WebhookRequest) -> bool | None:
        keys = self.creds.values("signing_key", req.now)
        if not keys:
            return None
        body = req.json()
        sig = body.get("signature") if isinstance(body, dict) else None
        if not isinstance(sig, dict):
            return False
        timestamp, token, signature = (str(sig.get(k) or "") for k in ("timestamp", "token", "signature"))
        if not (timestamp and token and signature):
            return False
        if not self.hmac_matches([k.encode("utf-8") for k in keys], (timestamp + token).encode("utf-8"),
                                 [signature.strip().encode("ascii", "replace")], hexlify):
            return False
        self.check_fresh(req, timestamp)
        self.check_replay(token, req.body)
        return True

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        body = req.json()
        e = body.get("event-data")
        if not isinstance(e, dict):
            raise bad_payload("a Mailgun webhook carries one event in 'event-data'")
        name = e.get("event")
        uv = e.get("user-variables") if isinstance(e.get("user-variables"), dict) else {}
        stream = stream_of(uv.get("stream"), e.get("tags"))
        event_id = text(e.get("id")) or fingerprint(name, e.get("recipient"), e.get("timestamp"),
                                                    (e.get("message") or {}).get("headers", {}).get("message-id"))
        when = epoch(e.get("timestamp"))
        headers = (e.get("message") or {}).get("headers") or {}
        message_id = text(headers.get("message-id")) if isinstance(headers, dict) else None
        if name in FAILED:
            severity = FAILED[name] or text(e.get("severity")) or "permanent"
            reason = text(e.get("reason")) or "generic"
            kind = SUPPRESS_KINDS.get(reason) or (Kind.DEFERRAL if severity == "temporary" else Kind.BOUNCE)
            ds = e.get("delivery-status") if isinstance(e.get("delivery-status"), dict) else {}
            diagnostic, reply, status = smtp_parts(text(ds.get("message")) or text(ds.get("description")))
            out.add(e.get("recipient"), kind, event_id, when, stream=stream,
                    subscription=text(uv.get("subscription")) if kind is Kind.UNSUBSCRIBE else None,
                    status=status_code(ds.get("enhanced-code")) or status_code(ds.get("bounce-code")) or status,
                    reply_code=reply_code(ds.get("code")) or reply, diagnostic=diagnostic,
                    remote_mta=text(ds.get("mx-host")), provider_class=f"mailgun:{severity}/{reason}",
                    feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=message_id)
            return
        kind = KINDS.get(name)
        if kind is None or not e.get("recipient"):
            out.ignore(name)                          # rejected, stored, list events, ...
            return
        diagnostic = None
        if kind is Kind.DELIVERED:
            ds = e.get("delivery-status") if isinstance(e.get("delivery-status"), dict) else {}
            diagnostic = text(ds.get("message"))
        out.add(e.get("recipient"), kind, event_id, when, stream=stream,
                subscription=text(uv.get("subscription")) if kind is Kind.UNSUBSCRIBE else None,
                diagnostic=diagnostic, feedback_type="abuse" if kind is Kind.COMPLAINT else None,
                message_id=message_id)
