"""A tenant's policy: read it, replace its overrides, or patch them (RFC 7396 merge patch)."""
from __future__ import annotations

from flask import g
from pydantic import ValidationError

from store.policy import DEFAULTS
from webhook.api.schemas import ErrorOut, PolicyDoc, PolicyOut
from webhook.api.tenant import blueprint
from webhook.errors import ApiError, pydantic_details
from webhook.services import services

bp = blueprint("policy", "policy", "How events turn into suppressions, per tenant")


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7396: objects merge, null removes, anything else replaces."""
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = merge_patch(out[k] if isinstance(out.get(k), dict) else {}, v)
        else:
            out[k] = v
    return out


def _out(tenant: str) -> dict:
    store = services().store
    return {"policy": store.policy(tenant).model_dump(mode="json"), "overrides": store.policy_overrides(tenant)}


def _store(tenant: str, overrides: dict) -> dict:
    try:
        services().store.set_policy_overrides(tenant, overrides)
    except ValidationError as exc:
        details = pydantic_details(exc)
        first = details[0] if details else {"field": "", "problem": "invalid"}
        raise ApiError(400, "invalid_policy", f"{first['field']}: {first['problem']}", details) from None
    return _out(tenant)


@bp.get("/policy", responses={200: PolicyOut, 401: ErrorOut})
def get_policy():
    """The effective policy (defaults plus this tenant's overrides) and the overrides alone."""
    return _out(g.tenant)


@bp.put("/policy", responses={200: PolicyOut, 400: ErrorOut, 401: ErrorOut})
def put_policy(body: PolicyDoc):
    """Replace the overrides (``{}``: back to the defaults). Here ``null`` is a value, e.g.
    ``"for_days": null`` for a suppression that never expires."""
    return _store(g.tenant, body.root)


@bp.patch("/policy", responses={200: PolicyOut, 400: ErrorOut, 401: ErrorOut})
def patch_policy(body: PolicyDoc):
    """Merge into the overrides (RFC 7396): ``null`` removes an override, restoring the default."""
    return _store(g.tenant, merge_patch(services().store.policy_overrides(g.tenant), body.root))


@bp.get("/policy/defaults", responses={200: None, 401: ErrorOut})
def get_defaults():
    """The defaults every tenant starts from (store/policy_defaults.json)."""
    return DEFAULTS
