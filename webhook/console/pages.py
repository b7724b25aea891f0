"""What every console page shares: who may see it, the security headers, error pages."""
from __future__ import annotations

import functools
import time

from flask import g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webhook.console import CSP, bp, csrf
from webhook.console import session as console_session
from webhook.errors import STORE_UNAVAILABLE, ApiError, log_store_down


@bp.before_request
def _check():
    if request.method == "POST":
        csrf.protect()                              # every console form, before anything else
    user = console_session.current()
    if user is not None and user.role == "tenant":
        g.tenant, g.actor = user.tenant, user.actor     # as webhook.auth.require_tenant sets them
    elif user is not None:
        g.actor = user.actor


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _here() -> str | None:
    """Where to come back to after signing in (GET pages only)."""
    return request.full_path.rstrip("?") if request.method == "GET" else None


def _page_for(role: str | None, refusal: str = ""):
    """A decorator for pages of ``role`` (None: anyone signed in); signed-out visitors go to
    the sign-in page and come back, the wrong kind of key gets a 403 that says which."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = console_session.current()
            if user is None:
                return redirect(url_for("console.sign_in", next=_here()))
            if role is not None and user.role != role:
                return error_page(403, refusal)
            return view(*args, **kwargs)
        return wrapped
    return decorator


#: A page of the signed-in tenant.
tenant_page = _page_for("tenant", "This page belongs to a tenant: sign in with a tenant API key.")
#: The operator's pages.
operator_page = _page_for("operator", "This page is the operator's: sign in with the operator key.")
#: A page for a tenant or the operator (models: the registry is the service's).
signed_in_page = _page_for(None)


def error_page(status: int, message: str, details: list | None = None):
    return render_template("console/error.html", status=status, message=message, details=details or []), status


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError):
    return error_page(400, "This form was refused: it did not carry this console's security token "
                           "(it expired, or it was not sent from a page of this console). Reload the page "
                           "and try again.")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_page(exc.status, exc.message, exc.details)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return error_page(exc.code or 500, exc.description or exc.name)


def _store_down(exc: Exception):
    log_store_down(exc, request.url_rule.rule if request.url_rule else None)
    return error_page(503, "The store is unavailable right now; nothing was changed. Try again in a few seconds.")


for _exc in STORE_UNAVAILABLE:
    bp.register_error_handler(_exc, _store_down)


@bp.context_processor
def _context():
    return {"current_user": console_session.current}


@bp.app_template_filter("when")
def _when(value) -> str:
    """Epoch seconds or ISO 8601 as a short UTC time for people."""
    if value in (None, ""):
        return "—"
    if isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))
    return str(value).replace("T", " ").replace("Z", " UTC").replace("+00:00", " UTC")


@bp.app_template_filter("pct")
def _pct(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"
