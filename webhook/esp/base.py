"""What every ESP webhook module shares, in the style of django-anymail.

A provider module holds one class with two jobs: ``validate_request`` (is this request
really from the ESP, for this tenant?) and ``parse_events`` (the payload as canonical
:class:`~classifier.events.Event` objects). Authentication schemes are mixins here, reused
across providers: HTTP basic auth, bearer tokens, HMAC signatures, timestamp freshness,
single-use tokens. A provider lists its ``authenticators``; the request is authentic when
one of the configured ones accepts it (SparkPost: basic *or* bearer, SendGrid: ECDSA
signature *or* OAuth bearer).

Nothing here touches the store except the replay guard, and only after a signature has
been verified: an unauthenticated request can never write anything.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import orjson

from classifier.address import AddressError, normalise
from classifier.events import STREAMS, Event, Kind
from store import CredentialsError, CredentialSet

#: What every failed authentication says to the caller: the same words whether the tenant
#: does not exist, has not configured this provider, or the signature is wrong, so the
#: answer never tells a prober which tenants exist. The precise reason goes to the logs.
AUTH_FAILED = "the request could not be authenticated for this webhook URL"

#: what a payload with values of unexpected types raises while being read
MALFORMED = (TypeError, AttributeError, ValueError, KeyError, IndexError, OverflowError)

log = logging.getLogger("rebound.webhooks")


class Rejected(Exception):
    """A webhook request refused with an HTTP status.

    ``permanent``: the same request can never succeed, however often it is retried (bad
    JSON, stale timestamp, replayed token). Providers that stop retrying on a special
    status (Mailgun: 406) answer that instead, so they do not retry in vain.
    """

    def __init__(self, status: int, error: str, message: str, *, permanent: bool = False,
                 reason: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.permanent = permanent
        self.reason = reason or error
        self.headers = headers or {}


def auth_failed(reason: str, *, permanent: bool = False) -> Rejected:
    return Rejected(401, "unauthorized", AUTH_FAILED, reason=reason, permanent=permanent)


def bad_payload(message: str, error: str = "invalid_payload") -> Rejected:
    return Rejected(400, error, message, permanent=True)


_UNSET = object()


@dataclass
class WebhookRequest:
    """The parts of an HTTP request a provider looks at (framework-free, easy to test)."""

    method: str
    body: bytes
    headers: Mapping[str, str]       # case-insensitive (werkzeug's Headers)
    mimetype: str                    # lower case, without parameters
    now: float                       # epoch seconds when it arrived
    _json: Any = field(default=_UNSET, repr=False)
    _form: Any = field(default=_UNSET, repr=False)

    def json(self) -> Any:
        if self._json is _UNSET:
            try:
                self._json = orjson.loads(self.body)
            except orjson.JSONDecodeError:
                raise bad_payload("the body is not valid JSON", "invalid_json") from None
        return self._json

    def form(self) -> list[tuple[str, str]]:
        """Form fields in body order, decoded exactly once (signatures cover the values)."""
        if self._form is _UNSET:
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_payload("the form body is not UTF-8") from None
            self._form = parse_qsl(text, keep_blank_values=True)
        return self._form


@dataclass
class Context:
    """What a provider instance may use while handling one request."""

    tenant: str
    credentials: CredentialSet
    replay: Any = None               # store.credentials.ReplayGuard
    tolerance: int = 300             # seconds of clock difference accepted on timestamps
    fetch: Callable[[str], bytes] | None = None
    sns_certificates: Any = None


class Parsed:
    """The events found in one request, and what was acknowledged but not ingested."""

    __slots__ = ("_sink", "events", "flushed", "ignored", "limit", "note", "provider", "received", "sink", "tenant")

    #: events handed to the sink at a time
    CHUNK = 128

    def __init__(self, tenant: str, provider: str, received: datetime, *, limit: int | None = None,
                 sink: Callable[[list[Event]], None] | None = None):
        self.tenant, self.provider, self.received = tenant, provider, received
        self.events: list[Event] = []
        self.ignored: Counter = Counter()
        self.note: dict = {}
        self.limit = limit
        #: set by expect(): where events go while parsing goes on (the store, streaming)
        self.sink: Callable[[list[Event]], None] | None = None
        self._sink = sink
        self.flushed = 0

    def expect(self, count: int, title: str = "this ESP") -> None:
        """A batch format announces how many items it holds once its shape is checked.

        Over the limit, the request is refused before anything is stored; otherwise events
        may be stored while the rest is parsed. A provider calls this only when nothing
        after it can refuse the request (bad items are counted as ignored, not fatal).
        """
        if self.limit is not None and count > self.limit:
            raise Rejected(413, "batch_too_large",
                           f"{count} events in one request; {title} webhooks carry at most {self.limit}",
                           permanent=True)
        self.sink = self._sink

    def flush_due(self) -> None:
        """Hand a full chunk of new events to the sink (when streaming)."""
        if self.sink is not None and len(self.events) - self.flushed >= self.CHUNK:
            chunk, self.flushed = self.events[self.flushed:], len(self.events)
            self.sink(chunk)

    def ignore(self, event_type: Any) -> None:
        self.ignored[str(event_type) if event_type is not None else "(none)"] += 1

    def add(self, recipient: Any, kind: Kind, event_id: str, time: datetime | None = None, *,
            stream: str | None = None, subscription: str | None = None, status: str | None = None,
            reply_code: str | None = None, diagnostic: str | None = None, remote_mta: str | None = None,
            smtp_phase: str | None = None, provider_class: str | None = None,
            feedback_type: str | None = None, message_id: str | None = None) -> None:
        """One event for one recipient; a recipient that is not an address is counted as
        ignored (``invalid-recipient``) rather than failing the whole, authentic batch."""
        if not isinstance(recipient, str):
            self.ignored["invalid-recipient"] += 1
            return
        try:
            address = normalise(recipient)
        except AddressError:
            self.ignored["invalid-recipient"] += 1
            return
        self.events.append(Event(
            tenant=self.tenant, recipient=address, kind=kind, provider=self.provider,
            event_id=str(event_id)[:512], time=time or self.received,
            recipient_raw=recipient if recipient != address else None, stream=stream,
            subscription=subscription, status=status, reply_code=reply_code,
            diagnostic=diagnostic[:4000] if diagnostic else None, remote_mta=remote_mta,
            smtp_phase=smtp_phase, provider_class=provider_class, feedback_type=feedback_type,
            message_id=message_id))


class Provider:
    """Base of every ESP module; subclasses set the class attributes and implement
    ``parse_events`` (and mixins provide the ``authenticators``)."""

    name: ClassVar[str]
    title: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    #: most events the ESP sends in one request; None: REBOUND_MAX_BATCH
    max_batch: ClassVar[int | None] = None
    #: status answered for requests that can never succeed (Mailgun: 406 stops its retries)
    permanent_status: ClassVar[int | None] = None
    #: credential name -> whether it is secret (never shown back)
    credential_names: ClassVar[dict[str, bool]] = {}
    #: groups of names that, all set, make one complete way to authenticate
    auth_options: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: check methods tried in order; each returns None (not configured), True or False
    authenticators: ClassVar[tuple[str, ...]] = ()
    #: answers HEAD with 200 (Mandrill checks the URL exists before saving a webhook)
    head_check: ClassVar[bool] = False
    #: answers GET with 200 (Unisender Go checks the URL with a GET when a webhook is switched on)
    get_check: ClassVar[bool] = False
    #: the Services attribute caching the signing certificates this provider fetches (SNS-style)
    certificates_attr: ClassVar[str] = "sns_certificates"
    #: one line for the docs: what to configure at the ESP
    setup: ClassVar[str] = ""
    #: providers whose "OAuth 2.0" option fetches a bearer token from a token URL we serve:
    #: the credential that is both the client secret and the token
    oauth_credential: ClassVar[str | None] = None

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.creds = ctx.credentials

    # -- credentials ---------------------------------------------------------------------
    @classmethod
    def clean_credential(cls, name: str, value: str) -> str:
        """Validate and normalise one value as it is set (override per provider)."""
        return value.strip()

    @classmethod
    def check_credentials(cls, values: dict[str, str]) -> None:
        """Raise CredentialsError unless ``values`` is a complete, valid configuration."""
        unknown = sorted(set(values) - set(cls.credential_names))
        if unknown:
            raise CredentialsError(f"{cls.name} has no credential {', '.join(unknown)}; "
                                   f"names: {', '.join(cls.credential_names)}")
        if not any(all(values.get(n) for n in option) for option in cls.auth_options):
            ways = " or ".join("+".join(o) if o else "(nothing)" for o in cls.auth_options)
            raise CredentialsError(f"{cls.name} needs {ways}")

    # -- the request ------------------------------------------------------------------------
    @classmethod
    def check_content_type(cls, req: WebhookRequest) -> None:
        if req.mimetype not in cls.content_types:
            raise Rejected(415, "unsupported_media_type",
                           f"{cls.title} webhooks are sent as {' or '.join(cls.content_types)}",
                           permanent=True)

    @classmethod
    def unconfigured(cls, req: WebhookRequest) -> Rejected:
        """The answer when the tenant is unknown or has not configured this provider: the
        same as a configured tenant would give to a request nobody of theirs sent."""
        return auth_failed("not_configured")

    def validate_request(self, req: WebhookRequest) -> None:
        configured = False
        for check in self.authenticators:
            result = getattr(self, check)(req)
            if result is None:
                continue
            configured = True
            if result:
                return
        raise auth_failed("bad_signature" if configured else "not_configured")

    def parse_events(self, req: WebhookRequest, out: Parsed) -> None:
        raise NotImplementedError

    #: for batch formats: the field naming an event's type, and the types turned into events
    type_field: ClassVar[str] = "event"
    kinds: ClassVar[dict[str, Kind]] = {}

    def parse_objects(self, items: list, out: Parsed) -> None:
        """Each JSON object of a batch to ``parse_one``; anything else, and an object whose
        values have unexpected types, is counted as ignored: one odd item never costs the
        rest of an authentic batch (nor a 500)."""
        for e in items:
            if not isinstance(e, dict):
                out.ignore("(not an object)")
                continue
            name = e.get(self.type_field)
            kind = self.kinds.get(name) if isinstance(name, str) else None
            if kind is None:
                out.ignore(name if name is None or isinstance(name, str) else "(not a string)")
                continue
            mark = len(out.events)
            try:
                self.parse_one(e, name, kind, out)
            except MALFORMED as exc:
                del out.events[mark:]                 # half an item adds nothing
                out.ignore(f"{name}:malformed")
                log.warning("webhook item not understood", extra={"provider": self.name, "type": name,
                                                                  "why": type(exc).__name__})
            out.flush_due()

    def parse_one(self, e: dict, name: str, kind: Kind, out: Parsed) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        """Undo side effects of validation when the request was not stored after all."""

    def stored(self) -> None:
        """Make side effects of validation final: the request was stored."""


# -- authentication mixins -------------------------------------------------------------------

def _ct_equal_any(candidate: bytes, expected: list[bytes]) -> bool:
    """Constant-time comparison against every expected value (no early exit)."""
    ok = False
    for e in expected:
        ok |= hmac.compare_digest(candidate, e)
    return ok


class BasicAuthMixin:
    """HTTP basic auth (Postmark, Mailjet, SparkPost, Brevo): credentials ``username`` and
    ``password``, usually given to the ESP inside the URL (https://user:pass@host/...)."""

    def check_basic_auth(self, req: WebhookRequest) -> bool | None:
        combos = self.creds.combos("username", "password", now=req.now)
        if not combos:
            return None
        scheme, _, value = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return _ct_equal_any(decoded, [f"{u}:{p}".encode() for u, p in combos])


class BearerTokenMixin:
    """``Authorization: Bearer <token>`` against a configured token (SparkPost, Brevo,
    SendGrid OAuth)."""

    bearer_credential: ClassVar[str] = "token"

    def check_bearer(self, req: WebhookRequest) -> bool | None:
        tokens = self.creds.values(self.bearer_credential, req.now)
        if not tokens:
            return None
        scheme, _, value = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False
        return _ct_equal_any(value.strip().encode("utf-8"), [t.encode("utf-8") for t in tokens])


class HmacSignatureMixin:
    """HMAC over provider-defined content, compared in constant time with each key valid
    now (rotation) and each signature offered (Svix sends several during its rotations)."""

    hmac_digest: ClassVar[Callable] = hashlib.sha256

    def hmac_matches(self, keys: list[bytes], message: bytes, signatures: list[bytes],
                     encode: Callable[[bytes], bytes]) -> bool:
        ok = False
        for key in keys:
            expected = encode(hmac.new(key, message, self.hmac_digest).digest())
            ok |= _ct_equal_any(expected, signatures) if signatures else False
        return ok


def b64(digest: bytes) -> bytes:
    return base64.b64encode(digest)


def hexlify(digest: bytes) -> bytes:
    return digest.hex().encode("ascii")


class TimestampFreshnessMixin:
    """Refuses signed timestamps further than the tolerance from now (or, with ``max_age``,
    older than that plus the tolerance), and timestamps that are not finite numbers: ``nan``
    passed ``abs(now - nan) > tolerance``, which is False (issue 15).

    Checked after the signature, so only the holder of a valid signature learns that the
    timestamp was the problem.
    """

    stale_is_permanent: ClassVar[bool] = True
    #: seconds a signed request may be replayed by the ESP itself (its retries); None: the tolerance
    max_age: ClassVar[float | None] = None

    def check_fresh(self, req: WebhookRequest, timestamp: str) -> None:
        try:
            ts = float(timestamp)
        except (TypeError, ValueError):
            raise auth_failed("bad_timestamp", permanent=True) from None
        if not math.isfinite(ts):
            raise auth_failed("bad_timestamp", permanent=True)
        tolerance = self.ctx.tolerance
        oldest = req.now - (self.max_age or 0) - tolerance
        if ts < oldest or ts > req.now + tolerance:
            span = f"older than {self.max_age / 3600:g} h and {tolerance} s" if self.max_age else \
                f"more than {tolerance} s away from now"
            raise Rejected(401, "stale_timestamp", f"the signed timestamp is {span}" if ts < oldest else
                           f"the signed timestamp is more than {tolerance} s ahead of now",
                           permanent=self.stale_is_permanent, reason="stale_timestamp")


class ReplayProtectionMixin:
    """Each single-use token is accepted once within twice the timestamp tolerance (older
    timestamps are refused anyway), remembered in Redis (store.credentials.ReplayGuard):
    claimed by the request before it is stored, spent once it is; a request that failed gives
    it back, and its identical retry is let in even if giving it back failed too."""

    _replay_token: str | None = None

    def check_replay(self, token: str, body: bytes) -> None:
        if not self.ctx.replay.claim(self.ctx.tenant, self.name, token, body, 2 * self.ctx.tolerance):
            raise Rejected(401, "replayed", "this signed request was received before",
                           permanent=True, reason="replayed")
        self._replay_token = token

    def rollback(self) -> None:
        if self._replay_token is not None:
            self.ctx.replay.forget(self.ctx.tenant, self.name, self._replay_token)
            self._replay_token = None

    def stored(self) -> None:
        if self._replay_token is not None:
            self.ctx.replay.spend(self.ctx.tenant, self.name, self._replay_token)
            self._replay_token = None


# -- payload helpers ---------------------------------------------------------------------

def epoch(value: Any) -> datetime | None:
    """Seconds (or milliseconds, for values too large to be seconds) since the epoch; None
    for what is not a finite number."""
    try:
        ts = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(ts):
        return None
    if ts > 1e11:
        ts /= 1000.0
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


_DIAG_TYPE = re.compile(r"^\s*(?:smtp|x-[a-z0-9-]+)\s*;\s*", re.IGNORECASE)
_REPLY = re.compile(r"^\s*([245]\d\d)(?=[\s\-]|$)")
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")


def smtp_parts(text: Any) -> tuple[str | None, str | None, str | None]:
    """(diagnostic, reply code, enhanced status) from an SMTP-ish diagnostic text.

    Drops an RFC 3464 diagnostic-type prefix ("smtp; "), and takes the reply code from the
    start and the first enhanced status code seen. Texts without codes pass unchanged.
    """
    if not isinstance(text, str) or not text.strip():
        return None, None, None
    body = _DIAG_TYPE.sub("", text.strip(), count=1)
    m = _REPLY.match(body)
    s = _STATUS.search(body)
    return body, (m.group(1) if m else None), (s.group(1) if s else None)


def reply_code(value: Any) -> str | None:
    """An SMTP reply code from a number field; provider-internal codes (Mailgun 605) drop."""
    try:
        code = int(value)
    except (TypeError, ValueError):
        return None
    return str(code) if 200 <= code <= 599 else None


def status_code(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    m = _STATUS.search(value)
    return m.group(1) if m else None


def stream_of(*candidates: Any) -> str | None:
    """The first candidate naming a stream ("marketing"/"transactional"), if any.

    A candidate may be a string or a list of strings (tags)."""
    for c in candidates:
        if isinstance(c, str):
            if c.lower() in STREAMS:
                return c.lower()
        elif isinstance(c, (list, tuple)):
            for x in c:
                if isinstance(x, str) and x.lower() in STREAMS:
                    return x.lower()
    return None


def maybe_json(value: Any) -> dict:
    """Fields that carry JSON inside a string (Brevo X-Mailin-custom, Mailjet Payload)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            found = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return found if isinstance(found, dict) else {}
    return {}


def fingerprint(*parts: Any) -> str:
    """An idempotency key for providers without event ids: the same facts, the same key."""
    text = "\x00".join("" if p is None else str(p) for p in parts)
    return "fp:" + hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
