"""GET /v1/raw/<ref>: a stored raw payload (the webhook body or raw message a failure,
complaint or unsubscribe came from), named by the ``raw_ref`` of history entries and review
examples. A tenant reads only its own payloads; unknown, expired and other tenants' refs
are the same 404. See store/raw.py for what is kept, and for how long.
"""
from __future__ import annotations

from flask import g
from pydantic import BaseModel, Field

from webhook.api.recipients import json_response
from webhook.api.schemas import ErrorOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("raw", "raw", "Raw payloads kept for reclassification and audits")


class RawPath(BaseModel):
    ref: str = Field(max_length=64, description="a raw_ref from a history entry or a review example")


class RawOut(BaseModel):
    ref: str
    provider: str | None = Field(description="the ESP (or inbound) whose request it was")
    received: str | None = Field(description="when it was stored (ISO 8601, UTC)")
    expires: str | None = Field(description="when it will be dropped (REBOUND_RAW_RETENTION_DAYS)")
    size: int = Field(description="bytes of the request as received")
    truncated: bool = Field(description="whether the payload was cut to REBOUND_RAW_MAX_BYTES")
    encoding: str = Field(description="utf-8, or base64 for a body that is not UTF-8")
    payload: str


@bp.get("/raw/<ref>", responses={200: RawOut, 401: ErrorOut, 404: ErrorOut})
def get_raw(path: RawPath):
    """One raw payload of this tenant and what is known of it."""
    found = services().store.raw.get(g.tenant, path.ref)
    if found is None:
        raise ApiError(404, "not_found", f"no raw payload {path.ref!r} (unknown, or older than the retention)")
    return json_response(found)
