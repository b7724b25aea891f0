"""Opaque page cursors: a JSON list, URL-safe base64 without padding.

Listings of suppressions (store/listing.py) and of the review queue (store/review.py) hand
out a cursor with each page; a client sends it back untouched for the next one. Whatever it
holds, a cursor that does not decode to what its listing expects is a CursorError (a 400),
never a 500.
"""
from __future__ import annotations

import base64

import orjson


class CursorError(ValueError):
    pass


NOT_OURS = "the cursor is not one this API returned"


def encode(*parts) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def decode(cursor: str, size: int) -> list:
    """The ``size`` parts of ``cursor``; the caller checks their types and ranges."""
    try:
        parts = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:                      # bad base64, bad JSON, characters beyond ASCII
        raise CursorError(NOT_OURS) from None
    if not isinstance(parts, list) or len(parts) != size:
        raise CursorError(NOT_OURS)
    return parts
