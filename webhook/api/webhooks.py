"""POST /v1/webhooks/<provider>/<tenant>: every ESP's events, authenticated the way that ESP
does it, with the tenant's credentials for it.

The order of checks is the contract:

1. unknown provider: 404 (the list of providers is public);
2. wrong content type: 415;
3. the tenant's credentials for the provider: an unknown tenant, a tenant without this
   provider configured and a bad signature all get the same 401 and the same words, so
   nobody can probe which tenants exist or what they use (the precise reason is logged
   and counted in ``rebound_webhook_rejected_total``);
4. the provider's own verification (signature, timestamp freshness, single-use token);
   nothing is written to the store before it succeeds;
5. parsing: bad JSON or an unexpected shape 400, more events than the ESP ever sends at
   once 413; unknown event types are acknowledged and counted, not refused;
6. one ingest stream for the whole request (``webhook.pipeline.IngestStream``: one round
   trip; a large batch starts being stored while its tail is parsed, once its size is
   known to be acceptable); 200 only once everything is stored.

Requests that can never succeed are marked permanent, and providers with a "stop retrying"
status (Mailgun: 406) get that instead. A store outage is a 503 with Retry-After (the
ESP's retry will succeed), and a single-use token admitted for a request that was then not
stored is forgotten, so that retry is not taken for a replay (and should forgetting fail
too, the token stays claimed by that very request, whose retry is let in).
"""
from __future__ import annotations

import hmac
import logging
import time
from datetime import UTC, datetime

import redis
from flask import g, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from store import CredentialsUnreadable
from store.tenants import TENANT_ID
from webhook import metrics, ratelimit
from webhook.api.schemas import ErrorOut
from webhook.auth import client_address
from webhook.errors import ApiError, error_response
from webhook.esp import PROVIDERS
from webhook.esp.base import (
    MALFORMED,
    Context,
    Parsed,
    Rejected,
    WebhookRequest,
    bad_payload,
)
from webhook.pipeline import IngestStream
from webhook.ratelimit import Limited
from webhook.services import services

log = logging.getLogger("rebound.webhooks")

bp = APIBlueprint("webhooks", __name__, url_prefix="/v1/webhooks",
                  abp_tags=[Tag(name="webhooks", description="ESP webhooks (authenticated as each ESP does)")])


class WebhookPath(BaseModel):
    provider: str = Field(description="sendgrid, mailgun, ses, postmark, sparkpost, mandrill, mailjet, brevo, resend, "
                                      "mailersend, postal, mailtrap, scaleway, unisender-go")
    tenant: str = Field(max_length=128)


class WebhookOut(BaseModel):
    accepted: int = Field(description="events applied now")
    duplicates: int = Field(description="events applied before (the ESP retried or duplicated them)")
    ignored: int = Field(description="authenticated events of types that carry nothing for us, counted")
    raw_kept: bool | None = Field(None, description="false when the request's body was not kept for "
                                                    "reclassification: the tenant's raw payload quota is spent "
                                                    "(the events are stored)")


def _provider(name: str):
    cls = PROVIDERS.get(name)
    if cls is None:
        raise ApiError(404, "unknown_provider", f"no webhook provider {name!r}; known: {', '.join(PROVIDERS)}")
    return cls


@bp.post("/<provider>/<tenant>", responses={200: WebhookOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                             404: ErrorOut, 406: ErrorOut, 413: ErrorOut, 415: ErrorOut,
                                             429: ErrorOut, 503: ErrorOut})
def receive(path: WebhookPath):
    """Receive one webhook request from an ESP (see the README for each ESP's setup)."""
    cls = _provider(path.provider)
    req = WebhookRequest("POST", request.get_data(cache=False), request.headers,
                         (request.mimetype or "").lower(), time.time())
    limits = services().limits
    guessed = ((ratelimit.AUTH_IP, client_address()), (ratelimit.AUTH_WEBHOOK, f"{cls.name}:{path.tenant}"))
    try:
        try:
            limits.check_auth(*guessed)
            return _handle(cls, path.tenant, req)
        except Limited as exc:
            raise Rejected(429, "too_many_requests", exc.api_error().message, reason=f"rate_{exc.limit}",
                           headers={"Retry-After": str(exc.retry_after)}) from None
    except Rejected as r:
        if r.status == 401:
            limits.failed(*guessed)
        status = cls.permanent_status if r.permanent and cls.permanent_status else r.status
        metrics.WEBHOOK_REJECTED.labels(cls.name, r.reason).inc()
        if g.get("webhook_configured"):           # the tenant's own connection: shown in its console
            _note_rejection(path.tenant, cls.name, r.reason)
        log.info("webhook refused", extra={"provider": cls.name, "tenant": path.tenant, "reason": r.reason,
                                           "status": status})
        return error_response(status, r.error, r.message, headers=r.headers)


