"""One raw message in, stored (or held) and classified out: the path every intake shares.

:func:`take` parses the message (``classifier.parse.parse_message``), turns each recipient
found into a canonical event, and stores the events through the one ingest pipeline; it
returns only once Redis has accepted every write, so the caller may acknowledge then (250,
exit 0, move or delete the message in its mailbox). It raises what Redis raises when the
store is unavailable: the caller answers "try again" (451, exit 75, leave the message where
it is). The same bytes taken twice are the same events, counted once (the event id is a
digest of the message), which is what makes an MTA's retry after a 451 safe.

The return path the message was sent to (``routing.Delivery``) is evidence beside the
report's own: the recipient a VERP or a verified token names is kept on every event
(``extra.return_path``), and is the recipient when the report names none. A ``signed`` return
path that does not verify, or a report naming someone else than its verified token, is held
for review (``store.held``) and applies nothing.
"""
from __future__ import annotations

import email.utils
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from classifier.address import AddressError, normalise
from classifier.events import Event
from classifier.parse import Budget, MessageError, OverBudget, Report, parse_message
from webhook.intake.routing import Delivery
from webhook.pipeline import ingest

#: what ``take`` did with a message
STORED, HELD, NOT_A_REPORT, INVALID = "stored", "held", "not_a_report", "invalid"
#: the provider of events from raw messages, however they came (one message, one event id)
PROVIDER = "inbound"


@dataclass
class Taken:
    outcome: str
    accepted: int = 0
    duplicates: int = 0
    #: per recipient found: recipient, action, kind, codes, diagnostic, stored (and the verdict when stored)
    recipients: list[dict] = field(default_factory=list)
    format: str = "none"
    bounce: bool = False
    #: why the message was held, or is not usable
    reason: str | None = None
    #: the held entry's id
    held: str | None = None
    #: for INVALID: invalid_message (not mail at all) or over_budget (too costly to read)
    error: str | None = None
    #: recipients named beyond the ones read per message (not stored)
    recipients_dropped: int = 0
    #: the message was cut before parsing (limits): what came after was not read
    truncated: bool = False
    #: whether the message was kept for reclassification (None: nothing to keep; False: the
    #: tenant's raw payload quota is spent, the events are stored all the same)
    raw_kept: bool | None = None


def when(value: str | None, fallback: datetime) -> datetime:
    """The report's own date when it has a sane one; a DSN's dates are often missing or wrong."""
    if value:
        try:
            found = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            found = None
        if found is not None:
            found = found if found.tzinfo else found.replace(tzinfo=UTC)
            if fallback - timedelta(days=365) < found <= fallback + timedelta(hours=1):
                return found
    return fallback


def message_id(raw: bytes) -> str:
    return "raw:" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def to_events(tenant: str, report: Report, raw: bytes, delivery: Delivery | None = None,
              via: str | None = None) -> tuple[list[Event], list[dict]]:
    """One event per recipient with an address; the rest is listed, not stored."""
    received = datetime.now(UTC)
    event_id = message_id(raw)
    info = report.message
    extra: dict = {}
    if info.correlation:
        extra["correlation"] = info.correlation
    if delivery is not None:
        extra["return_path"] = delivery.evidence()
    if via:
        extra["via"] = via
    events, listed = [], []
    for r in report.recipients:
        named = r.recipient
        if not named and delivery is not None and delivery.recipient and r.action not in ("autoreply",):
            named = delivery.recipient                # the report names none: the return path does
        row = {"recipient": named, "action": r.action, "kind": r.evidence.kind.value,
               "status": r.evidence.status, "reply_code": r.evidence.reply_code,
               "diagnostic": r.evidence.diagnostic, "stored": False}
        listed.append(row)
        try:
            recipient = normalise(named or "")
        except AddressError:
            continue
        e = r.evidence
        events.append(Event(
            tenant=tenant, recipient=recipient, recipient_raw=named, kind=e.kind, provider=PROVIDER,
            reporter=e.provider or info.provider, event_id=event_id,
            time=when(r.last_attempt or info.arrival_date, received), status=e.status,
            reply_code=e.reply_code, diagnostic=e.diagnostic or None, remote_mta=e.remote_mta,
            smtp_phase=e.smtp_phase, provider_class=e.provider_class,
            feedback_type=r.feedback_type or info.feedback_type, message_id=info.original_message_id,
            extra=dict(extra),
        ))
        row["stored"] = True
    return events, listed


