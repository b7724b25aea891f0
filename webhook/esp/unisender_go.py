"""Unisender Go (the UniOne platform) webhooks: batches of up to 100 events
(``{"auth", "events_by_user": [{"user_id", "events": [{"event_name", "event_data"}]}]}``), or
one flat event per request when the webhook has ``single_event=1``.

Authentication: the body's own ``auth`` field is the lower-case hex MD5 of the raw body in
which that value is replaced by the API key of the account (or of the project the webhook
belongs to): credential ``api_key``. The check replaces bytes in the body as received, never
re-serialised (Unisender writes ``\\/`` and its own key order). It is not an HMAC, but it is
the only integrity check Unisender Go offers. When a webhook is switched on, Unisender Go
checks the URL with a GET, which is answered 200.

No event id is sent (the ``ID`` header changes on every retry, and a retry adds
``retry_count`` to the body), so the idempotency key is built from the job id, the address,
the status and its time. Events (``transactional_email_status`` by ``status``): sent (send),
delivered, opened, clicked, unsubscribed (from everything), subscribed (resubscribe),
soft_bounced (a deferral: Unisender retries), hard_bounced (bounce), spam (complaint).
``accepted`` and the account-level ``transactional_spam_block`` are acknowledged and counted
as ignored. The provider class is ``unisender-go:<delivery_status>`` (``err_user_unknown``,
``err_mailbox_full``, ``err_spam_rejected``, ...); the diagnostic is the remote server's
``destination_response`` (sent when the webhook has ``delivery_info=1``). Stream:
``metadata.stream``.
"""
from __future__ import annotations

import hashlib
import hmac

from classifier.events import Kind
from webhook.esp.base import (
    Parsed,
    Provider,
    WebhookRequest,
    bad_payload,
    fingerprint,
    iso,
    smtp_parts,
    stream_of,
    text,
)

STATUS_KINDS = {
    "sent": Kind.SEND, "delivered": Kind.DELIVERED, "opened": Kind.OPEN, "clicked": Kind.CLICK,
    "unsubscribed": Kind.UNSUBSCRIBE, "subscribed": Kind.RESUBSCRIBE, "soft_bounced": Kind.DEFERRAL,
    "hard_bounced": Kind.BOUNCE, "spam": Kind.COMPLAINT,
}
EMAIL_STATUS = "transactional_email_status"


def sign(api_key: str, body_with_placeholder: bytes, placeholder: bytes = b"%AUTH%") -> bytes:
    """A body as Unisender Go would send it: ``placeholder`` (in the ``auth`` field) replaced
    by the MD5 of the body with the API key in its place (tests use it)."""
    digest = hashlib.md5(body_with_placeholder.replace(placeholder, api_key.encode("utf-8"))).hexdigest()
    return body_with_placeholder.replace(placeholder, digest.encode("ascii"))


def verify(api_key: str, body: bytes, auth: str) -> bool:
    token = auth.encode("ascii", "replace")
    if len(token) != 32 or body.count(token) != 1:
        return False
    expected = hashlib.md5(body.replace(token, api_key.encode("utf-8"))).hexdigest().encode("ascii")
    return hmac.compare_digest(expected, token.lower())


class UnisenderGo(Provider):
    name = "unisender-go"
    title = "Unisender Go"
    max_batch = 100
    get_check = True
    credential_names = {"api_key": True}
    auth_options = (("api_key",),)
    authenticators = ("check_auth",)
    setup = ("Settings > Webhooks (or the webhook/set API): the webhook URL, delivery_info=1, the email_status "
             "events; api_key: the API key of the account (or of the project the webhook belongs to)")

    def check_auth(self, req: WebhookRequest) -> bool | None:
        keys = self.creds.values("api_key", req.now)
        if not keys:
            return None
        body = req.json()
        auth = body.get("auth") if isinstance(body, dict) else None
        if not isinstance(auth, str) or not auth:
            return False
        return any([verify(k, req.body, auth) for k in keys])

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        body = req.json()
        if not isinstance(body, dict):
            raise bad_payload("Unisender Go posts one JSON object")
        if "events_by_user" in body:
            groups = body["events_by_user"]
            if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
                raise bad_payload("events_by_user must be a list of objects")
            items = []
            for g in groups:
                events = g.get("events")
                if not isinstance(events, list):
                    raise bad_payload("events_by_user[].events must be a list")
                items.extend(events)
        else:
            items = [{"event_name": body.get("event_name"), "event_data": body}]
        out.expect(len(items), self.title)
        for item in items:
            mark = len(out.events)
            try:
                self._one(item, out)
            except (TypeError, AttributeError, ValueError, KeyError) as exc:
                del out.events[mark:]
                out.ignore(f"{type(exc).__name__}:malformed")
            out.flush_due()

    @staticmethod
    def _one(item, out: Parsed) -> None:
        if not isinstance(item, dict):
            out.ignore("(not an object)")
            return
        name, data = item.get("event_name"), item.get("event_data")
        if name != EMAIL_STATUS or not isinstance(data, dict):
            out.ignore(name if isinstance(name, str) else None)
            return
        status = data.get("status")
        kind = STATUS_KINDS.get(status) if isinstance(status, str) else None
        if kind is None:
            out.ignore(f"{EMAIL_STATUS}:{status}" if isinstance(status, str) else EMAIL_STATUS)
            return
        info = data.get("delivery_info") if isinstance(data.get("delivery_info"), dict) else {}
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        job = text(data.get("job_id"))
        event_id = fingerprint("unisender-go", job, data.get("email"), status, data.get("event_time"),
                               data.get("url"), metadata.get("anymail_id"))
        diagnostic = reply = code = provider_class = None
        if kind.is_failure:
            diagnostic, reply, code = smtp_parts(text(info.get("destination_response")))
            delivery_status = text(info.get("delivery_status")) or status
            provider_class = f"unisender-go:{delivery_status.lower()}" + (" (soft)" if kind is Kind.DEFERRAL else "")
        out.add(data.get("email"), kind, event_id, iso(data.get("event_time")), stream=stream_of(metadata.get("stream")),
                status=code, reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                subscription=text(metadata.get("subscription")) if kind is Kind.UNSUBSCRIBE else None,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=job)