def _note_rejection(tenant: str, provider: str, reason: str) -> None:
    try:
        services().store.esp_activity.rejected(tenant, provider, reason)
    except redis.RedisError:
        pass                                      # a refusal is answered whether or not it is counted


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@bp.post("/<provider>/<tenant>/oauth/token", responses={200: TokenOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def oauth_token(path: WebhookPath):
    """The token URL for an ESP's "OAuth 2.0" webhook option (SendGrid, SparkPost).

    The ESP asks with the client-credentials grant (client_id: anything, e.g. the tenant;
    client_secret: the tenant's ``oauth_token``/``token``, in the form or as basic auth) and
    then sends the token it gets as ``Authorization: Bearer`` on every webhook. The token
    handed out is the configured one, so rotating it works the same as for static bearers.
    """
    cls = _provider(path.provider)
    if cls.oauth_credential is None:
        raise ApiError(404, "not_found", f"{cls.title} webhooks have no OAuth token URL")
    form = request.form
    if form.get("grant_type", "client_credentials") != "client_credentials":
        return error_response(400, "unsupported_grant_type", "only the client_credentials grant is supported")
    secret = form.get("client_secret")
    if secret is None and request.authorization is not None:
        secret = request.authorization.password
    try:
        creds = _credentials(services(), cls, path.tenant) if secret else None
    except Rejected as r:
        return error_response(r.status, r.error, r.message, headers=r.headers)
    tokens = creds.values(cls.oauth_credential) if creds is not None else []
    if not any([hmac.compare_digest(secret.encode(), t.encode()) for t in tokens]):
        metrics.WEBHOOK_REJECTED.labels(cls.name, "oauth_invalid_client").inc()
        return error_response(401, "invalid_client", "unknown client or wrong client secret",
                              headers={"WWW-Authenticate": 'Basic realm="rebound"'})
    return {"access_token": secret, "token_type": "Bearer", "expires_in": 3600}


@bp.route("/<provider>/<tenant>", methods=["GET", "HEAD"])
def head(provider: str, tenant: str):
    """Mandrill checks that a URL exists (HEAD, no authentication) before saving a webhook,
    Unisender Go with a GET when one is switched on."""
    cls = _provider(provider)
    if not (cls.get_check if request.method == "GET" else cls.head_check or cls.get_check):
        raise ApiError(405, "method_not_allowed", f"{provider} webhooks are POSTed")
    return "", 200


def _credentials(svc, cls, tenant: str):
    if not TENANT_ID.match(tenant):
        return None
    try:
        return svc.store.credentials.get(tenant, cls.name)
    except CredentialsUnreadable as exc:
        log.error("webhook credentials unreadable", extra={"provider": cls.name, "tenant": tenant, "why": str(exc)})
        raise Rejected(503, "credentials_unreadable",
                       "the credentials for this webhook cannot be read; the operator has been told",
                       reason="credentials_unreadable", headers={"Retry-After": "60"}) from None


def _handle(cls, tenant: str, req: WebhookRequest):
    svc = services()
    settings = svc.settings
    cls.check_content_type(req)
    creds = _credentials(svc, cls, tenant)
    if creds is None:
        raise cls.unconfigured(req)
    g.webhook_configured = True
    handler = cls(Context(tenant, creds, svc.store.replay, settings.webhook_tolerance_seconds,
                          svc.fetcher.get, getattr(svc, cls.certificates_attr)))
    handler.validate_request(req)
    limit = min(cls.max_batch or settings.max_batch, settings.max_batch)
    stream = None
    try:                                          # from here on, a failure rolls the token back
        svc.limits.hit(ratelimit.INGEST, tenant)
        stream = IngestStream(tenant, raw=req.body)   # reads the policy: Redis may fail already
        out = Parsed(tenant, cls.name, datetime.now(UTC), limit=limit, sink=stream.add)
        try:
            handler.parse_events(req, out)        # large batches start being stored meanwhile
        except MALFORMED as exc:
            if out.flushed:                       # streamed events before it: a bug, not bad input
                raise
            log.warning("webhook payload not understood", extra={"provider": cls.name, "tenant": tenant,
                                                                 "why": type(exc).__name__})
            raise bad_payload(f"the {cls.title} payload does not have the expected shape") from None
        seen = len(out.events) + sum(out.ignored.values())
        if out.sink is None and seen > limit:
            raise Rejected(413, "batch_too_large",
                           f"{seen} events in one request; {cls.title} webhooks carry at most {limit}",
                           permanent=True)
        stream.add(out.events[out.flushed:])
        result = stream.finish(details=False)
        if out.ignored:
            svc.store.ignored.count(tenant, cls.name, out.ignored)
    except BaseException:
        if stream is not None:
            stream.abort()
        try:
            handler.rollback()
        except redis.RedisError:
            pass
        raise
    try:
        handler.stored()
    except redis.RedisError:
        pass                                      # the token stays claimed: only this very request may retry
    try:                                          # for the console: stored already, so never a failure
        svc.store.esp_activity.stored(tenant, cls.name, result.accepted + result.duplicates)
    except redis.RedisError:
        pass
    for event_type, n in out.ignored.items():
        metrics.WEBHOOK_IGNORED.labels(cls.name, metrics.ignored_type(cls.name, event_type[:64])).inc(n)
    kept = {} if result.raw_kept is not False else {"raw_kept": False}     # the tenant's raw quota is spent
    return {"accepted": result.accepted, "duplicates": result.duplicates,
            "ignored": sum(out.ignored.values()), **out.note, **kept}
