"""Scaleway Transactional Email (TEM) webhooks, delivered through Scaleway Topics and Events.

TEM does not call a URL itself: a TEM webhook publishes to a Topics and Events topic (an
SNS-compatible service), and the webhook URL is an HTTP(S) subscription of that topic. So
every request is an SNS envelope (``Type``, ``MessageId``, ``TopicArn``, ``Message``,
``Timestamp``, ``Signature``, ``SigningCertURL``) with the TEM event as the JSON string in
``Message`` (raw delivery does not exist there).

Authentication, as Scaleway documents it: the SNS signature (SignatureVersion 1 only,
SHA1withRSA, over the same string to sign as Amazon SNS) with the certificate at
``SigningCertURL``, which must be an https URL on a Scaleway host and must chain to Scaleway's
CA for the topic's region, whose trust chain is fetched once from Scaleway
(``TRUST_CHAIN_URL``) and kept. As with SES, a signature proves that the message came from
Scaleway, not from whose topic: ``topic_arns`` (required, ``arn:scw:sns:<region>:project-
<id>:<name>``) lists the tenant's, and any other topic gets 403 before anything is fetched.
``auto_confirm=true`` confirms a subscription of a listed topic by a GET of its
``SubscribeURL`` (https on a Scaleway host only). A message published more than an hour ago
(Scaleway documents no retry schedule; an SNS one ends within the hour) is a replay: 401.

Events (``type``): email_queued (send), email_delivered, email_deferred (deferral),
email_dropped (bounce: a definitive refusal), email_mailbox_not_found (bounce; Scaleway
blocklists the address), email_spam (refused as spam by Scaleway or the destination: about the
message, never a complaint), email_blocklisted (a drop: the address is on the project's
blocklist). ``blocklist_created`` and unknown types are acknowledged and counted as ignored.
TEM has no open, click, complaint or unsubscribe events. The idempotency key is the event's
``id``. The provider class is ``scaleway:<type>`` (with ``/<blocklist_type>`` for a
blocklisted drop). Stream: an ``X-Stream`` header of the sent message, when the sender set
one (TEM echoes the message's headers).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from classifier.events import Kind
from store import CredentialsError
from webhook.esp import sns
from webhook.esp.base import Parsed, iso, reply_code, smtp_parts, stream_of, text
from webhook.esp.ses import FALSE, TRUE, Ses

TOPIC_ARN = re.compile(r"^arn:scw:sns:(?P<region>[a-z]{2}-[a-z]{3}):project-[0-9a-f-]{36}:[A-Za-z0-9_.-]{1,256}$")
#: Scaleway's CA trust chain for Topics and Events, per region (valid to 2032)
TRUST_CHAIN_URL = "https://messaging.s3.{region}.scw.cloud/{region}/sns/sns-trust-chain.pem"
HOST = re.compile(r"(?:[a-z0-9-]+\.)+(?:scw\.cloud|scaleway\.com)")

KINDS = {
    "email_queued": Kind.SEND, "email_delivered": Kind.DELIVERED, "email_deferred": Kind.DEFERRAL,
    "email_dropped": Kind.BOUNCE, "email_mailbox_not_found": Kind.BOUNCE, "email_spam": Kind.BOUNCE,
    "email_blocklisted": Kind.DROP,
}


def is_scaleway_url(url: object) -> bool:
    """An https URL on a Scaleway host, with nothing else in its authority (the rules of
    ``sns.is_sns_url``, for Scaleway's domains)."""
    if not isinstance(url, str) or not url.isascii() or any(c.isspace() or c == "\\" for c in url):
        return False
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.fragment or parts.netloc.lower() != (parts.hostname or "-"):
        return False
    return bool(HOST.fullmatch(parts.hostname))


class ScalewayCertificates(sns.SnsCertificates):
    """Signing certificates of one region's Topics and Events, each accepted only when it
    chains to the region's trust chain (fetched on first use and kept)."""

    what = "https URL on a Scaleway host"

    def __init__(self, region: str, **kw):
        super().__init__(**kw)
        self.region = region
        self._anchors: list[x509.Certificate] | None = None
        self._anchor_lock = threading.Lock()

    @staticmethod
    def url_ok(url: object) -> bool:
        return is_scaleway_url(url)

    def anchors(self, fetch: Callable[[str], bytes]) -> list[x509.Certificate]:
        with self._anchor_lock:
            if self._anchors is None:
                url = TRUST_CHAIN_URL.format(region=self.region)
                try:
                    pem = fetch(url)
                except Exception as exc:               # network, TLS, status: 503 and retry
                    raise sns.CertificateUnavailable(f"Scaleway trust chain: {exc}") from None
                try:
                    self._anchors = x509.load_pem_x509_certificates(pem)
                except ValueError:
                    raise sns.SnsError(f"{url} did not return PEM certificates") from None
            return self._anchors

    def pin_anchors(self, pem: bytes) -> None:
        """Install the trust chain without fetching it (tests, air-gapped deployments)."""
        with self._anchor_lock:
            self._anchors = x509.load_pem_x509_certificates(pem)

    def accept(self, cert: x509.Certificate, fetch: Callable[[str], bytes]) -> None:
        """The trust chain is the set of anchors (fetched over verified https from Scaleway):
        the certificate must be issued, and signed, by one of its CA certificates."""
        for issuer in self.anchors(fetch):
            if issuer.subject != cert.issuer or not _is_ca(issuer):
                continue
            try:
                cert.verify_directly_issued_by(issuer)
            except Exception:                       # noqa: BLE001 - InvalidSignature, ValueError, TypeError
                continue
            return
        raise sns.SnsError("the signing certificate is not issued by Scaleway's CA")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


class RegionalCertificates:
    """One ScalewayCertificates per region, made on first use."""

    def __init__(self):
        self._regions: dict[str, ScalewayCertificates] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str) -> ScalewayCertificates:
        with self._lock:
            found = self._regions.get(region)
            if found is None:
                found = self._regions[region] = ScalewayCertificates(region)
            return found


