"""A tenant's ESP webhook credentials over the API (the same as `rebound providers`).

Secrets go in, never out: answers show secret values as "***".
"""
from __future__ import annotations

from flask import g
from pydantic import BaseModel, Field

from store import CredentialsError
from webhook.api.schemas import ErrorOut, _Strict
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.provider_config import configure, describe, provider_class
from webhook.services import services

bp = blueprint("providers", "providers", "Credentials the ESP webhooks of this tenant are verified with")


class ProviderPath(BaseModel):
    provider: str = Field(max_length=32)


class ProviderIn(_Strict):
    credentials: dict[str, str | None] = Field(
        min_length=1, description="name -> value; null or \"\" removes a name. Names per provider: see the README")
    grace_hours: float | None = Field(
        None, ge=0, le=24 * 90, description="how long changed values stay valid (default REBOUND_ROTATION_GRACE_HOURS)")


class ProviderOut(BaseModel):
    provider: str
    webhook_path: str
    credentials: dict[str, str]
    previous_valid_until: dict[str, str]
    updated: str | None
    setup: str


class ProvidersOut(BaseModel):
    providers: list[ProviderOut]


class DeletedOut(BaseModel):
    provider: str
    deleted: bool


def _cls(name: str):
    try:
        return provider_class(name)
    except CredentialsError as exc:
        raise ApiError(404, "unknown_provider", str(exc)) from None


@bp.get("/providers", responses={200: ProvidersOut, 401: ErrorOut})
def list_providers():
    """Every provider this tenant has credentials for."""
    found = services().store.credentials.all(g.tenant)
    return {"providers": [describe(c) for c in found.values()]}


@bp.get("/providers/<provider>", responses={200: ProviderOut, 401: ErrorOut, 404: ErrorOut})
def get_provider(path: ProviderPath):
    cls = _cls(path.provider)
    creds = services().store.credentials.get(g.tenant, cls.name)
    if creds is None:
        raise ApiError(404, "not_configured", f"no {cls.name} credentials are set")
    return describe(creds)


@bp.put("/providers/<provider>", responses={200: ProviderOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def put_provider(path: ProviderPath, body: ProviderIn):
    """Set or rotate credentials; a changed value keeps the previous one valid for the grace period."""
    cls = _cls(path.provider)
    svc = services()
    hours = svc.settings.rotation_grace_hours if body.grace_hours is None else body.grace_hours
    try:
        return configure(svc.store, g.tenant, cls.name, body.credentials, int(hours * 3600))
    except CredentialsError as exc:
        raise ApiError(400, "invalid_credentials", str(exc)) from None


@bp.delete("/providers/<provider>", responses={200: DeletedOut, 401: ErrorOut, 404: ErrorOut})
def delete_provider(path: ProviderPath):
    """Remove the credentials at once: the provider's webhooks are refused from now on."""
    cls = _cls(path.provider)
    if not services().store.credentials.delete(g.tenant, cls.name):
        raise ApiError(404, "not_configured", f"no {cls.name} credentials are set")
    return {"provider": cls.name, "deleted": True}
