"""Amazon SES through SNS: notifications (``notificationType``) and event publishing
(``eventType``), inside a signed SNS envelope (see ``webhook.esp.sns``).

Configuration (credentials, none secret): ``topic_arns``, the comma-separated SNS topics
this tenant's SES publishes to (required), and ``auto_confirm`` (true/false). SNS signatures
prove the message came from SNS, not from which AWS account, so a message from any other
topic is refused (403). The topic is checked *before* the signature, so that a caller who
does not know one of the tenant's topics cannot make us fetch a signing certificate; an
SNS envelope for a tenant without SES configured gets the same 403, so the answer does not
tell a prober which tenants use SES. A SubscriptionConfirmation (of a listed topic, then)
is confirmed for the operator only when ``auto_confirm`` is true (otherwise anyone could
subscribe their own topic and feed us bounces), by a GET of its SubscribeURL after
checking it is https on an SNS host. Raw message delivery must stay off: without the
envelope there is nothing to authenticate. A message published more than an hour ago
(``sns.MAX_AGE``, plus REBOUND_WEBHOOK_TOLERANCE_SECONDS for clocks) is a replay: 401.

Events, one per recipient: Bounce (Permanent/Suppressed is a drop classified as a previous
bounce, OnAccountSuppressionList a drop of unstated cause; Transient and Undetermined can
never be hard), Complaint (``not-spam`` feedback is not a complaint and is ignored),
Delivery, DeliveryDelay (deferral), Reject (drop), Send, Open, Click, Subscription
(unsubscribe / resubscribe per topic, or from everything). The idempotency key is the SES
messageId with the event type (plus the event's own timestamp for those that repeat:
opens, clicks, delays); the store adds the recipient. Stream: the message tag ``stream``.
A signed Notification whose Message is not SES JSON is acknowledged and counted as ignored.
"""
from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import orjson

from classifier.events import Kind
from store import CredentialsError
from webhook.esp import sns
from webhook.esp.base import (
    Parsed,
    Provider,
    Rejected,
    WebhookRequest,
    auth_failed,
    fingerprint,
    iso,
    smtp_parts,
    stream_of,
    text,
)

log = logging.getLogger("rebound.webhooks")

TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def _first(value):
    return value[0] if isinstance(value, list) and value else value


def is_envelope(msg) -> bool:
    """Whether a parsed body is shaped like an SNS envelope (raw message delivery is not)."""
    return isinstance(msg, dict) and "Signature" in msg and "Type" in msg


def topic_not_allowed() -> Rejected:
    return Rejected(403, "topic_not_allowed", "this SNS topic is not one of the tenant's topic_arns",
                    reason="topic_not_allowed")


class SnsSignatureMixin:
    #: SignatureVersions accepted (an SNS-compatible service may sign with fewer)
    sns_versions: dict = sns.HASHES

    def sns_certificates(self, msg: dict) -> sns.SnsCertificates:
        """Where the signing certificate of ``msg`` is looked up (and what it must chain to)."""
        return self.ctx.sns_certificates

    def check_sns(self, req: WebhookRequest) -> bool | None:
        msg = req.json()
        if not is_envelope(msg):
            return False                          # raw message delivery, or not SNS at all
        header = req.headers.get("x-amz-sns-message-type")
        if header and header != msg.get("Type"):
            return False
        if msg.get("TopicArn") not in self.topic_arns():
            raise topic_not_allowed()             # before anything is fetched for this message
        try:
            sns.verify(msg, self.sns_certificates(msg), self.ctx.fetch, datetime.fromtimestamp(req.now, UTC),
                       timedelta(seconds=self.ctx.tolerance), self.sns_versions)
        except sns.SnsStale as exc:
            log.info("sns message too old", extra={"tenant": self.ctx.tenant, "why": str(exc)})
            raise Rejected(401, "stale_timestamp",
                           f"the SNS message was published more than {sns.MAX_AGE.total_seconds():.0f} s ago "
                           "(or in the future)",
                           permanent=True, reason="stale_timestamp") from None
        except sns.SnsError as exc:
            log.info("sns verification failed", extra={"tenant": self.ctx.tenant, "why": str(exc)})
            return False
        except sns.CertificateUnavailable as exc:
            raise Rejected(503, "certificate_unavailable",
                           "the SNS signing certificate could not be fetched; retry later",
                           reason="certificate_unavailable", headers={"Retry-After": "30"}) from exc
        return True

    def topic_arns(self) -> list[str]:
        raw = self.creds.get("topic_arns") or ""
        return [t.strip() for t in raw.split(",") if t.strip()]


