"""Mandrill (Mailchimp Transactional): form-encoded ``mandrill_events`` (a JSON array),
signed with ``X-Mandrill-Signature``.

Signature: base64(HMAC-SHA1(webhook key, URL + every POST field as key followed by value,
fields sorted by key)). The URL is the one configured at Mandrill, byte for byte (query
string and trailing slash included), not the one this server sees behind its proxies: the
credential ``url`` holds it, next to ``webhook_key``. Mandrill checks a URL with HEAD
before saving a webhook; that HEAD is answered 200 without authentication (it carries
nothing).

Events: send, deferral, hard_bounce, soft_bounce (never hard), open, click, spam
(complaint), unsub (unsubscribe from everything), reject (Mandrill refused because the
address is on its rejection list, whose cause is not stated: a drop that suppresses
nothing by itself). Sync events (``type`` whitelist/blacklist) are ignored and counted.
Provider class ``mandrill:<event>/<bounce_description>``. Id: ``msg._id`` + event + ``ts``.
Stream: ``msg.metadata.stream``, else a tag naming a stream.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import orjson

from classifier.events import Kind
from store import CredentialsError
from webhook.esp.base import (
    HmacSignatureMixin,
    Parsed,
    Provider,
    WebhookRequest,
    b64,
    bad_payload,
    epoch,
    fingerprint,
    smtp_parts,
    stream_of,
    text,
)

SIGNATURE = "X-Mandrill-Signature"
KINDS = {
    "send": Kind.SEND, "deferral": Kind.DEFERRAL, "hard_bounce": Kind.BOUNCE, "soft_bounce": Kind.BOUNCE,
    "open": Kind.OPEN, "click": Kind.CLICK, "spam": Kind.COMPLAINT, "unsub": Kind.UNSUBSCRIBE,
    "reject": Kind.DROP,
}


def signed_content(url: str, fields: list[tuple[str, str]]) -> bytes:
    return (url + "".join(k + v for k, v in sorted(fields, key=lambda kv: kv[0]))).encode("utf-8")


class Mandrill(HmacSignatureMixin, Provider):
    name = "mandrill"
    title = "Mandrill"
    kinds = KINDS
    content_types = ("application/x-www-form-urlencoded",)
    credential_names = {"webhook_key": True, "url": False}
    auth_options = (("webhook_key", "url"),)
    authenticators = ("check_signature",)
    hmac_digest = hashlib.sha1
    head_check = True
    setup = ("Settings > Webhooks > Add a webhook: Post to URL = the webhook URL; set that URL, exactly "
             "as entered there, as url, and the webhook's key as webhook_key")

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        if name == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise CredentialsError("mandrill url must be the absolute http(s) URL configured at Mandrill")
            return value                              # byte for byte: it is signed
        return value.strip()

    def check_signature(self, req: WebhookRequest) -> bool | None:
        combos = self.creds.combos("webhook_key", "url", now=req.now)
        if not combos:
            return None
        signature = req.headers.get(SIGNATURE)
        if not signature:
            return False
        fields = req.form()
        sig = signature.strip().encode("ascii", "replace")
        return any(self.hmac_matches([key.encode("utf-8")], signed_content(url, fields), [sig], b64)
                   for key, url in combos)

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        raw = dict(req.form()).get("mandrill_events")
        if raw is None:
            raise bad_payload("no mandrill_events field in the form")
        try:
            events = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise bad_payload("mandrill_events is not valid JSON", "invalid_json") from None
        if not isinstance(events, list):
            raise bad_payload("mandrill_events must be a JSON array")
        for e in events:
            if isinstance(e, dict) and "event" not in e and "type" in e:
                out.ignore(f"sync:{e.get('type')}")
            else:
                self.parse_objects([e], out)

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        msg = e.get("msg") if isinstance(e.get("msg"), dict) else {}
        meta = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
        msg_id = text(msg.get("_id")) or text(e.get("_id"))
        event_id = f"{msg_id}:{name}:{e.get('ts')}" if msg_id else fingerprint(name, msg.get("email"), e.get("ts"))
        diagnostic = reply = status = provider_class = None
        if kind in (Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP):
            diag = text(msg.get("diag"))
            if diag is None and isinstance(msg.get("smtp_events"), list) and msg["smtp_events"]:
                last = msg["smtp_events"][-1]
                diag = text(last.get("diag")) if isinstance(last, dict) else None
            diagnostic, reply, status = smtp_parts(diag)
            described = text(msg.get("bounce_description"))
            provider_class = f"mandrill:{name}" + (f"/{described}" if described else "")
        out.add(msg.get("email"), kind, event_id, epoch(e.get("ts")), stream=stream_of(meta.get("stream"), msg.get("tags")),
                status=status, reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=msg_id)
