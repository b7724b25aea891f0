"""Liveness, readiness, metrics and the API description: no authentication."""
from __future__ import annotations

from flask import Response, current_app
from flask_openapi3 import APIBlueprint

from webhook import metrics
from webhook.api.schemas import ErrorOut, HealthOut, ReadyOut
from webhook.auth import require_operator
from webhook.services import services

bp = APIBlueprint("health", __name__)
TEXT = {"description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}}}


@bp.get("/healthz", responses={200: HealthOut})
def healthz():
    """The process is up (says nothing about Redis)."""
    return {"status": "ok"}


@bp.get("/readyz", responses={200: ReadyOut, 503: ErrorOut})
def readyz():
    """Ready to take traffic: Redis answers (on a cluster: its state is ok). Load balancers
    stop sending when this fails. Also says which Redis topology this worker uses, and which
    model it uses and which activation failed, if one did (the worker then keeps its last
    good model)."""
    from store.client import storage

    layer = storage(services().store.r)
    layer.ready()
    return {"status": "ready", "redis": layer.describe(), "model": services().classifier.model_status()}


@bp.get("/metrics", responses={"200": TEXT, 401: ErrorOut, 403: ErrorOut})
def prometheus():
    """Prometheus metrics; behind the operator key unless REBOUND_METRICS_PUBLIC (the
    counters tell which tenants are busy and which limits are being hit)."""
    if not services().settings.metrics_public:
        require_operator()
    body, content_type = metrics.exposition()
    return Response(body + metrics.store_memory(services().store.r), content_type=content_type)


@bp.get("/openapi.json", doc_ui=False)
def openapi():
    return current_app.api_doc