class Ses(SnsSignatureMixin, Provider):
    name = "ses"
    title = "Amazon SES (SNS)"
    content_types = ("text/plain", "application/json")
    credential_names = {"topic_arns": False, "auto_confirm": False}
    auth_options = (("topic_arns",),)
    authenticators = ("check_sns",)
    setup = ("SNS: create an HTTPS subscription to the webhook URL on the topic(s) your SES "
             "configuration set or identity publishes to (raw message delivery off); topic_arns (required): "
             "those topics' ARNs; auto_confirm=true to have the subscription confirmed automatically")

    @classmethod
    def check_credentials(cls, values: dict[str, str]) -> None:
        if not values.get("topic_arns"):
            raise CredentialsError(
                "ses needs topic_arns: the ARNs of the SNS topics your SES publishes to, comma-separated "
                "(an SNS signature does not say whose topic sent a message, so only listed topics are accepted)")
        super().check_credentials(values)

    @classmethod
    def unconfigured(cls, req: WebhookRequest) -> Rejected:
        """An SNS envelope gets the 403 of an unlisted topic, as for a configured tenant."""
        try:
            return topic_not_allowed() if is_envelope(req.json()) else super().unconfigured(req)
        except Rejected:                          # not JSON
            return super().unconfigured(req)

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        value = value.strip()
        if name == "topic_arns":
            arns = [a.strip() for a in value.split(",") if a.strip()]
            bad = [a for a in arns if not TOPIC_ARN.match(a)]
            if bad:
                raise CredentialsError(f"ses topic_arns: not SNS topic ARNs: {', '.join(bad)}")
            return ",".join(arns)
        if name == "auto_confirm":
            if value.lower() in TRUE:
                return "true"
            if value.lower() in FALSE:
                return "false"
            raise CredentialsError("ses auto_confirm must be true or false")
        return value

    def validate_request(self, req: WebhookRequest) -> None:
        if not self.check_sns(req):
            raise auth_failed("bad_signature")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        msg = req.json()
        kind = msg["Type"]
        if kind == "SubscriptionConfirmation":
            self.confirm(msg, out)
        elif kind == "UnsubscribeConfirmation":
            log.warning("sns subscription ended", extra={"tenant": self.ctx.tenant, "topic": msg.get("TopicArn")})
            out.note["subscription"] = "unsubscribed"
        else:
            try:
                inner = orjson.loads(msg["Message"])
            except orjson.JSONDecodeError:
                inner = None
            if not isinstance(inner, dict):
                out.ignore(f"sns:not-{self.name}-json")
                return
            self.parse_message(inner, out, msg)

    def parse_message(self, inner: dict, out: Parsed, envelope: dict) -> None:
        """The notification inside a verified envelope."""
        parse_ses(inner, out, envelope.get("MessageId"))

    @staticmethod
    def subscribe_url_ok(url: object) -> bool:
        return sns.is_sns_url(url, pem=False)

    def confirm(self, msg: dict, out: Parsed) -> None:
        topic = msg.get("TopicArn")
        if self.creds.get("auto_confirm") != "true":
            log.warning("sns subscription waits for confirmation (auto_confirm is off)",
                        extra={"tenant": self.ctx.tenant, "topic": topic})
            out.note["subscription"] = "pending: auto_confirm is off; confirm it in the AWS console"
            return
        url = msg.get("SubscribeURL")
        if not self.subscribe_url_ok(url):
            raise Rejected(400, "invalid_payload", f"SubscribeURL is not an https URL on an {self.title} host",
                           permanent=True)
        try:
            self.ctx.fetch(url)
        except Exception as exc:
            raise Rejected(503, "confirmation_failed", "the subscription could not be confirmed; retry later",
                           reason="confirmation_failed", headers={"Retry-After": "30"}) from exc
        log.info("sns subscription confirmed", extra={"tenant": self.ctx.tenant, "topic": topic})
        out.note["subscription"] = "confirmed"


def parse_ses(n: dict, out: Parsed, envelope_id: str | None) -> None:
    """One SES notification or published event into events (see the module docstring)."""
    etype = n.get("eventType") or n.get("notificationType")
    mail = n.get("mail") if isinstance(n.get("mail"), dict) else {}
    mid = text(mail.get("messageId")) or text(envelope_id) or fingerprint(orjson.dumps(n, option=orjson.OPT_SORT_KEYS))
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    stream = stream_of(_first(tags.get("stream")))
    destination = [d for d in mail.get("destination") or [] if isinstance(d, str)]
    handler = HANDLERS.get(etype)
    if handler is None:
        out.ignore(etype)
        return
    handler(n, out, mid, stream, destination)


def _bounce(n, out, mid, stream, destination):
    b = n.get("bounce") or {}
    btype, sub = text(b.get("bounceType")) or "Undetermined", text(b.get("bounceSubType")) or "Undetermined"
    kind = Kind.DROP if sub in ("Suppressed", "OnAccountSuppressionList") else Kind.BOUNCE
    when = iso(b.get("timestamp"))
    remote = text(b.get("remoteMtaIp")) or smtp_parts(b.get("reportingMTA"))[0]
    for r in b.get("bouncedRecipients") or []:
        if not isinstance(r, dict):
            continue
        diagnostic, reply, status = smtp_parts(r.get("diagnosticCode"))
        out.add(r.get("emailAddress"), kind, f"{mid}:Bounce", when, stream=stream,
                status=text(r.get("status")) or status, reply_code=reply, diagnostic=diagnostic,
                remote_mta=remote, provider_class=f"ses:{btype}/{sub}", message_id=mid)