def _not_named(events: list[Event], delivery: Delivery) -> list[str]:
    """Recipients of the report that the verified token does not name."""
    try:
        named = normalise(delivery.recipient or "")
    except AddressError:
        named = None
    return sorted({e.recipient for e in events if e.recipient != named})


def take(svc, tenant: str, raw: bytes, *, via: str | None, delivery: Delivery | None = None,
         budget: Budget | None = None, require_report: bool = True) -> Taken:
    """Parse, classify and store one raw message for ``tenant`` (see the module docstring).

    ``via``: how it came (smtp, lmtp, pipe, imap, pop3), kept on its events; ``require_report``: a message that is not a bounce, complaint or auto-reply is
    ``NOT_A_REPORT`` and nothing is stored (the HTTP route answers such a message with an
    empty list instead). Raises the store's errors when Redis is unavailable."""
    budget = budget or Budget()
    try:
        report = parse_message(raw, budget)
        events, listed = to_events(tenant, report, raw, delivery, via)
    except OverBudget as exc:
        return Taken(INVALID, reason=str(exc), error="over_budget")
    except MessageError as exc:
        return Taken(INVALID, reason=str(exc), error="invalid_message")
    fmt = report.message.format
    taken = Taken(STORED, recipients=listed, format=fmt, bounce=report.is_bounce,
                  recipients_dropped=report.message.recipients_dropped, truncated=report.message.truncated)
    if not events:
        if require_report:
            taken.outcome = NOT_A_REPORT
            taken.reason = ("not a delivery report, complaint or auto-reply" if fmt == "none"
                            else f"a {fmt} report naming no recipient address")
        return taken
    problem = delivery.problem if delivery is not None and delivery.signed else None
    if delivery is not None and delivery.signed and problem is None:
        others = _not_named(events, delivery)
        if others:
            problem = f"the report is about {', '.join(others)[:200]}, the verified return path about {delivery.recipient}"
    if problem is not None:
        taken.outcome, taken.reason = HELD, problem
        taken.held = svc.store.held.add(tenant, raw, {
            "reason": problem, "via": via, "rcpt": delivery.rcpt, "format": fmt,
            "recipients": [{k: v for k, v in row.items() if k != "stored"} for row in listed]})
        for row in listed:
            row["stored"] = False
        return taken
    try:
        result = ingest(tenant, events, raw=raw, budget=budget, svc=svc)
    except OverBudget as exc:
        return Taken(INVALID, recipients=listed, format=fmt, reason=str(exc), error="over_budget")
    verdicts = iter(result.verdicts)
    for row in listed:
        if row["stored"]:
            row.update(next(verdicts))
    taken.accepted, taken.duplicates, taken.raw_kept = result.accepted, result.duplicates, result.raw_kept
    return taken


def release(svc, tenant: str, item_id: str) -> Taken | None:
    """Apply a held message as an ordinary bounce (a person decided it is genuine), and drop
    it from the held list; None when there is no such entry or its message has expired."""
    entry = svc.store.held.get(tenant, item_id)
    if entry is None:
        return None
    raw = svc.store.raw.body(tenant, entry["raw_ref"])
    if raw is None:
        return None
    taken = take(svc, tenant, raw, via=f"released:{entry.get('via')}", require_report=False)
    if taken.outcome == STORED:
        svc.store.held.drop(tenant, item_id)
    return taken
