"""Signing in and out."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from webhook import ratelimit
from webhook.auth import client_address
from webhook.console import bp
from webhook.console import session as console_session
from webhook.ratelimit import Limited
from webhook.services import services


def _home(user) -> str:
    return url_for("console.operator") if user.role == "operator" else url_for("console.overview")


def _safe_next(target: str | None) -> str | None:
    """Only a path of this console: never another site (an open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.get("/")
def index():
    user = console_session.current()
    return redirect(_home(user) if user else url_for("console.sign_in"))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    error, status = None, 200
    if request.method == "POST":
        limits = services().limits
        ip = (ratelimit.AUTH_IP, client_address())     # failed sign-ins count as the API's 401s do
        try:
            limits.check_auth(ip)
        except Limited as exc:
            error, status = f"Too many failed sign-ins from your address; try again in {exc.retry_after} s.", 429
        else:
            user = console_session.sign_in(request.form.get("key", ""))
            if user is not None:
                return redirect(_safe_next(request.form.get("next")) or _home(user))
            limits.failed(ip)
            error, status = "Unknown or revoked key. Use a tenant API key (rbk_...) or the operator key.", 401
    return render_template("console/sign_in.html", error=error,
                           next=_safe_next(request.values.get("next")) or ""), status


@bp.post("/sign-out")
def sign_out():
    console_session.sign_out()
    return redirect(url_for("console.sign_in", signed_out=1))
