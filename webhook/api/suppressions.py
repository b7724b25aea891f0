"""Manual suppression and unsuppression by a tenant; unsuppressions are audited."""
from __future__ import annotations

from flask import g

from classifier.address import AddressError, normalise
from store import NotSuppressed
from webhook.api.schemas import AddressPath, ErrorOut, SuppressIn, SuppressOut, UnsuppressIn
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("suppressions", "suppressions", "Suppress or unsuppress an address by hand")


def _address(raw: str) -> str:
    try:
        return normalise(raw)
    except AddressError as exc:
        raise ApiError(400, "invalid_address", str(exc)) from None


@bp.put("/suppressions/<address>", responses={200: SuppressOut, 400: ErrorOut, 401: ErrorOut})
def put_suppression(path: AddressPath, body: SuppressIn):
    """Suppress an address (default code ``manual``), with an optional note and end."""
    address = _address(path.address)
    try:
        effects = services().store.suppressions.suppress(
            g.tenant, address, actor=g.actor, note=body.note, code=body.code,
            subscription=body.subscription.lower() if body.subscription else None,
            until=int(body.until.timestamp()) if body.until else None)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    return {"address": address, "added": [fx[1:] for fx in effects or [] if fx[0] == "+"]}


@bp.delete("/suppressions/<address>", responses={200: SuppressOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def delete_suppression(path: AddressPath, body: UnsuppressIn):
    """Lift the tenant's suppressions of an address; the note is required and audited."""
    address = _address(path.address)
    store = services().store
    try:
        lifted = store.suppressions.unsuppress(g.tenant, address, actor=g.actor, note=body.note,
                                               policy=store.policy(g.tenant), codes=body.codes)
    except NotSuppressed:
        raise ApiError(404, "not_suppressed", f"{address} has nothing this tenant can lift") from None
    return {"address": address, "lifted": lifted}
