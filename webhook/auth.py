"""Who is calling: tenant API keys for sender/analyst routes, the operator key for platform ones.

Used as blueprint ``before_request`` hooks, so a route cannot be added to an authenticated
blueprint and forget to check.
"""
from __future__ import annotations

import hmac

from flask import g, request

from webhook import ratelimit
from webhook.errors import ApiError
from webhook.ratelimit import Limited
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


def client_address() -> str:
    """The client's address as the limits count it (REBOUND_PROXY_HOPS: the proxy's view)."""
    return request.remote_addr or "unknown"


def _limited(call, *args) -> None:
    try:
        call(*args)
    except Limited as exc:
        raise exc.api_error() from None


def require_tenant() -> None:
    svc = services()
    ip = (ratelimit.AUTH_IP, client_address())
    _limited(svc.limits.check_auth, ip)
    key = svc.store.tenants.resolve(bearer_token())
    if key is None:
        svc.limits.failed(ip)
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers=_CHALLENGE)
    g.tenant = key.tenant
    g.actor = f"key:{key.key_id}"
    _limited(svc.limits.hit, ROUTE_CLASSES.get(request.endpoint, ratelimit.OTHER), key.tenant)


def require_operator() -> None:
    svc = services()
    configured = svc.settings.operator_key
    if configured is None:
        raise ApiError(403, "forbidden", "platform routes are disabled: no REBOUND_OPERATOR_KEY is configured")
    ip = (ratelimit.AUTH_IP, client_address())
    _limited(svc.limits.check_auth, ip)
    token = bearer_token()
    if not hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
        svc.limits.failed(ip)
        raise ApiError(401, "unauthorized", "wrong operator key", headers=_CHALLENGE)
    g.actor = "operator"


#: endpoint -> the route class whose rate it counts against (others: OTHER)
ROUTE_CLASSES = {
    "recipients.get_recipient": ratelimit.LOOKUP, "recipients.check_recipients": ratelimit.LOOKUP,
    "events.post_events": ratelimit.INGEST, "inbound.post_inbound": ratelimit.INGEST,
}
