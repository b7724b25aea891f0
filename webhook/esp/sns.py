"""Amazon SNS message authentication: the envelope every SES notification arrives in.

A message is authentic when its ``Signature`` verifies (RSA PKCS#1 v1.5; SHA1 for
SignatureVersion 1, SHA256 for 2) over the canonical string of its signed fields
(``Key\\nValue\\n`` in byte order: Message, MessageId, Subject if present, Timestamp,
TopicArn, Type; confirmations add SubscribeURL and Token), with the public key of the
X.509 certificate at ``SigningCertURL``.

A message is also refused when its signed ``Timestamp`` (when SNS published it; a retry
keeps it) is more than ``MAX_AGE`` old, or ahead of our clock by more than the clock
tolerance: SNS stops retrying an HTTP(S) delivery after at most an hour, so an older message
is a replay. This is checked before the certificate is fetched.

``SigningCertURL`` comes from the message itself, so it is checked before anything is fetched: https,
a host ``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China) and nothing else in
the authority (no user info, no port), a path ending ``.pem`` and no query or fragment. The
host rule is that of AWS's own validators, ``^sns\\.[a-zA-Z0-9\\-]{3,}\\.amazonaws\\.com(\\.cn)?$``,
narrowed to labels shaped like a region (``us-east-1``, ``us-gov-west-1``, ``cn-north-1``):
their pattern also matches hosts a customer names under amazonaws.com, such as the legacy
S3 endpoints of a bucket called ``sns`` (``sns.s3-us-west-2.amazonaws.com``). The same rule
applies to a SubscribeURL before it is confirmed. Certificates are cached per URL
until they expire, and failures for a few seconds, so a burst of notifications costs one
fetch. An SNS signature proves the
message came from SNS, not from whose topic: the SES module checks ``TopicArn`` against the
tenant's ``topic_arns``.
"""
from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

#: sns.<region>.amazonaws.com[.cn], the region being letters-...-digits (see the docstring)
SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?")

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL = {"Subject"}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
#: how old a message may be: SNS gives up retrying an HTTP(S) delivery after at most an hour
MAX_AGE = timedelta(hours=1)


class SnsError(Exception):
    """The message is not an authentic SNS message; ``str()`` says why (for logs)."""


