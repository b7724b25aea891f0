"""What parsing one raw message yields: message-level facts and one result per recipient."""
from __future__ import annotations

from dataclasses import dataclass, field

from classifier.events import Evidence

#: Report formats, as recorded in :attr:`MessageInfo.format`.
FORMATS = ("dsn", "ndr", "arf", "autoreply", "none")


@dataclass
class Record:
    """Mutable per-recipient findings while a message is being read."""

    recipient: str | None = None
    original_recipient: str | None = None
    action: str = "failed"          # failed / delayed / delivered / relayed / expanded / complaint / autoreply
    status: str | None = None
    reply_code: str | None = None
    diagnostic: str = ""
    diagnostic_type: str = ""       # DSN Diagnostic-Code type: smtp, x-unix, x-postfix, ...
    smtp_phase: str | None = None
    remote_mta: str | None = None
    last_attempt: str | None = None
    feedback_type: str | None = None
    provider_class: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientResult:
    recipient: str | None
    action: str
    evidence: Evidence
    original_recipient: str | None = None
    last_attempt: str | None = None
    feedback_type: str | None = None

    def to_dict(self) -> dict:
        e = self.evidence
        return {
            "recipient": self.recipient, "original_recipient": self.original_recipient,
            "action": self.action, "kind": e.kind.value, "status": e.status,
            "reply_code": e.reply_code, "diagnostic": e.diagnostic, "smtp_phase": e.smtp_phase,
            "remote_mta": e.remote_mta, "provider": e.provider, "provider_class": e.provider_class,
            "last_attempt": self.last_attempt, "feedback_type": self.feedback_type,
        }


@dataclass(frozen=True, slots=True)
class MessageInfo:
    format: str = "none"
    #: The MTA/provider module that recognised the message (``postfix``, ``office365``, ...).
    provider: str | None = None
    reporting_mta: str | None = None
    arrival_date: str | None = None
    #: Message-ID of the message that bounced (from the attached original, or the DSN).
    original_message_id: str | None = None
    #: Envelope sender of the message that bounced, when stated (VERP decoded separately).
    original_sender: str | None = None
    #: Headers a sender sets to tie a bounce to its send (X-Message-ID, X-SES-*, ...).
    correlation: dict[str, str] = field(default_factory=dict)
    #: Recipient decoded from a VERP return path (``bounces+user=example.org@sender``).
    verp_recipient: str | None = None
    subject: str | None = None
    feedback_type: str | None = None
    #: True when limits cut the message (too large, too many parts): results may be partial.
    truncated: bool = False
    #: Recipients the message names beyond :data:`~classifier.parse.limits.MAX_RECIPIENTS`:
    #: not read, and said so to the sender of the message (never dropped silently).
    recipients_dropped: int = 0
    parser: str = "flanker"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Report:
    message: MessageInfo
    recipients: tuple[RecipientResult, ...] = ()

    @property
    def is_bounce(self) -> bool:
        """True when at least one recipient failed or was deferred (auto-replies, complaints
        and delivery reports are not bounces)."""
        return any(r.action in ("failed", "delayed") for r in self.recipients)

    def to_dict(self) -> dict:
        return {"message": self.message.to_dict(),
                "recipients": [r.to_dict() for r in self.recipients]}
