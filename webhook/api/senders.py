"""The sender's health: failures that are the sender's, never held against a recipient."""
from __future__ import annotations

from flask import g

from classifier.taxonomy import SENDER_SIDE
from webhook.api.schemas import ErrorOut, SenderStatusQuery
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("senders", "senders", "Blocks, authentication failures, throttling and limits on the sending side")


@bp.get("/senders/status", responses={200: None, 400: ErrorOut, 401: ErrorOut})
def sender_status(query: SenderStatusQuery):
    """Sender-side failures of the last ``days`` days: totals by category and fine reason,
    per day, the recipient domains, remote MTAs and providers that report them most, and
    recent examples. These failures never suppress a recipient."""
    if query.category and query.category not in SENDER_SIDE:
        raise ApiError(400, "invalid_request",
                       f"category: {query.category!r} is not sender-side; one of {', '.join(sorted(SENDER_SIDE))}")
    status = services().store.senders.status(g.tenant, days=query.days, category=query.category,
                                              domain=query.domain.lower() if query.domain else None)
    return {"tenant": g.tenant, **status}
