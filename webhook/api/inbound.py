"""POST /v1/inbound/<tenant>: one raw message (DSN, NDR, ARF report, auto-reply) as the body.

For a return-path mailbox piped into Rebound (e.g. Postfix ``pipe`` to curl). The
message is parsed and classified per recipient, stored through the policy like any
other event (``webhook.intake.message.take``, the path the SMTP listener, the mailbox poller
and ``rebound inbound`` take too), and the answer lists what was found.
"""
from __future__ import annotations

from flask import g, request
from pydantic import BaseModel, Field

from webhook.api.schemas import ErrorOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.intake.message import INVALID, take
from webhook.services import services

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
    taken = take(services(), g.tenant, raw, via=None, require_report=False)
    if taken.outcome == INVALID:
        raise ApiError(400, taken.error, taken.reason)
    return {"bounce": taken.bounce, "format": taken.format, "accepted": taken.accepted,
            "duplicates": taken.duplicates, "recipients": taken.recipients,
            "recipients_dropped": taken.recipients_dropped, "truncated": taken.truncated,
            **({"raw_kept": taken.raw_kept} if taken.raw_kept is not None else {})}
