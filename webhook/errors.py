"""One JSON error shape for every failure, and the mapping from exceptions to status codes.

``{"error": "<stable code>", "message": "<what is wrong, for a person>", "details": [...]}``
A client can branch on ``error`` and show ``message``; nothing here ever answers 500 for
something the client did, and Redis trouble is a 503 with Retry-After, because the client
can safely retry (ingest is idempotent).
"""
from __future__ import annotations

import logging
import re

import orjson
import redis
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("rebound.http")

RETRY_AFTER_SECONDS = 5

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests",
    503: "unavailable",
}


#: Redis errors that mean "retry later" (the store is down, loading or failing over): a 503.
#: On a Redis Cluster, also: the cluster is down or a slot is not served (a failover in
#: progress), a slot is migrating (TRYAGAIN), redirections that did not settle (MOVED/ASK
#: storms), fewer replicas acknowledged a write than REBOUND_REDIS_MIN_REPLICA_ACKS.
STORE_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                     redis.exceptions.BusyLoadingError, redis.exceptions.ReadOnlyError,
                     redis.exceptions.ClusterError, redis.exceptions.ClusterDownError,
                     redis.exceptions.TryAgainError, redis.exceptions.AskError,
                     redis.exceptions.RedisClusterException, redis.exceptions.SlotNotCoveredError,
                     redis.exceptions.MaxConnectionsError)
#: (error, message) of that 503
STORE_DOWN = ("store_unavailable",
              "the store is unavailable; nothing from this request was acknowledged, retry later")


#: Redis refused a write for want of memory (maxmemory with noeviction, the documented budget)
STORE_FULL = ("store_full",
              "the store has reached its memory budget; nothing from this request was acknowledged, retry later "
              "(the operator has been alerted: rebound_store_full_total)")


def log_store_down(exc: Exception, route: str | None) -> None:
    log.warning("store unavailable", extra={"error": type(exc).__name__, "route": route})


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, details: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.details, self.headers = details, headers or {}


def error_response(status: int, error: str, message: str, details: list | None = None,
                   headers: dict | None = None):
    body = {"error": error, "message": message}
    if details:
        body["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (part[:1].isupper() or part.startswith("list[")):   # union branch names
            out += f".{part}" if out else part
    return out or "(body)"


def pydantic_details(exc: ValidationError, body=None) -> list[dict]:
    """Pydantic's errors, without the echoed input (which may be a whole message body).

    For "one object or a list" bodies pydantic reports both union branches; only the
    branch matching what was sent (object or list) is worth showing.
    """
    errors = exc.errors(include_url=False, include_input=False)
    branch = "list[" if isinstance(body, list) else None
    if any(isinstance(e["loc"][0], str) and e["loc"][0].startswith("list[") for e in errors if e["loc"]):
        errors = [e for e in errors if not e["loc"] or not isinstance(e["loc"][0], str)
                  or e["loc"][0].startswith("list[") == (branch is not None)] or errors
    return [{"field": _field(e["loc"]), "problem": e["msg"].removeprefix("Value error, ")} for e in errors]


#: pydantic's wording, in the terms of someone writing JSON (the class names are ours, not theirs)
_PLAIN = ((re.compile(r"^Input should be a valid dictionary or instance of \w+$"), "should be a JSON object"),
          (re.compile(r"^Input should be a valid dictionary$"), "should be a JSON object"),
          (re.compile(r"^Input should be a valid list$"), "should be a JSON list"),
          (re.compile(r"^Field required$"), "is required"),
          (re.compile(r"^Extra inputs are not permitted$"), "is not a known field"))
_JSON_KINDS = {type(None): "null", str: "a string", bool: "true or false", int: "a number", float: "a number",
               list: "a list", dict: "an object"}
_NOTHING = object()


def _plain(problem: str) -> str:
    for pattern, words in _PLAIN:
        if pattern.match(problem):
            return words
    return problem


def _body_shape(exc: ValidationError, body) -> str | None:
    """The message when the body as a whole is not what the route takes (missing, or JSON of
    another kind than an object), naming what it takes; None for errors inside the body."""
    if any(e["loc"] and _field(e["loc"]) != "(body)" for e in exc.errors(include_url=False)):
        return None
    from webhook.api import schemas

    model = getattr(schemas, exc.title, None)
    fields = getattr(model, "model_fields", {})
    required = [name for name, f in fields.items() if f.is_required()] if "root" not in fields else []
    takes = "a JSON object, or a list of them" if "root" in fields else "a JSON object"
    if required:
        takes += " with " + " and ".join(required)
    if body is _NOTHING:
        if len(required) == 1:
            return f"{required[0]} is required: the body must be {takes}"
        return f"the body is empty: send {takes}"
    return f"the body must be {takes}, not {_JSON_KINDS.get(type(body), 'that')}"


def validation_failed(exc: ValidationError):
    """flask-openapi3's hook for request models that did not validate: one 400 that says
    what is wrong in the terms of the JSON that was sent (valid JSON of the wrong shape is not
    "invalid JSON"; an empty body says what the route needs)."""
    data = request.get_data(cache=True)
    if request.mimetype != "application/json" and data:
        return error_response(415, "unsupported_media_type", "send the body as application/json")
    body = _NOTHING
    if data.strip():
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            return error_response(400, "invalid_json", "the body is not valid JSON")
    details = [dict(d, problem=_plain(d["problem"])) for d in pydantic_details(exc, None if body is _NOTHING else body)]
    message = _body_shape(exc, body) if body is _NOTHING or not isinstance(body, dict) else None
    if message is None:
        first = details[0] if details else {"field": "", "problem": "invalid"}
        joint = " " if first["problem"].startswith("is ") else ": "
        message = first["field"] + joint + first["problem"]
    return error_response(400, "invalid_request", message, details)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.error, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        message = exc.description or exc.name
        if code == 413:
            message = f"the body is larger than the {app.config['MAX_CONTENT_LENGTH']} bytes accepted"
        return error_response(code, _HTTP_CODES.get(code, "error"), message)

    def _store_down(exc: Exception):
        route = request.url_rule.rule if request.url_rule else None
        log_store_down(exc, route)
        return error_response(503, *STORE_DOWN, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for exc_class in STORE_UNAVAILABLE:
        app.register_error_handler(exc_class, _store_down)

    @app.errorhandler(redis.exceptions.OutOfMemoryError)
    def _store_full(exc: Exception):
        from webhook import metrics

        route = request.url_rule.rule if request.url_rule else None
        metrics.STORE_FULL.labels(metrics.route(request.url_rule)).inc()
        log.error("store full: Redis refused a write (maxmemory)", extra={"route": route})
        return error_response(503, *STORE_FULL, headers={"Retry-After": str(RETRY_AFTER_SECONDS * 6)})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an internal error occurred; it has been logged")
