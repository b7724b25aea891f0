"""The review queue: what the classifier was unsure of, labelled by analysts.

Labels go through ``store.review.label`` with the signed-in key as the actor, exactly as
``POST /v1/review/<id>`` records them (who, when, note). The list page works with the
keyboard (static/console.js): j/k move, a number key or the search box picks a reason,
u takes the last label back; every action is also a plain form.
"""
from __future__ import annotations

import orjson
from flask import abort, g, jsonify, redirect, render_template, request, url_for

from classifier.taxonomy import CATEGORIES, REASONS
from classifier.verdict import REVIEW_REASONS
from store.review import CursorError, Filters, ReviewError
from webhook.console import bp
from webhook.console.pages import error_page, tenant_page
from webhook.services import services

PAGE = 50
#: Most items one bulk label touches per submit (the page says how many are left).
BULK_MAX = 2000


def reason_choices() -> list[dict]:
    return [{"code": code, "category": r.category, "meaning": r.meaning} for code, r in REASONS.items()]


def _filters() -> tuple[dict, Filters]:
    args = {"order": request.values.get("order") or "count",
            "review_reason": request.values.get("review_reason") or None,
            "category": request.values.get("category") or None}
    try:
        return args, Filters(review=args["review_reason"], category=args["category"])
    except ValueError as exc:
        abort(400, str(exc))


@bp.get("/review")
@tenant_page
def review():
    args, filters = _filters()
    status = "labelled" if request.args.get("status") == "labelled" else "open"
    review = services().store.review
    try:
        page = review.page(g.tenant, status=status, order=args["order"] if args["order"] in ("count", "oldest")
                           else "count", filters=filters, cursor=request.args.get("cursor") or None, limit=PAGE)
    except CursorError as exc:
        return error_page(400, f"cursor: {exc}")
    return render_template("console/review.html", page=page, args=args, status=status, stats=review.stats(g.tenant),
                           reasons=reason_choices(), review_reasons=REVIEW_REASONS, categories=CATEGORIES,
                           bulk_done=request.args.get("bulk_done", type=int),
                           bulk_left=request.args.get("bulk_left", type=int))


@bp.get("/review/<item_id>")
@tenant_page
def review_item(item_id: str):
    item = services().store.review.get(g.tenant, item_id)
    if item is None:
        return error_page(404, f"No review item {item_id!r} in this tenant's queue.")
    return render_template("console/review_item.html", item=item, reasons=reason_choices(),
                           label_json=orjson.dumps(item["label"]).decode() if item["label"] else "")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/review/<item_id>/label")
@tenant_page
def label(item_id: str):
    reason = request.form.get("reason", "")
    note = (request.form.get("note") or "").strip()[:2000] or None
    try:
        item = services().store.review.label(g.tenant, item_id, reason=reason, note=note, actor=g.actor)
    except ReviewError as exc:
        if _wants_json():
            return jsonify(error="invalid_reason", message=str(exc)), 400
        return error_page(400, str(exc))
    if item is None:
        if _wants_json():
            return jsonify(error="not_found", message=f"no review item {item_id!r}"), 404
        return error_page(404, f"No review item {item_id!r} in this tenant's queue.")
    if _wants_json():
        return jsonify(id=item["id"], label=item["label"])
    return redirect(url_for("console.review_item", item_id=item_id))


@bp.post("/review/<item_id>/undo")
@tenant_page
def undo(item_id: str):
    try:
        label = orjson.loads(request.form.get("label") or "null")
    except orjson.JSONDecodeError:
        label = None
    if not isinstance(label, dict):
        return error_page(400, "Nothing to undo: the form did not say which label to take back.")
    item = services().store.review.unlabel(g.tenant, item_id, label)
    if item is None:
        message = "That label is no longer the item's label (it was changed or taken back since)."
        if _wants_json():
            return jsonify(error="conflict", message=message), 409
        return error_page(409, message)
    if _wants_json():
        return jsonify(id=item["id"], status=item["status"])
    return redirect(url_for("console.review_item", item_id=item_id))


@bp.post("/review/bulk")
@tenant_page
def bulk_label():
    """Label every open item the filters select (up to BULK_MAX per submit)."""
    args, filters = _filters()
    reason = request.form.get("reason", "")
    if reason not in REASONS:
        return error_page(400, f"Pick a reason to label with (got {reason!r}).")
    if request.form.get("confirm") != "yes":
        return error_page(400, "Tick the box that confirms the bulk label.")
    note = (request.form.get("note") or "").strip()[:2000] or None
    review = services().store.review
    done, cursor, ids = 0, None, []
    while len(ids) < BULK_MAX:
        page = review.page(g.tenant, order="oldest", filters=filters, cursor=cursor, limit=min(500, BULK_MAX - len(ids)))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    for iid in ids:
        if review.label(g.tenant, iid, reason=reason, note=note, actor=g.actor) is not None:
            done += 1
    left = review.page(g.tenant, order="oldest", filters=filters, limit=1)["items"]
    return redirect(url_for("console.review", order=args["order"], review_reason=args["review_reason"] or "",
                            category=args["category"] or "", bulk_done=done, bulk_left=1 if left else 0))


@bp.get("/raw/<ref>")
@tenant_page
def raw(ref: str):
    found = services().store.raw.get(g.tenant, ref[:64])
    if found is None:
        return error_page(404, f"No raw payload {ref!r} (unknown, or older than the retention).")
    return render_template("console/raw.html", raw=found)