class SnsStale(SnsError):
    """The message was published too long ago (or claims to come from the future)."""


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched: a retry may succeed."""


def is_sns_url(url: object, *, pem: bool) -> bool:
    """Whether ``url`` is an https URL on an SNS host of AWS (and a .pem when ``pem``).

    ``urlsplit`` forgives what a browser would (it drops tabs and newlines, splits user info
    at the last ``@``), so anything unusual is refused before it is asked: non-ASCII,
    whitespace, backslashes, an authority that is more than the host name.
    """
    if not isinstance(url, str) or not url.isascii() or any(c.isspace() or c == "\\" for c in url):
        return False
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.fragment or parts.netloc.lower() != (parts.hostname or "-"):
        return False
    if not SNS_HOST.fullmatch(parts.hostname):
        return False
    return (parts.path.endswith(".pem") and not parts.query) if pem else True


def string_to_sign(message: dict) -> bytes:
    fields = SIGNED_FIELDS.get(message.get("Type"))
    if fields is None:
        raise SnsError(f"unknown SNS message type {message.get('Type')!r}")
    out = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name in OPTIONAL:
                continue
            raise SnsError(f"SNS message without {name}")
        if not isinstance(value, str):
            raise SnsError(f"SNS field {name} is not a string")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


class SnsCertificates:
    """Signing certificates by URL: fetched once, kept until they expire.

    A URL that could not be fetched, or did not give a certificate, is remembered as such for
    ``retry_after`` seconds: a flood of messages naming it costs one fetch, not one each
    (short, because SNS's default policy retries a delivery after 20 s). Requests that need
    the same URL at the same time wait for one fetch.

    ``pin`` installs a certificate for a URL without fetching it (tests, air-gapped
    deployments); ``check_expiry=False`` is for replaying old, really signed messages such
    as AWS's published test vectors, whose certificate expired in 2022.
    """

    #: the message names the URL: it is checked before anything is fetched (SNS hosts only)
    what = "SNS certificate URL"

    def __init__(self, max_entries: int = 64, retry_after: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.max_entries = max_entries
        self.retry_after = retry_after
        self.clock = clock
        self._cache: OrderedDict[str, tuple[x509.Certificate, bool]] = OrderedDict()
        self._pinned: dict[str, tuple[x509.Certificate, bool]] = {}
        #: url -> (until when, the error to raise again)
        self._failed: OrderedDict[str, tuple[float, Exception]] = OrderedDict()
        self._fetching: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def pin(self, url: str, pem: bytes, *, check_expiry: bool = True) -> None:
        with self._lock:
            self._pinned[url] = (x509.load_pem_x509_certificate(pem), check_expiry)

    def public_key(self, url: str, fetch: Callable[[str], bytes], now: datetime) -> rsa.RSAPublicKey:
        if not self.url_ok(url):
            raise SnsError(f"SigningCertURL is not an {self.what}: {url!r}")
        entry = self._known(url, now)
        if entry is None:
            with self._lock:
                one_fetch = self._fetching.setdefault(url, threading.Lock())
            with one_fetch:
                entry = self._known(url, now) or self._fetch(url, fetch)
            with self._lock:
                self._fetching.pop(url, None)
        cert, check_expiry = entry
        if check_expiry and not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            raise SnsError("the SNS signing certificate is not valid now")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsError("the SNS signing certificate has no RSA key")
        return key

    @staticmethod
    def url_ok(url: object) -> bool:
        return is_sns_url(url, pem=True)

    def accept(self, cert: x509.Certificate, fetch: Callable[[str], bytes]) -> None:
        """Raise SnsError unless a fetched certificate may sign messages (SNS: its URL
        was enough; a provider whose certificates chain to its own CA checks that here)."""

    def _known(self, url: str, now: datetime) -> tuple[x509.Certificate, bool] | None:
        """The pinned or cached certificate (None: fetch it); a recent failure raised again."""
        with self._lock:
            entry = self._pinned.get(url)
            if entry is not None:
                return entry
            entry = self._cache.get(url)
            if entry is not None:
                self._cache.move_to_end(url)
                return None if now > entry[0].not_valid_after_utc else entry   # AWS may have replaced it
            failed = self._failed.get(url)
            if failed is not None:
                if self.clock() < failed[0]:
                    raise type(failed[1])(f"{failed[1]} (recently; not fetched again yet)")
                del self._failed[url]
        return None

    def _fetch(self, url: str, fetch: Callable[[str], bytes]) -> tuple[x509.Certificate, bool]:
        try:
            try:
                pem = fetch(url)
            except Exception as exc:          # network, TLS, status: the caller answers 503
                raise CertificateUnavailable(str(exc)) from None
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise SnsError("SigningCertURL did not return a PEM certificate") from None
            self.accept(cert, fetch)
        except (CertificateUnavailable, SnsError) as exc:
            with self._lock:
                self._failed[url] = (self.clock() + self.retry_after, exc)
                while len(self._failed) > self.max_entries:
                    self._failed.popitem(last=False)
            raise
        entry = (cert, True)
        with self._lock:
            self._cache[url] = entry
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return entry


def check_time(message: dict, now: datetime, tolerance: timedelta) -> None:
    """Raise SnsStale unless ``Timestamp`` is within MAX_AGE (plus the clock tolerance)
    before ``now`` and no more than the tolerance after it."""
    value = message.get("Timestamp")
    try:
        published = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        published = None
    if published is None or published.tzinfo is None:
        raise SnsError(f"SNS Timestamp is not an ISO 8601 time: {value!r}")
    if now - published > MAX_AGE + tolerance:
        raise SnsStale(f"SNS message published at {value}, more than {MAX_AGE} ago")
    if published - now > tolerance:
        raise SnsStale(f"SNS message published at {value}, in the future")


def verify(message: dict, certificates: SnsCertificates, fetch: Callable[[str], bytes],
           now: datetime | None = None, tolerance: timedelta = timedelta(minutes=5),
           versions: dict = HASHES) -> None:
    """Raise SnsError unless ``message`` (the parsed JSON envelope) is signed by SNS and
    recent at ``now`` (default: the clock; replaying old, really signed messages such as
    AWS's test vectors takes their own time). ``versions``: the SignatureVersions accepted
    (an SNS-compatible service may sign with fewer)."""
    now = now or datetime.now(UTC)
    digest = versions.get(str(message.get("SignatureVersion")))
    if digest is None:
        raise SnsError(f"unsupported SignatureVersion {message.get('SignatureVersion')!r}")
    try:
        signature = base64.b64decode(message.get("Signature") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise SnsError("Signature is not base64") from None
    signed = string_to_sign(message)
    check_time(message, now, tolerance)
    key = certificates.public_key(message.get("SigningCertURL"), fetch, now)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), digest())
    except InvalidSignature:
        raise SnsError("the SNS signature does not verify") from None
