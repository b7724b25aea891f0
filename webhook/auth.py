"""Who is calling: tenant API keys for sender/analyst routes, the operator key for platform ones.

Used as blueprint ``before_request`` hooks, so a route cannot be added to an authenticated
blueprint and forget to check.
"""
from __future__ import annotations

import hmac

from flask import g, request

from webhook.errors import ApiError
from webhook.services import services

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rebound"'}


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "missing Authorization: Bearer <api key>", headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <api key>'",
                       headers=_CHALLENGE)
    return token.strip()


def require_tenant() -> None:
    key = services().store.tenants.resolve(bearer_token())
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers=_CHALLENGE)
    g.tenant = key.tenant
    g.actor = f"key:{key.key_id}"


def require_operator() -> None:
    configured = services().settings.operator_key
    if configured is None:
        raise ApiError(403, "forbidden", "platform routes are disabled: no REBOUND_OPERATOR_KEY is configured")
    token = bearer_token()
    if not hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", "wrong operator key", headers=_CHALLENGE)
    g.actor = "operator"
