"""Models: the registry with its scores, training with the tenant's labels, side-by-side
evaluation, activation and rollback (the operator's: the registry serves every tenant),
and reclassification of the tenant's stored history. Slow steps are background jobs
(webhook/console/jobs.py); their page follows them until they are done."""
from __future__ import annotations

import json

import orjson
from flask import Response, flash, g, redirect, render_template, request, url_for

from classifier.model.registry import (
    DEFAULT_DIR, DEFAULT_VERSION, METADATA_FILE, ModelFileError, Registry, RegistryError,
)
from classifier.model.training import EXTRA_WEIGHT
from classifier.taxonomy import CATEGORIES
from webhook.console import bp
from webhook.console import session as console_session
from webhook.console.jobs import JobRefused, Jobs, launch
from webhook.console.pages import error_page, operator_page, signed_in_page, tenant_page
from webhook.services import services


def _jobs() -> Jobs:
    svc = services()
    return Jobs(svc.store.r, svc.store.keys)


def _registry() -> Registry:
    return Registry(services().settings.effective_model_dir)


def _default_metadata() -> dict:
    meta = json.loads((DEFAULT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    return {**meta, "version": DEFAULT_VERSION}


def model_rows() -> tuple[list[dict], str]:
    reg = _registry()
    rows = reg.list()
    active = reg.active_version() or DEFAULT_VERSION
    default = _default_metadata()
    default["active"] = active == DEFAULT_VERSION
    return [default, *rows], active


@bp.get("/models")
@signed_in_page
def models():
    user = console_session.current()
    rows, active = model_rows()
    jobs = _jobs().recent(g.tenant, 10) if user.role == "tenant" else []
    labelled = services().store.review.stats(g.tenant)["labelled"] if user.role == "tenant" else 0
    return render_template("console/models.html", models=rows, active=active, jobs=jobs, user=user, weight=EXTRA_WEIGHT,
                           labelled=labelled, versions=[m["version"] for m in rows])


def _start(kind: str, params: dict):
    svc = services()
    try:
        job_id = _jobs().create(g.tenant, kind, params, g.actor)
    except JobRefused as exc:
        return error_page(409, str(exc))
    settings = svc.settings.model_dump(mode="json", exclude={"operator_key", "secret_key"})
    launch(orjson.dumps(settings), g.tenant, job_id)
    return redirect(url_for("console.job", job_id=job_id))


def _known(ref: str) -> bool:
    return ref in ("active", DEFAULT_VERSION) or any(m["version"] == ref for m in _registry().list())


@bp.post("/models/train")
@tenant_page
def train():
    if not services().store.review.stats(g.tenant)["labelled"]:
        return error_page(400, "This tenant has no labels yet: label items of the review queue first.")
    try:
        weight = float(request.form.get("weight") or EXTRA_WEIGHT)
    except ValueError:
        weight = -1.0
    if not 0 < weight <= 100:
        return error_page(400, "weight: a number above 0 and at most 100 (how many corpus records one label is worth)")
    return _start("train", {"extra_weight": weight})


@bp.post("/models/evaluate")
@tenant_page
def evaluate():
    refs = [request.form.get("a") or "active", request.form.get("b") or ""]
    if not all(refs) or not all(map(_known, refs)):
        return error_page(400, f"Pick two models of the registry to compare (got {refs[0]!r} and {refs[1]!r}).")
    return _start("evaluate", {"models": refs})


@bp.post("/reclassify")
@tenant_page
def reclassify():
    ref = request.form.get("model") or "active"
    if not _known(ref):
        return error_page(400, f"No model {ref!r} in the registry.")
    return _start("reclassify", {"model": ref, "apply": request.form.get("apply") == "yes"})


def _differences(job: dict) -> dict:
    """Per category: F1 of each model, and the second's gain over the first."""
    out = {}
    for part in ("labels", "corpus"):
        results = job["result"].get(part) or []
        if len(results) != 2:
            continue
        a, b = (r["per_category"] for r in results)
        rows = []
        for cat in CATEGORIES:
            fa, fb = a.get(cat), b.get(cat)
            if fa is None and fb is None:
                continue
            x, y = (fa or {}).get("f1", 0.0), (fb or {}).get("f1", 0.0)
            rows.append({"category": cat, "support": (fa or fb)["support"], "a": x, "b": y, "delta": round(y - x, 4)})
        out[part] = rows
    return out


@bp.get("/jobs/<job_id>")
@tenant_page
def job(job_id: str):
    found = _jobs().get(g.tenant, job_id)
    if found is None:
        return error_page(404, f"No job {job_id!r} for this tenant.")
    diffs = _differences(found) if found["kind"] == "evaluate" and found["result"] else {}
    return render_template("console/job.html", job=found, diffs=diffs)


@bp.get("/jobs/<job_id>/pictures/<name>.png")
@tenant_page
def job_picture(job_id: str, name: str):
    png = _jobs().picture(g.tenant, job_id, name) if _jobs().get(g.tenant, job_id) else None
    if png is None:
        return error_page(404, "No such picture.")
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


def _confirm(action: str, version: str | None):
    return render_template("console/confirm.html", action=action, version=version)


@bp.post("/models/activate")
@operator_page
def activate():
    version = request.form.get("version", "")
    if request.form.get("confirm") != "yes":
        return _confirm("activate", version)
    reg = _registry()
    try:
        if version != DEFAULT_VERSION:
            reg.load(version)          # refuse a file that would not load, as `rebound models activate`
        reg.activate(version)
    except (RegistryError, ModelFileError) as exc:
        return error_page(400, str(exc))
    flash(f"activated {version}")
    return redirect(url_for("console.models"))


@bp.post("/models/rollback")
@operator_page
def rollback():
    if request.form.get("confirm") != "yes":
        return _confirm("rollback", _registry().active_version() or DEFAULT_VERSION)
    try:
        version = _registry().rollback()
    except RegistryError as exc:
        return error_page(400, str(exc))
    flash(f"rolled back to {version}")
    return redirect(url_for("console.models"))