def _complaint(n, out, mid, stream, destination):
    c = n.get("complaint") or {}
    feedback = text(c.get("complaintFeedbackType"))
    if feedback == "not-spam":
        out.ignore("Complaint:not-spam")
        return
    for r in c.get("complainedRecipients") or []:
        if isinstance(r, dict):
            out.add(r.get("emailAddress"), Kind.COMPLAINT, f"{mid}:Complaint", iso(c.get("timestamp")),
                    stream=stream, feedback_type=feedback or "abuse", message_id=mid)


def _delivery(n, out, mid, stream, destination):
    d = n.get("delivery") or {}
    for r in d.get("recipients") or destination:
        out.add(r, Kind.DELIVERED, f"{mid}:Delivery", iso(d.get("timestamp")), stream=stream,
                diagnostic=text(d.get("smtpResponse")), remote_mta=text(d.get("remoteMtaIp")), message_id=mid)


def _delay(n, out, mid, stream, destination):
    d = n.get("deliveryDelay") or {}
    delay = text(d.get("delayType")) or "Undetermined"
    for r in d.get("delayedRecipients") or []:
        if not isinstance(r, dict):
            continue
        diagnostic, reply, status = smtp_parts(r.get("diagnosticCode"))
        out.add(r.get("emailAddress"), Kind.DEFERRAL, f"{mid}:DeliveryDelay:{d.get('timestamp')}",
                iso(d.get("timestamp")), stream=stream, status=text(r.get("status")) or status,
                reply_code=reply, diagnostic=diagnostic, remote_mta=text(d.get("reportingMTA")),
                provider_class=f"ses:DeliveryDelay/{delay}", message_id=mid)


def _reject(n, out, mid, stream, destination):
    reason = text((n.get("reject") or {}).get("reason")) or "unknown"
    for r in destination:
        out.add(r, Kind.DROP, f"{mid}:Reject", iso(mail_time(n)), stream=stream, diagnostic=reason,
                provider_class=f"ses:Reject/{reason}", message_id=mid)


def _simple(kind: Kind, section: str, repeats: bool):
    def handle(n, out, mid, stream, destination):
        s = n.get(section) if isinstance(n.get(section), dict) else {}
        when = iso(s.get("timestamp")) or iso(mail_time(n))
        suffix = f":{s.get('timestamp')}:{s.get('link', '')}" if repeats else ""
        for r in destination:
            out.add(r, kind, f"{mid}:{section}{suffix}", when, stream=stream, message_id=mid)
    return handle


def _subscription(n, out, mid, stream, destination):
    s = n.get("subscription") or {}
    new, old = s.get("newTopicPreferences") or {}, s.get("oldTopicPreferences") or {}
    when = iso(s.get("timestamp"))
    base = f"{mid}:Subscription:{s.get('timestamp')}"
    for r in destination:
        if new.get("unsubscribeAll"):
            out.add(r, Kind.UNSUBSCRIBE, base, when, stream=stream, message_id=mid)
            continue
        if old.get("unsubscribeAll"):
            out.add(r, Kind.RESUBSCRIBE, base, when, stream=stream, message_id=mid)
        was = {t.get("topicName"): t.get("subscriptionStatus") for t in old.get("topicSubscriptionStatus") or []
               if isinstance(t, dict)}
        for t in new.get("topicSubscriptionStatus") or []:
            if not isinstance(t, dict) or not text(t.get("topicName")):
                continue
            topic, status = t["topicName"], t.get("subscriptionStatus")
            if status == "OptOut":
                out.add(r, Kind.UNSUBSCRIBE, f"{base}:{topic}", when, stream=stream,
                        subscription=topic.lower(), message_id=mid)
            elif status == "OptIn" and was.get(topic) == "OptOut":
                out.add(r, Kind.RESUBSCRIBE, f"{base}:{topic}", when, stream=stream,
                        subscription=topic.lower(), message_id=mid)


def mail_time(n: dict):
    mail = n.get("mail")
    return mail.get("timestamp") if isinstance(mail, dict) else None


HANDLERS = {
    "Bounce": _bounce, "Complaint": _complaint, "Delivery": _delivery, "DeliveryDelay": _delay,
    "Reject": _reject, "Send": _simple(Kind.SEND, "send", False), "Open": _simple(Kind.OPEN, "open", True),
    "Click": _simple(Kind.CLICK, "click", True), "Subscription": _subscription,
}
