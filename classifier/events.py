"""The canonical event and the evidence the classifier reads from it.

Every source (ESP webhooks, raw DSN/NDR messages, ARF reports, the project's own JSON
events) is turned into :class:`Event` before anything else happens, so the classifier and
the store have exactly one shape to understand. The type lives in the classifier because it
is the lowest layer that needs it: the store and the HTTP layer import it from here, the
classifier imports neither of them.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from classifier.privacy import mask_subjects


class Kind(str, enum.Enum):
    """What happened to one message for one recipient."""

    BOUNCE = "bounce"            # permanent or unclassified failure reported after the fact
    DEFERRAL = "deferral"        # temporary failure; the sender is still retrying
    COMPLAINT = "complaint"      # marked as spam / feedback report
    UNSUBSCRIBE = "unsubscribe"  # opted out (of one subscription, or of everything)
    RESUBSCRIBE = "resubscribe"  # opted back in (ESP group resubscribe, reactivation)
    DROP = "drop"                # the provider refused to send (prior bounce, invalid, ...)
    DELIVERED = "delivered"
    SEND = "send"
    OPEN = "open"
    CLICK = "click"

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_FAILURES = frozenset({Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP})

STREAMS = ("marketing", "transactional")


#: Evidence with a longer diagnostic is never kept in a verdict cache: what repeats (a
#: campaign's bounces, one provider's block) is short, and caching text of any length would
#: let a few huge diagnostics fill memory however few entries a cache holds.
MAX_CACHED_DIAGNOSTIC = 2000


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the classifier may look at for one failed recipient.

    Nothing here identifies the tenant or the recipient: a verdict depends only on what the
    remote side said, which is what makes verdicts cacheable and training records shareable.
    """

    diagnostic: str = ""
    status: str | None = None          # RFC 3463 enhanced status code, e.g. "5.1.1"
    reply_code: str | None = None      # SMTP reply code, e.g. "550"
    smtp_phase: str | None = None      # "RCPT", "DATA", "MAIL", "CONNECT", ... when stated
    remote_mta: str | None = None
    provider: str | None = None        # who reported it: "sendgrid", "postfix", "api", ...
    provider_class: str | None = None  # the provider's own classification, kept as evidence
    kind: Kind = Kind.BOUNCE

    def __post_init__(self):
        # an echoed subject is message content, and noise to the model (classifier.privacy)
        if self.diagnostic:
            object.__setattr__(self, "diagnostic", mask_subjects(self.diagnostic))

    @property
    def cacheable(self) -> bool:
        """Small enough to be a key of a verdict cache (see :data:`MAX_CACHED_DIAGNOSTIC`)."""
        return len(self.diagnostic) <= MAX_CACHED_DIAGNOSTIC


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to one recipient, whatever reported it."""

    tenant: str
    recipient: str                     # normalised (see classifier.address.normalise)
    kind: Kind
    provider: str                      # "api", "inbound", "sendgrid", "ses", ...
    event_id: str                      # idempotency key within (tenant, provider)
    time: datetime
    recipient_raw: str | None = None   # the spelling the source used, kept for history
    stream: str | None = None          # "marketing" / "transactional"; None = not stated
    subscription: str | None = None    # unsubscribe scope; None = every subscription
    status: str | None = None
    reply_code: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    smtp_phase: str | None = None
    provider_class: str | None = None
    feedback_type: str | None = None   # ARF feedback type of complaints
    message_id: str | None = None      # the original message, to tie a bounce to its send
    raw_ref: str | None = None         # key of the stored raw payload this event came from
    #: For raw messages: the MTA/provider module that wrote the report ("postfix",
    #: "office365"); vendor rules key on it. ``provider`` then says how it reached us.
    reporter: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        # stored, shown and logged: never with the message's subject (classifier.privacy)
        if self.diagnostic:
            object.__setattr__(self, "diagnostic", mask_subjects(self.diagnostic))

    def evidence(self) -> Evidence:
        return Evidence(
            diagnostic=self.diagnostic or "",
            status=self.status,
            reply_code=self.reply_code,
            smtp_phase=self.smtp_phase,
            remote_mta=self.remote_mta,
            provider=self.reporter or self.provider,
            provider_class=self.provider_class,
            kind=self.kind,
        )

    def with_(self, **changes) -> Event:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["time"] = self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return d
