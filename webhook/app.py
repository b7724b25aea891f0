"""The application factory (as in Flask's tutorial): settings in, configured app out."""
from __future__ import annotations

import logging
import time

import orjson
from flask import g, request
from flask.json.provider import DefaultJSONProvider
from flask_openapi3 import Info, OpenAPI

from webhook import errors, logs, metrics
from webhook.services import Services
from webhook.settings import Settings

log = logging.getLogger("rebound.http")

SECURITY_SCHEMES = {
    "tenant_key": {"type": "http", "scheme": "bearer", "description": "a tenant API key (`rebound tenants create`)"},
    "operator_key": {"type": "http", "scheme": "bearer", "description": "REBOUND_OPERATOR_KEY"},
}


class _JSONProvider(DefaultJSONProvider):
    """Request bodies parsed by orjson: a 10,000-address check or an ESP batch is parsed in a
    fraction of the stdlib's time. It refuses what the stdlib lets through and nothing
    downstream could use (integers beyond 64 bits, lone surrogates): a 400, like any bad JSON."""

    def loads(self, s, **kwargs):
        return orjson.loads(s)


#: answers any API operation may give whatever its own code does (the rate limits and the
#: failed-authentication limit, a store that is down or full, a body over the size limit),
#: with when each applies: (status, description, applies(path, operation), Retry-After?)
COMMON_ANSWERS = (
    (401, "no key, or a wrong one", lambda path, op: bool(op.get("security")), False),
    (413, "the body is over REBOUND_MAX_BODY_BYTES (or a bound named in the message)",
     lambda path, op: "requestBody" in op, False),
    (429, "over a rate limit, or too many failed authentications from this address",
     lambda path, op: path.startswith("/v1/"), True),
    (503, "the store is unavailable or full: retry after the given seconds",
     lambda path, op: path.startswith("/v1/"), True),
)


class _OpenAPI(OpenAPI):
    """flask-openapi3, with a document a client generator can trust: every 4xx/5xx answer is
    the one JSON error body :mod:`webhook.errors` sends (``ErrorOut``), including the 400 the
    library adds to each operation (it would declare a list of its own validation model), and
    the answers that come from the limits and the store rather than from the operation
    (``COMMON_ANSWERS``): a client that knows only the documented statuses would otherwise
    treat a 429 or a 503, which say "retry later", as unexpected failures."""

    def generate_spec_json(self):
        super().generate_spec_json()
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        retry_after = {"Retry-After": {"description": "seconds to wait before retrying",
                                       "schema": {"type": "integer", "minimum": 0}}}
        for path, item in self.spec_json["paths"].items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, description, applies, retry in COMMON_ANSWERS:
                    if applies(path, operation) and str(status) not in responses:
                        responses[str(status)] = {"description": description,
                                                  **({"headers": retry_after} if retry else {})}
                for status, response in responses.items():
                    if int(status) >= 400:
                        response.update(error)


def create_app(settings: Settings | None = None) -> OpenAPI:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    from webhook.api.schemas import ErrorOut

    app = _OpenAPI(
        __name__,
        info=Info(title="Rebound", version="1", description="May this email be sent, and if not, why?"),
        security_schemes=SECURITY_SCHEMES,
        doc_prefix="/docs",
        validation_error_status=400,
        validation_error_model=ErrorOut,
        validation_error_callback=errors.validation_failed,
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = _JSONProvider(app)
    app.json.sort_keys = False
    app.extensions["rebound"] = Services.build(settings)
    errors.register(app)
    _observe(app)
    from webhook import replication      # no 2xx for a change before its replicas have it (cluster)
    replication.register(app)

    from webhook.api import (classify, events, health, inbound, intake, lists, platform, policy, providers, raw,
                             recipients, review, senders, suppressions, webhooks)
    for bp in (health.bp, events.bp, inbound.bp, recipients.bp, suppressions.bp, webhooks.bp, providers.bp,
               policy.bp, lists.bp, senders.bp, platform.bp, classify.bp, review.bp, raw.bp, intake.bp):
        app.register_api(bp)

    from webhook import console          # the analysts' console under /console (HTML, same store calls)
    console.init_app(app)

    from webhook.fastpath import FastLookup
    from webhook.guard import BodyGuard

    app.wsgi_app = FastLookup(app.wsgi_app, app.extensions["rebound"])
    app.wsgi_app = RedisBudget(app.wsgi_app, settings.redis_timeout)
    app.wsgi_app = BodyGuard(app.wsgi_app, settings.max_body_bytes, settings.body_timeout,
                             on_refused=lambda status, error: metrics.REFUSED_EARLY.labels(str(status), error).inc())
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)
    return app


class RedisBudget:
    """WSGI middleware: the Redis calls of one request share REBOUND_REDIS_TIMEOUT
    (store.deadline), so a frozen Redis costs a request that long, not that long per call
    and attempt. A streamed answer (the CSV export) reads on after this returns, with the
    per-call timeout."""

    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        from store.deadline import budget

        with budget(self.seconds):
            return self.app(environ, start_response)


def _observe(app: OpenAPI) -> None:
    """Request metrics and one access-log line per request, by route (never by raw path,
    which can contain an address)."""

    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _done(response):
        route = metrics.route(request.url_rule)
        method = metrics.method(request.method)
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        # the server's own time, for clients and benchmarks (W3C Server-Timing)
        response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.2f}"
        metrics.HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(route).observe(elapsed)
        if route not in ("/healthz", "/readyz", "/metrics"):
            log.info("request", extra={"method": method, "route": route, "status": response.status_code,
                                       "ms": round(elapsed * 1000, 2), "tenant": g.get("tenant")})
        return response
