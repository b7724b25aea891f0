"""The analysts' review queue: verdicts the classifier was unsure of, and their labels.

``GET /v1/review`` lists open (or labelled) items, ``GET /v1/review/<id>`` shows one,
``POST /v1/review/<id>`` records a label, ``GET /v1/review/labels`` exports the labels as
training records (JSONL) for ``rebound train --extra``. See store/review.py.
"""
from __future__ import annotations

import orjson
from flask import Response, g, stream_with_context

from store.review import CursorError, Filters, ReviewError
from webhook.api.recipients import json_response
from webhook.api.schemas import ErrorOut, LabelIn, ReviewItemOut, ReviewOut, ReviewPath, ReviewQuery
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("review", "review", "The analysts' review queue: unsure verdicts, labels, training data")


@bp.get("/review", responses={200: ReviewOut, 400: ErrorOut, 401: ErrorOut})
def list_review(query: ReviewQuery):
    """Open items (``status=labelled``: labelled ones), oldest first or most frequent first,
    a page at a time; follow ``next`` until it is null. Filters: ``review_reason``
    (unknown, low-confidence, conflict) and ``category`` (of the verdict). A selective filter
    may give a short page: only ``next: null`` means the end."""
    review = services().store.review
    try:
        filters = Filters(review=query.review_reason, category=query.category)
        page = review.page(g.tenant, status=query.status, order=query.order, filters=filters,
                           cursor=query.cursor, limit=query.limit)
    except CursorError as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    return json_response({**page, "stats": review.stats(g.tenant)})


@bp.get("/review/labels", responses={200: None, 401: ErrorOut})
def export_labels():
    """Every label of this tenant as training records, one JSON object per line (the schema
    of classifier/training/README.md): save it and pass it to ``rebound train --extra``."""
    records = services().store.review.training_records(g.tenant)
    lines = (orjson.dumps(r) + b"\n" for r in records)
    return Response(stream_with_context(lines), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{g.tenant}-labels.jsonl"'})


@bp.get("/review/<item_id>", responses={200: ReviewItemOut, 401: ErrorOut, 404: ErrorOut})
def get_item(path: ReviewPath):
    """One item, open or labelled."""
    item = services().store.review.get(g.tenant, path.item_id)
    if item is None:
        raise ApiError(404, "not_found", f"no review item {path.item_id!r}")
    return json_response(item)


@bp.post("/review/<item_id>", responses={200: ReviewItemOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def label_item(path: ReviewPath, body: LabelIn):
    """Record what this evidence really means (a fine reason of the taxonomy) and an optional
    note; who and when are recorded. The item leaves the open queue and its label joins the
    training data export. Labelling a labelled item replaces its label."""
    try:
        item = services().store.review.label(g.tenant, path.item_id, reason=body.reason, note=body.note,
                                             actor=g.actor)
    except ReviewError as exc:
        raise ApiError(400, "invalid_reason", str(exc)) from None
    if item is None:
        raise ApiError(404, "not_found", f"no review item {path.item_id!r}")
    return json_response(item)
