"""POST /v1/classify: what the classifier makes of some evidence, nothing stored."""
from __future__ import annotations

from classifier.events import Evidence, Kind
from classifier.parse.budget import Budget, OverBudget
from webhook.api.recipients import json_response
from webhook.api.schemas import ClassifyIn, ClassifyOut, ErrorOut, EvidenceIn
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.pipeline import Bound, over_budget
from webhook.services import services

bp = blueprint("classify", "classify", "Classify evidence without storing anything")


def to_evidence(e: EvidenceIn) -> Evidence:
    return Evidence(diagnostic=e.diagnostic, status=e.status, reply_code=e.reply_code,
                    smtp_phase=e.smtp_phase.upper() if e.smtp_phase else None, remote_mta=e.remote_mta,
                    provider=e.provider, provider_class=e.provider_class, kind=Kind(e.kind))


@bp.post("/classify", responses={200: ClassifyOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut})
def classify(body: ClassifyIn):
    """The verdict for one piece of evidence or a list (in input order), from the classifier
    the service runs (``REBOUND_CLASSIFIER``, the active model): what an ingested event with
    this evidence would get. Nothing is stored and nothing goes to the review queue."""
    items = body.root if isinstance(body.root, list) else [body.root]
    svc = services()
    limit = svc.settings.max_batch
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"{len(items)} items in one request; at most {limit} are accepted")
    classifier = svc.classifier
    evidences = [to_evidence(e) for e in items]
    Bound(svc.settings.max_batch_text).add(sum(len(e.diagnostic or "") for e in evidences))
    budget = Budget(svc.settings.work_seconds)
    try:
        verdicts = classifier.classify_many(evidences, budget)
    except OverBudget:
        raise over_budget(budget.seconds) from None
    return json_response({"results": [v.to_dict() for v in verdicts], "mode": classifier.mode,
                          "model": model_version(classifier)})


def model_version(classifier) -> str | None:
    """The version of the model in use; None with the rules alone or when it cannot be
    loaded (the verdicts then say ``model-unavailable``)."""
    try:
        return classifier.model_version
    except Exception:                    # noqa: BLE001 - already logged by the classifier
        return None
