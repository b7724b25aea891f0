"""Postmark webhooks: one JSON record per request, authenticated by HTTP basic auth.

Postmark sends the ``username``/``password`` put in the webhook URL
(https://user:pass@host/v1/webhooks/postmark/TENANT) as basic auth.

Records: Bounce (``Type``/``TypeCode`` become ``postmark:<Type>``; SpamComplaint-typed
bounces are complaints, Transient is a delay, Unsubscribe an unsubscribe), SpamComplaint,
SubscriptionChange (SuppressSending true: HardBounce -> a drop classified as a previous
bounce, SpamComplaint -> complaint, ManualSuppression -> unsubscribe from everything;
false: a reactivation, i.e. a resubscribe, which lifts unsubscribes but not bounces),
Delivery, Open, Click. Ids: Bounce/SpamComplaint ``ID``; the others have none, so
MessageID + record type (+ the time for repeatable opens/clicks and subscription changes).

Stream: ``Metadata.stream``, else the message stream: Postmark's default ``outbound`` is
transactional, ``broadcast(s)`` marketing, a stream named like ours is that one.
"""
from __future__ import annotations

from classifier.events import Kind
from webhook.esp.base import (
    BasicAuthMixin,
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

TYPE_NAMES = {
    1: "HardBounce", 2: "Transient", 16: "Unsubscribe", 32: "Subscribe", 64: "AutoResponder",
    128: "AddressChange", 256: "DnsError", 512: "SpamNotification", 1024: "OpenRelayTest",
    2048: "Unknown", 4096: "SoftBounce", 8192: "VirusNotification", 16384: "ChallengeVerification",
    100000: "BadEmailAddress", 100001: "SpamComplaint", 100002: "ManuallyDeactivated",
    100003: "Unconfirmed", 100006: "Blocked", 100007: "SMTPApiError", 100008: "InboundError",
    100009: "DMARCPolicy", 100010: "TemplateRenderingFailed",
}
#: bounce types that are not failures of this message for this recipient
BOUNCE_KINDS = {"SpamComplaint": Kind.COMPLAINT, "Transient": Kind.DEFERRAL, "Unsubscribe": Kind.UNSUBSCRIBE}
NOT_EVENTS = {"Subscribe"}
STREAMS = {"outbound": "transactional", "broadcast": "marketing", "broadcasts": "marketing"}


class Postmark(BasicAuthMixin, Provider):
    name = "postmark"
    title = "Postmark"
    max_batch = 1
    credential_names = {"username": False, "password": True}
    auth_options = (("username", "password"),)
    authenticators = ("check_basic_auth",)
    setup = ("Servers > your server > Webhooks: URL = https://USERNAME:PASSWORD@host/v1/webhooks/"
             "postmark/TENANT with the events you want")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        r = req.json()
        if not isinstance(r, dict):
            raise bad_payload("Postmark posts one JSON object per record")
        record = r.get("RecordType")
        meta = r.get("Metadata") if isinstance(r.get("Metadata"), dict) else {}
        ms = text(r.get("MessageStream"))
        stream = stream_of(meta.get("stream"), ms) or STREAMS.get((ms or "").lower())
        mid = text(r.get("MessageID"))
        if record == "Bounce":
            btype = text(r.get("Type")) or TYPE_NAMES.get(r.get("TypeCode"), "Unknown")
            if btype in NOT_EVENTS:
                out.ignore(f"Bounce:{btype}")
                return
            kind = BOUNCE_KINDS.get(btype, Kind.BOUNCE)
            diagnostic, reply, status = smtp_parts(text(r.get("Details")) or text(r.get("Description")))
            out.add(r.get("Email"), kind, f"bounce:{r.get('ID')}" if r.get("ID") is not None else fingerprint(mid, btype),
                    iso(r.get("BouncedAt")), stream=stream, status=status, reply_code=reply, diagnostic=diagnostic,
                    provider_class=f"postmark:{btype}" if kind is not Kind.COMPLAINT else None,
                    feedback_type="abuse" if kind is Kind.COMPLAINT else None, message_id=mid)
        elif record == "SpamComplaint":
            out.add(r.get("Email"), Kind.COMPLAINT,
                    f"spam:{r.get('ID')}" if r.get("ID") is not None else fingerprint(mid, record),
                    iso(r.get("BouncedAt")), stream=stream, feedback_type="abuse", message_id=mid)
        elif record == "SubscriptionChange":
            self._subscription(r, out, stream, mid)
        elif record == "Delivery":
            out.add(r.get("Recipient"), Kind.DELIVERED, f"{mid}:Delivery", iso(r.get("DeliveredAt")),
                    stream=stream, diagnostic=text(r.get("Details")), message_id=mid)
        elif record == "Open":
            out.add(r.get("Recipient"), Kind.OPEN, f"{mid}:Open:{r.get('ReceivedAt')}", iso(r.get("ReceivedAt")),
                    stream=stream, message_id=mid)
        elif record == "Click":
            out.add(r.get("Recipient"), Kind.CLICK, fingerprint(mid, "Click", r.get("ReceivedAt"), r.get("OriginalLink")),
                    iso(r.get("ReceivedAt")), stream=stream, message_id=mid)
        else:
            out.ignore(record)

    @staticmethod
    def _subscription(r: dict, out: Parsed, stream: str | None, mid: str | None) -> None:
        event_id = fingerprint(mid, "SubscriptionChange", r.get("ChangedAt"), r.get("SuppressSending"),
                               r.get("Recipient"))
        when = iso(r.get("ChangedAt"))
        if not r.get("SuppressSending"):
            out.add(r.get("Recipient"), Kind.RESUBSCRIBE, event_id, when, stream=stream, message_id=mid)
            return
        reason = text(r.get("SuppressionReason"))
        if reason == "HardBounce":
            out.add(r.get("Recipient"), Kind.DROP, event_id, when, stream=stream,
                    diagnostic="Postmark deactivated the address after a hard bounce",
                    provider_class="postmark:suppressed/HardBounce", message_id=mid)
        elif reason == "SpamComplaint":
            out.add(r.get("Recipient"), Kind.COMPLAINT, event_id, when, stream=stream, feedback_type="abuse",
                    message_id=mid)
        elif reason == "ManualSuppression":
            out.add(r.get("Recipient"), Kind.UNSUBSCRIBE, event_id, when, stream=stream, message_id=mid)
        else:
            out.ignore(f"SubscriptionChange:{reason}")
