"""Who is signed in to the console, and for how long.

Signing in takes a tenant API key or the operator key, checked exactly as the API checks
them (``Tenants.resolve``, the operator key compared in constant time). The browser gets a
signed, HttpOnly, SameSite=Strict cookie (Secure over HTTPS) holding a random session id and
the CSRF token; the session itself (tenant, which key, when it ends) is kept in Redis for
:data:`LIFETIME`, so signing out ends it on the server, not only in that browser. The clear
key is never stored: the session keeps its SHA-256, and every request resolves that again
(``Tenants.resolve_digest``, the API's own lookup and cache), so a revoked key ends its
console sessions within the same 5 seconds as its API use.

The cookie's signing secret is shared by every worker and host through Redis (created once,
at random), so no setting is needed and any worker can read any session.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import orjson
from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface

from store.tenants import key_digest
from webhook.errors import STORE_UNAVAILABLE
from webhook.services import services

LIFETIME = timedelta(hours=8)
PREFIX = "/console"


@dataclass(frozen=True)
class User:
    role: str                 # "tenant" or "operator"
    tenant: str | None
    key_id: str | None

    @property
    def actor(self) -> str:
        """Who did it, spelled as the API spells it (audit entries, labels)."""
        return "operator" if self.role == "operator" else f"key:{self.key_id}"


def _session_key(sid: str) -> str:
    return services().store.keys.console_session(sid)


def _secret_key() -> str:
    return services().store.keys.console_secret()


def _operator_digest() -> str | None:
    configured = services().settings.operator_key
    if configured is None:
        return None
    return hashlib.sha256(configured.get_secret_value().encode()).hexdigest()


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened for console pages only (the API never reads
    a cookie), with the signing secret from Redis."""

    def open_session(self, app: Flask, req):
        if not req.path.startswith(PREFIX):
            return None
        if not app.secret_key:
            try:
                r = services().store.r
                r.set(_secret_key(), secrets.token_hex(32), nx=True)
                app.secret_key = r.get(_secret_key()).decode()
            except STORE_UNAVAILABLE:
                return None               # signed out until the store is back; pages say why
        return super().open_session(app, req)

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def install(app: Flask) -> None:
    app.session_interface = ConsoleSessions()


def sign_in(key: str) -> User | None:
    """Start a session for ``key`` (a tenant API key or the operator key); None if it is neither."""
    key = key.strip()
    if not key:
        return None
    store = services().store
    record: dict
    found = store.tenants.resolve(key)
    if found is not None:
        user = User("tenant", found.tenant, found.key_id)
        record = {"role": "tenant", "tenant": found.tenant, "key_id": found.key_id, "digest": key_digest(key)}
    else:
        operator = _operator_digest()
        if operator is None or not hmac.compare_digest(key_digest(key), operator):
            return None
        user = User("operator", None, None)
        record = {"role": "operator", "digest": operator}
    sid = secrets.token_urlsafe(32)
    store.r.set(_session_key(sid), orjson.dumps(record), ex=int(LIFETIME.total_seconds()))
    session.clear()                                  # a new CSRF token too: no fixation
    session["sid"] = sid
    session.permanent = True
    return user


def sign_out() -> None:
    sid = session.get("sid")
    if sid:
        services().store.r.delete(_session_key(sid))
    session.clear()


def current() -> User | None:
    """The signed-in user of this request, checked against the store; None if signed out,
    expired, or the key was revoked since."""
    if "user" in g:
        return g.user
    g.user = None
    sid = session.get("sid") if session else None
    if not isinstance(sid, str):
        return None
    store = services().store
    raw = store.r.get(_session_key(sid))
    if raw is None:
        session.clear()
        return None
    rec = orjson.loads(raw)
    if rec["role"] == "tenant":
        found = store.tenants.resolve_digest(rec["digest"])
        if found is None or found.tenant != rec["tenant"]:
            store.r.delete(_session_key(sid))
            session.clear()
            return None
        g.user = User("tenant", found.tenant, found.key_id)
    elif rec["role"] == "operator" and rec["digest"] == _operator_digest():
        g.user = User("operator", None, None)
    else:
        return None
    return g.user
