"""The analysts' console: server-rendered pages under ``/console`` for the review queue,
labels, models, suppressions and sender health, served by the same Flask app as the API.

Everything a page shows or changes goes through the same store calls as the API, scoped to
the tenant of the signed-in session (``webhook.console.session``): there is no second way of
deciding who may see what. Forms carry a CSRF token (Flask-WTF, checked on every POST of
this blueprint only: API clients send bearer keys, not cookies, and have nothing to forge);
answers carry a Content-Security-Policy that allows nothing but this origin, so the pages
run only the script and style files vendored in ``static/`` and work with no internet.
"""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
csrf = CSRFProtect()

#: Only this origin: no inline script or style, no frames, forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    """Register the console on the app (called by the app factory)."""
    from webhook.console import session

    # CSRF is checked by the console's own before_request hook, not on every POST of the
    # app (the API's POSTs are authenticated by bearer keys, which a browser never adds)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)        # bound by the session's own expiry
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_NAME="rebound_console", SESSION_COOKIE_PATH="/console",
                      PERMANENT_SESSION_LIFETIME=session.LIFETIME)
    csrf.init_app(app)
    session.install(app)
    from webhook.console import views  # noqa: F401  (routes attach themselves to bp)

    app.register_blueprint(bp)
