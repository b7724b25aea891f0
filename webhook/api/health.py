"""Liveness, readiness, metrics and the API description: no authentication."""
from __future__ import annotations

from flask import Response, current_app
from flask_openapi3 import APIBlueprint

from webhook import metrics
from webhook.services import services

bp = APIBlueprint("health", __name__)


@bp.get("/healthz", doc_ui=False)
def healthz():
    """The process is up (says nothing about Redis)."""
    return {"status": "ok"}


@bp.get("/readyz", doc_ui=False)
def readyz():
    """Ready to take traffic: Redis answers. Load balancers stop sending when this fails.
    Also says which model this worker uses and which activation failed, if one did (the
    worker then keeps its last good model)."""
    services().store.ping()
    return {"status": "ready", "model": services().classifier.model_status()}


@bp.get("/metrics", doc_ui=False)
def prometheus():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json", doc_ui=False)
def openapi():
    return current_app.api_doc
