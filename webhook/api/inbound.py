"""POST /v1/inbound/<tenant>: one raw message (DSN, NDR, ARF report, auto-reply) as the body.

For a return-path mailbox piped into Rebound (e.g. Postfix ``pipe`` to curl). The
message is parsed and classified per recipient, stored through the policy like any
other event, and the answer lists what was found.
"""
from __future__ import annotations

import email.utils
import hashlib
from datetime import datetime, timedelta, timezone

from flask import g, request
from pydantic import BaseModel, Field

from classifier.address import AddressError, normalise
from classifier.events import Event
from classifier.parse import Budget, MessageError, OverBudget, Report, parse_message
from webhook.api.schemas import ErrorOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.pipeline import ingest

bp = blueprint("inbound", "ingest", "Send events to Rebound")

#: Bodies are raw mail; JSON or form posts are a client mistake worth naming.
ACCEPTED_TYPES = {"message/rfc822", "message/global", "text/plain", "application/octet-stream", ""}


class TenantPath(BaseModel):
    tenant: str = Field(max_length=63)


class InboundOut(BaseModel):
    bounce: bool = Field(description="at least one recipient failed or was deferred")
    format: str = Field(description="dsn, ndr, arf, autoreply or none")
    accepted: int
    duplicates: int
    recipients: list[dict]
    recipients_dropped: int = Field(0, description="recipients the message names beyond the 500 read per message: "
                                                   "not stored (say so to whoever sent it)")
    truncated: bool = Field(False, description="the message was cut before parsing (over 2 MiB, or over 64 MIME "
                                               "parts): what came after the cut was not read")
    raw_kept: bool | None = Field(None, description="whether the raw message was kept for reclassification (false: "
                                                    "the tenant's raw payload quota is spent; the events are stored)")


def _when(value: str | None, fallback: datetime) -> datetime:
    """The report's own date when it has a sane one; a DSN's dates are often missing or wrong."""
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
            if fallback - timedelta(days=365) < when <= fallback + timedelta(hours=1):
                return when
    return fallback


def to_events(tenant: str, report: Report, raw: bytes) -> tuple[list[Event], list[dict]]:
    """One event per recipient with an address; the rest is reported, not stored."""
    received = datetime.now(timezone.utc)
    message_id = "raw:" + hashlib.blake2b(raw, digest_size=16).hexdigest()
    info = report.message
    events, listed = [], []
    for r in report.recipients:
        row = {"recipient": r.recipient, "action": r.action, "kind": r.evidence.kind.value,
               "status": r.evidence.status, "reply_code": r.evidence.reply_code,
               "diagnostic": r.evidence.diagnostic, "stored": False}
        listed.append(row)
        try:
            recipient = normalise(r.recipient or "")
        except AddressError:
            continue
        e = r.evidence
        events.append(Event(
            tenant=tenant, recipient=recipient, recipient_raw=r.recipient, kind=e.kind, provider="inbound",
            reporter=e.provider or info.provider, event_id=message_id,
            time=_when(r.last_attempt or info.arrival_date, received), status=e.status,
            reply_code=e.reply_code, diagnostic=e.diagnostic or None, remote_mta=e.remote_mta,
            smtp_phase=e.smtp_phase, provider_class=e.provider_class,
            feedback_type=r.feedback_type or info.feedback_type, message_id=info.original_message_id,
            extra={"correlation": info.correlation} if info.correlation else {},
        ))
        row["stored"] = True
    return events, listed


@bp.post("/inbound/<tenant>", responses={200: InboundOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                          413: ErrorOut, 415: ErrorOut})
def post_inbound(path: TenantPath):
    """Parse, classify and store one raw bounce, complaint or auto-reply."""
    if path.tenant != g.tenant:
        raise ApiError(403, "forbidden", "this API key belongs to another tenant")
    if request.mimetype not in ACCEPTED_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       "send the raw message as message/rfc822 (or text/plain, application/octet-stream)")
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise ApiError(400, "empty_message", "the body is empty; send one raw RFC 5322 message")
    budget = Budget()                     # one message's time, parse to verdict
    try:
        report = parse_message(raw, budget)
        events, listed = to_events(g.tenant, report, raw)
        result = ingest(g.tenant, events, raw=raw, budget=budget) if events else None
    except OverBudget as exc:
        raise ApiError(400, "over_budget", str(exc)) from None
    except MessageError as exc:
        raise ApiError(400, "invalid_message", str(exc)) from None
    verdicts = iter(result.verdicts if result else ())
    for row in listed:
        if row["stored"]:
            row.update(next(verdicts))
    return {"bounce": report.is_bounce, "format": report.message.format,
            "accepted": result.accepted if result else 0, "duplicates": result.duplicates if result else 0,
            "recipients": listed, "recipients_dropped": report.message.recipients_dropped,
            "truncated": report.message.truncated, **({"raw_kept": result.raw_kept} if result else {})}
