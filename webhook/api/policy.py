"""A tenant's policy: read it, replace its overrides, or patch them (RFC 7396 merge patch)."""
from __future__ import annotations

from flask import g
from pydantic import ValidationError

from store import PolicyConflict, SharingNotAllowed
from store.policy import DEFAULTS, merge_patch
from webhook.api.schemas import ErrorOut, PolicyDoc, PolicyOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError, pydantic_details
from webhook.services import services

bp = blueprint("policy", "policy", "How events turn into suppressions, per tenant")


def _out(tenant: str) -> dict:
    store = services().store
    return {"policy": store.policy(tenant).model_dump(mode="json"), "overrides": store.policy_overrides(tenant)}


def _store(tenant: str, change) -> dict:
    try:
        services().store.update_policy_overrides(tenant, change)
    except ValidationError as exc:
        details = pydantic_details(exc)
        first = details[0] if details else {"field": "", "problem": "invalid"}
        raise ApiError(400, "invalid_policy", f"{first['field']}: {first['problem']}", details) from None
    except PolicyConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except SharingNotAllowed as exc:
        raise ApiError(403, "sharing_not_allowed", str(exc)) from None
    return _out(tenant)


@bp.get("/policy", responses={200: PolicyOut, 401: ErrorOut})
def get_policy():
    """The effective policy (defaults plus this tenant's overrides) and the overrides alone."""
    return _out(g.tenant)


@bp.put("/policy", responses={200: PolicyOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def put_policy(body: PolicyDoc):
    """Replace the overrides (``{}``: back to the defaults). Here ``null`` is a value, e.g.
    ``"for_days": null`` for a suppression that never expires."""
    return _store(g.tenant, lambda _current: body.root)


@bp.patch("/policy", responses={200: PolicyOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def patch_policy(body: PolicyDoc):
    """Merge into the overrides (RFC 7396): ``null`` removes an override, restoring the default."""
    return _store(g.tenant, lambda current: merge_patch(current, body.root))


@bp.get("/policy/defaults", responses={200: None, 401: ErrorOut})
def get_defaults():
    """The defaults every tenant starts from (store/policy_defaults.json)."""
    return DEFAULTS
