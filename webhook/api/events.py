"""POST /v1/events: Rebound's own JSON events, for MTAs and applications without an ESP."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import g

from classifier.address import normalise
from classifier.events import Event, Kind
from webhook.api.schemas import ErrorOut, EventIn, EventsIn, EventsOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.pipeline import ingest
from webhook.services import services

bp = blueprint("events", "ingest", "Send events to Rebound")


def to_event(tenant: str, e: EventIn, received: datetime) -> Event:
    return Event(
        tenant=tenant, recipient=normalise(e.recipient), recipient_raw=e.recipient, kind=Kind(e.type),
        provider="api", event_id=e.id, time=e.time or received, stream=e.stream,
        subscription=e.subscription.lower() if e.subscription else None, status=e.status,
        reply_code=e.reply_code, diagnostic=e.diagnostic, remote_mta=e.remote_mta,
        smtp_phase=e.smtp_phase, feedback_type=e.feedback_type, message_id=e.message_id,
    )


@bp.post("/events", responses={200: EventsOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 503: ErrorOut})
def post_events(body: EventsIn):
    """Ingest one event or a list; 200 only once every event is stored."""
    items = body.root if isinstance(body.root, list) else [body.root]
    limit = services().settings.max_batch
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"{len(items)} events in one request; at most {limit} are accepted")
    received = datetime.now(timezone.utc)
    result = ingest(g.tenant, [to_event(g.tenant, e, received) for e in items])
    return {"accepted": result.accepted, "duplicates": result.duplicates}
