"""SparkPost webhooks: batches of ``{"msys": {"<class>_event": {...}}}``; basic auth or a
bearer token (SparkPost's "OAuth 2.0" option sends the token it obtained as a bearer).

The empty ``[{"msys": {}}]`` batch is SparkPost's ping when a webhook is saved: accepted,
nothing stored. Message events: injection (send), delivery, bounce and out_of_band
(bounces), delay (deferral), policy_rejection (drop), spam_complaint (complaint, with
``fbtype``); track events: open/initial_open, click; unsubscribe events: list_unsubscribe,
link_unsubscribe (unsubscribe from everything, or from ``rcpt_meta.subscription``). A bounce
of class 90 is an unsubscribe request. Everything else (generation, relay, AMP, SMS) is
ignored and counted. The provider class is ``sparkpost:bounce_class=N``. Ids: ``event_id``.
Stream: ``rcpt_meta.stream``, else a tag naming a stream, else the ``transactional`` flag.
"""
from __future__ import annotations

from classifier.events import Kind
from webhook.esp.base import (
    BasicAuthMixin,
    BearerTokenMixin,
    Parsed,
    Provider,
    WebhookRequest,
    bad_payload,
    epoch,
    fingerprint,
    reply_code,
    smtp_parts,
    stream_of,
    text,
)

KINDS = {
    "injection": Kind.SEND, "delivery": Kind.DELIVERED, "bounce": Kind.BOUNCE, "out_of_band": Kind.BOUNCE,
    "delay": Kind.DEFERRAL, "policy_rejection": Kind.DROP, "spam_complaint": Kind.COMPLAINT,
    "open": Kind.OPEN, "initial_open": Kind.OPEN, "click": Kind.CLICK,
    "list_unsubscribe": Kind.UNSUBSCRIBE, "link_unsubscribe": Kind.UNSUBSCRIBE,
}
FAILURES = (Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP)


class SparkPost(BasicAuthMixin, BearerTokenMixin, Provider):
    name = "sparkpost"
    title = "SparkPost"
    kinds = KINDS
    type_field = "type"
    credential_names = {"username": False, "password": True, "token": True}
    auth_options = (("username", "password"), ("token",))
    authenticators = ("check_basic_auth", "check_bearer")
    oauth_credential = "token"
    setup = ("Webhooks > New webhook: target URL = the webhook URL; authentication Basic (username, "
             "password) or OAuth 2.0 (the token your token endpoint issues, as token)")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        data = req.json()
        if not isinstance(data, list):
            raise bad_payload("SparkPost posts a JSON array of {\"msys\": {...}} objects")
        out.expect(len(data), self.title)
        for item in data:
            msys = item.get("msys") if isinstance(item, dict) else None
            if not isinstance(msys, dict):
                out.ignore("(not msys)")
                continue
            self.parse_objects(list(msys.values()), out)     # {} is the ping: nothing to do

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        bounce_class = text(str(e["bounce_class"])) if e.get("bounce_class") not in (None, "") else None
        if kind is Kind.BOUNCE and bounce_class == "90":
            kind = Kind.UNSUBSCRIBE
        meta = e.get("rcpt_meta") if isinstance(e.get("rcpt_meta"), dict) else {}
        flag = e.get("transactional")
        stream = stream_of(meta.get("stream"), e.get("rcpt_tags")) or (
            "transactional" if flag in ("1", 1, True) else None)
        event_id = text(e.get("event_id")) or fingerprint(name, e.get("message_id"), e.get("rcpt_to"),
                                                          e.get("timestamp"))
        diagnostic = reply = status = provider_class = None
        if kind in FAILURES:
            diagnostic, reply, status = smtp_parts(text(e.get("raw_reason")) or text(e.get("reason")))
            reply = reply_code(e.get("error_code")) or reply
            if bounce_class:
                provider_class = f"sparkpost:bounce_class={bounce_class}"
        out.add(e.get("rcpt_to") or e.get("raw_rcpt_to"), kind, event_id, epoch(e.get("timestamp")),
                stream=stream, subscription=text(meta.get("subscription")) if kind is Kind.UNSUBSCRIBE else None,
                status=status, reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                feedback_type=(text(e.get("fbtype")) or "abuse") if kind is Kind.COMPLAINT else None,
                message_id=text(e.get("message_id")))
