"""Mailjet Event API: one JSON event, or a JSON array when "group events" is on; basic auth
(``username``/``password`` put in the URL configured at Mailjet).

Events: sent (delivered to the recipient's server), open, click, bounce (``hard_bounce``
false: never hard), blocked (Mailjet refused to send: a drop, or a complaint when the
recipient is a known spam reporter; "duplicate in campaign" says nothing about the
recipient and is ignored), spam (complaint), unsub (unsubscribe; from list ``mj_list_id``
when given, else everything). Provider class ``mailjet:<error_related_to>/<error>``, with
`` (soft)`` appended to soft bounces. Mailjet has no event id: the key is MessageID +
event + time. Stream: a JSON ``Payload`` (EventPayload) with ``stream``.
"""
from __future__ import annotations

from classifier.events import Kind
from webhook.esp.base import (
    BasicAuthMixin,
    Parsed,
    Provider,
    WebhookRequest,
    epoch,
    fingerprint,
    maybe_json,
    smtp_parts,
    stream_of,
    text,
)

KINDS = {"sent": Kind.DELIVERED, "open": Kind.OPEN, "click": Kind.CLICK, "bounce": Kind.BOUNCE,
         "blocked": Kind.DROP, "spam": Kind.COMPLAINT, "unsub": Kind.UNSUBSCRIBE}


class Mailjet(BasicAuthMixin, Provider):
    name = "mailjet"
    title = "Mailjet"
    kinds = KINDS
    credential_names = {"username": False, "password": True}
    auth_options = (("username", "password"),)
    authenticators = ("check_basic_auth",)
    setup = ("Account > Event tracking (triggers): URL = https://USERNAME:PASSWORD@host/v1/webhooks/"
             "mailjet/TENANT for each event type (grouping allowed)")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        data = req.json()
        self.parse_objects(data if isinstance(data, list) else [data], out)

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        related, error = text(e.get("error_related_to")), text(e.get("error"))
        if kind is Kind.DROP and error == "duplicate in campaign":
            out.ignore("blocked:duplicate in campaign")
            return
        if kind is Kind.DROP and error == "spam reporter":
            kind = Kind.COMPLAINT
        mid = e.get("MessageID")
        event_id = f"{mid}:{name}:{e.get('time')}" if mid else fingerprint(name, e.get("email"), e.get("time"))
        stream = stream_of(maybe_json(e.get("Payload")).get("stream"))
        diagnostic = reply = status = provider_class = None
        if kind in (Kind.BOUNCE, Kind.DROP):
            diagnostic, reply, status = smtp_parts(text(e.get("comment")) or error)
            if related and error:
                provider_class = f"mailjet:{related}/{error}"
                if kind is Kind.BOUNCE and e.get("hard_bounce") is False:
                    provider_class += " (soft)"
        elif kind is Kind.DELIVERED:
            diagnostic, reply, status = smtp_parts(text(e.get("smtp_reply")))
        list_id = e.get("mj_list_id")
        out.add(e.get("email"), kind, event_id, epoch(e.get("time")), stream=stream,
                subscription=str(list_id) if kind is Kind.UNSUBSCRIBE and list_id else None,
                status=status, reply_code=reply, diagnostic=diagnostic, provider_class=provider_class,
                feedback_type="abuse" if kind is Kind.COMPLAINT else None,
                message_id=str(mid) if mid else None)