#: The process's certificates, shared by requests (the app keeps its own in Services)
CERTIFICATES = RegionalCertificates()


class Scaleway(Ses):
    name = "scaleway"
    title = "Scaleway Transactional Email"
    sns_versions = {"1": hashes.SHA1}
    credential_names = {"topic_arns": False, "auto_confirm": False}
    auth_options = (("topic_arns",),)
    setup = ("Topics and Events: an HTTPS subscription of the webhook URL to a topic; Transactional Email > "
             "Webhooks: publish the domain's events to that topic; topic_arns (required): the topic ARN(s); "
             "auto_confirm=true to have the subscription confirmed automatically")

    @classmethod
    def check_credentials(cls, values: dict[str, str]) -> None:
        if not values.get("topic_arns"):
            raise CredentialsError(
                "scaleway needs topic_arns: the ARNs of the Topics and Events topics your TEM webhooks publish to "
                "(a signature does not say whose topic sent a message, so only listed topics are accepted)")
        super(Ses, cls).check_credentials(values)

    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        value = value.strip()
        if name == "topic_arns":
            arns = [a.strip() for a in value.split(",") if a.strip()]
            bad = [a for a in arns if not TOPIC_ARN.match(a)]
            if bad:
                raise CredentialsError("scaleway topic_arns: not Topics and Events ARNs "
                                       f"(arn:scw:sns:REGION:project-ID:NAME): {', '.join(bad)}")
            return ",".join(arns)
        if name == "auto_confirm":
            if value.lower() in TRUE:
                return "true"
            if value.lower() in FALSE:
                return "false"
            raise CredentialsError("scaleway auto_confirm must be true or false")
        return value

    certificates_attr = "scaleway_certificates"

    def sns_certificates(self, msg: dict) -> sns.SnsCertificates:
        region = TOPIC_ARN.match(msg["TopicArn"]).group("region")   # a listed topic: checked already
        return (self.ctx.sns_certificates or CERTIFICATES)(region)

    @staticmethod
    def subscribe_url_ok(url: object) -> bool:
        return is_scaleway_url(url)

    def parse_message(self, e: dict, out: Parsed, envelope: dict) -> None:
        name = e.get("type")
        kind = KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            out.ignore(name if isinstance(name, str) else None)
            return
        headers = {}
        for h in e.get("email_headers") if isinstance(e.get("email_headers"), list) else []:
            if isinstance(h, dict) and isinstance(h.get("key"), str):
                headers[h["key"].lower()] = h.get("value")
        event_id = text(e.get("id")) or f"{envelope.get('MessageId')}"
        when = iso(e.get("created_at"))
        message = text(e.get("email_response_message")) or text(e.get("email_error"))
        diagnostic, reply, status = smtp_parts(message)
        code = reply_code(e.get("email_response_code")) or reply
        if diagnostic and code and not diagnostic.startswith(code):
            diagnostic = f"{code} {diagnostic}"
        provider_class = None
        if kind is Kind.DROP:
            provider_class = f"scaleway:{name}" + (f"/{e['blocklist_type']}" if text(e.get("blocklist_type")) else "")
            diagnostic = text(e.get("blocklist_reason")) or diagnostic
        elif kind.is_failure:
            provider_class = f"scaleway:{name}"
        out.add(e.get("email_to"), kind, event_id, when, stream=stream_of(headers.get("x-stream")),
                status=status, reply_code=code, diagnostic=diagnostic if kind is not Kind.SEND else None,
                provider_class=provider_class, message_id=text(e.get("email_id")))
