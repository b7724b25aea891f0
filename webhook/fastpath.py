"""The one-address question, answered before Flask when the request is an ordinary one.

``GET /v1/recipients/<address>`` is what senders call before every send, at thousands of
requests per second. Through Flask and flask-openapi3 it costs about twice the CPU of the
store's own work (request objects, routing, model validation of two query parameters);
on a two-core machine that decides whether 1,000 requests per second are answered in a
few milliseconds or queue up (bench/lookup_latency.py).

This middleware answers the well-formed case itself, with the same store call, the same
JSON, the same metrics and access log line. A store that is down is answered here too, with
the app's 503 (Retry-After, the same JSON error): handing it on would make the request wait
for the dead store a second time. Anything else (no or unknown key, unknown or invalid
query parameters, an undecodable path, any other exception) is handed to the Flask app
untouched, which stays the one reference implementation: it answers the errors in the
usual JSON shape, and tests compare both paths.
"""
from __future__ import annotations

import logging
import time
from typing import get_args
from urllib.parse import parse_qsl

import orjson

from webhook import errors, metrics, ratelimit
from webhook.api.recipients import lookup
from webhook.api.schemas import MAX_ADDRESS, StreamName

log = logging.getLogger("rebound.http")

PREFIX = "/v1/recipients/"
ROUTE = "/v1/recipients/<address>"
STREAMS = frozenset(get_args(StreamName))
#: longer subscription names go to the route, which normalises and checks them
MAX_SUBSCRIPTION = 64
STATUS_LINES = {200: "200 OK", 429: "429 Too Many Requests", 503: "503 Service Unavailable"}
STORE_DOWN_BODY = orjson.dumps(dict(zip(("error", "message"), errors.STORE_DOWN)))


class FastLookup:
    def __init__(self, app, services):
        self.app = app
        self.services = services

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith(PREFIX):
            return self.app(environ, start_response)
        try:
            body, tenant = self._answer(environ, path)
        except errors.STORE_UNAVAILABLE as exc:
            # answered here: the reference path would only wait for the same dead store again
            errors.log_store_down(exc, ROUTE)
            return self._respond(start_response, started, 503, STORE_DOWN_BODY, None,
                                 [("Retry-After", str(errors.RETRY_AFTER_SECONDS))])
        except ratelimit.Limited as exc:
            limited = exc.api_error()
            return self._respond(start_response, started, 429,
                                 orjson.dumps({"error": limited.error, "message": limited.message}), None,
                                 list(limited.headers.items()))
        except Exception:               # the reference path answers every other error properly
            body = None
        if body is None:
            return self.app(environ, start_response)
        return self._respond(start_response, started, 200, body, tenant)

    @staticmethod
    def _respond(start_response, started: float, status: int, body: bytes, tenant: str | None,
                 headers: list | None = None) -> list[bytes]:
        elapsed = time.perf_counter() - started
        start_response(STATUS_LINES[status], [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Server-Timing", f"app;dur={elapsed * 1000:.2f}"), *(headers or [])])
        metrics.HTTP_REQUESTS.labels("GET", ROUTE, str(status)).inc()
        metrics.HTTP_SECONDS.labels(ROUTE).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={"method": "GET", "route": ROUTE, "status": status,
                                       "ms": round(elapsed * 1000, 2), "tenant": tenant})
        return [body]

    def _answer(self, environ, path: str) -> tuple[bytes | None, str | None]:
        raw = path[len(PREFIX):]
        if not raw or "/" in raw:
            return None, None
        address = raw.encode("latin-1").decode("utf-8")        # WSGI paths are latin-1 decoded bytes
        if len(address) > MAX_ADDRESS:
            return None, None
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, None
        stream = subscription = None
        for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            value = value.strip()
            if name == "stream" and stream is None and value in STREAMS:
                stream = value
            elif name == "subscription" and subscription is None and len(value) <= MAX_SUBSCRIPTION:
                subscription = value or None
            else:
                return None, None                 # unknown, repeated or invalid: Flask says why
        svc = self.services
        ip = (ratelimit.AUTH_IP, environ.get("REMOTE_ADDR") or "unknown")
        svc.limits.check_auth(ip)              # Limited: answered by the app, as over a limit
        key = svc.store.tenants.resolve(token.strip())
        if key is None:
            return None, None
        svc.limits.hit(ratelimit.LOOKUP, key.tenant)
        return lookup(svc.store, key.tenant, address, stream, subscription), key.tenant
