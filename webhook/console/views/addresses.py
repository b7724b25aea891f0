"""Addresses: "may I send?" for one address or a pasted list, an address's history, lifting
(with the required note) and manual suppression; the suppressions list with the API's
filters and paging, CSV export and import. Every step is the API's store call, for the
signed-in tenant, with the API's validation (its request models) and its answers."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from flask import Response, flash, g, redirect, render_template, request, stream_with_context, url_for
from pydantic import ValidationError

from store import NotSuppressed
from store.listing import CursorError, ImportDefaults, ImportFileError, csv_lines
from store.reasons import TENANT_SETTABLE
from store.suppressions import LIFTABLE
from webhook.api import paths
from webhook.api.schemas import CheckIn, ExportQuery, ImportQuery, SuppressIn, SuppressionsQuery, UnsuppressIn
from webhook.api.suppressions import _filters, run_import
from webhook.console import bp
from webhook.console.pages import error_page, tenant_page
from webhook.errors import ApiError, pydantic_details
from webhook.services import services

PAGE = 50
#: Seconds a suppressions page may spend following the store's short pages.
PAGE_BUDGET = 0.08
#: Buckets read per store call start at one (a big tenant's bucket holds a thousand records)
#: and double while calls take less than FAST_CALL seconds.
MAX_BUCKETS_PER_CALL = 64
FAST_CALL = 0.02
_SPLIT = re.compile(r"[\s,;]+")


def _form_errors(exc: ValidationError) -> dict[str, str]:
    return {d["field"]: d["problem"] for d in pydantic_details(exc)}


@bp.get("/addresses")
@tenant_page
def addresses():
    q = (request.args.get("address") or "").strip()
    if q:
        return redirect(url_for("console.address", address=q))
    return render_template("console/addresses.html", results=None, pasted="", stream="", errors={})


@bp.post("/addresses/check")
@tenant_page
def bulk_check():
    pasted = request.form.get("addresses", "")
    stream = request.form.get("stream") or None
    listed = [a for a in _SPLIT.split(pasted) if a]
    try:
        body = CheckIn.model_validate({"addresses": listed, "stream": stream})
    except ValidationError as exc:
        return render_template("console/addresses.html", results=None, pasted=pasted, stream=stream or "",
                               errors=_form_errors(exc)), 400
    answers = services().store.check(g.tenant, body.addresses, stream=body.stream).to_dicts()
    blocked = sum(1 for a in answers if not a["sendable"])
    return render_template("console/addresses.html", results=answers, blocked=blocked, pasted=pasted,
                           stream=stream or "", errors={})


def _address_page(address: str, status: int = 200, **extra):
    store = services().store
    [answer] = store.check(g.tenant, [address])
    return render_template("console/address.html", address=address, answer=answer.to_dict(),
                           state=store.query.state(g.tenant, address),
                           events=store.suppressions.history(g.tenant, address), liftable=sorted(LIFTABLE),
                           settable=sorted(TENANT_SETTABLE), errors=extra.pop("errors", {}), **extra), status


@bp.get("/addresses/<path:address>")
@tenant_page
def address(address: str):
    return _address_page(paths.address(address))


@bp.post("/addresses/<path:address>/lift")
@tenant_page
def lift(address: str):
    address = paths.address(address)
    codes = request.form.getlist("codes") or None
    try:
        body = UnsuppressIn.model_validate({"note": (request.form.get("note") or "").strip(), "codes": codes})
    except ValidationError as exc:
        errors = {f"lift.{k}": ("a note is required: say why it is lifted (it goes into the audit trail)"
                                if k == "note" else v) for k, v in _form_errors(exc).items()}
        return _address_page(address, 400, errors=errors)
    store = services().store
    try:
        lifted = store.suppressions.unsuppress(g.tenant, address, actor=g.actor, note=body.note,
                                               policy=store.policy(g.tenant), codes=body.codes)
    except ValueError as exc:
        return _address_page(address, 400, errors={"lift.codes": str(exc)})
    except NotSuppressed:
        return _address_page(address, 404, errors={"lift.note": "nothing here is this tenant's to lift"})
    flash("lifted " + ", ".join(lifted))
    return redirect(url_for("console.address", address=address))


@bp.post("/addresses/<path:address>/suppress")
@tenant_page
def suppress(address: str):
    address = paths.address(address)
    form = {k: v.strip() for k, v in request.form.items() if k in ("note", "code", "subscription", "stream", "until")
            and v.strip()}
    if "until" in form and re.fullmatch(r"\d{4}-\d{2}-\d{2}", form["until"]):
        form["until"] += "T00:00:00Z"
    try:
        body = SuppressIn.model_validate(form)
        effects = services().store.suppressions.suppress(
            g.tenant, address, actor=g.actor, note=body.note, code=body.code,
            subscription=body.subscription.lower() if body.subscription else None, stream=body.stream,
            until=int(body.until.timestamp()) if body.until else None)
    except ValidationError as exc:
        return _address_page(address, 400, errors={f"suppress.{k}": v for k, v in _form_errors(exc).items()})
    except ValueError as exc:
        return _address_page(address, 400, errors={"suppress.code": str(exc)})
    added = [fx[1:] for fx in effects or [] if fx[0] == "+"]
    flash(("suppressed: " + ", ".join(added)) if added else "already suppressed")
    return redirect(url_for("console.address", address=address))


def _day(value: str | None) -> str | None:
    """A date from a date field as the API's ISO 8601 time (midnight UTC)."""
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value + "T00:00:00Z"
    return value or None


def _listing_query(model):
    raw = {k: request.args.get(k) for k in ("code", "stream", "subscription", "since", "before", "domain", "cursor")}
    raw = {k: (_day(v) if k in ("since", "before") else v) for k, v in raw.items() if v}
    if model is SuppressionsQuery:
        raw["limit"] = PAGE
    else:
        raw.pop("cursor", None)
    return model.model_validate(raw)


def _fill_page(store, filters, cursor: str | None) -> dict:
    """A page as full as a time budget allows: the store reads a few buckets per call and a
    selective filter finds little in each, so the console follows ``next`` (as an API client
    would) until it has a page, reaches the end, or has spent :data:`PAGE_BUDGET` seconds."""
    policy = store.policy(g.tenant)
    started = time.perf_counter()
    items: list[dict] = []
    buckets = 1
    while True:
        call = time.perf_counter()
        page = store.listing.page(g.tenant, policy, filters, cursor=cursor, limit=PAGE - len(items),
                                  max_buckets=buckets)
        items += page["items"]
        cursor = page["next"]
        now = time.perf_counter()
        if cursor is None or len(items) >= PAGE or now - started > PAGE_BUDGET:
            return {"items": items, "next": cursor}
        if now - call < FAST_CALL:          # sparse buckets (a small tenant): read more per call
            buckets = min(buckets * 2, MAX_BUCKETS_PER_CALL)


@bp.get("/suppressions")
@tenant_page
def suppressions():
    args = {k: request.args.get(k, "") for k in ("code", "stream", "subscription", "since", "before", "domain")}
    store = services().store
    try:
        query = _listing_query(SuppressionsQuery)
        page = _fill_page(store, _filters(query), query.cursor)
    except ValidationError as exc:
        return render_template("console/suppressions.html", page=None, args=args, errors=_form_errors(exc),
                               report=None), 400
    except (ApiError, CursorError) as exc:
        return render_template("console/suppressions.html", page=None, args=args, report=None,
                               errors={"filters": getattr(exc, "message", str(exc))}), 400
    return render_template("console/suppressions.html", page=page, args=args, errors={}, report=None)


@bp.get("/suppressions/export.csv")
@tenant_page
def export_csv():
    store = services().store
    try:
        filters = _filters(_listing_query(ExportQuery))
    except ValidationError as exc:
        return error_page(400, "; ".join(f"{k}: {v}" for k, v in _form_errors(exc).items()))
    rows = store.listing.export_rows(g.tenant, store.policy(g.tenant), filters)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d")
    return Response(stream_with_context(csv_lines(rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{g.tenant}-suppressions-{stamp}.csv"'})


@bp.post("/suppressions/import")
@tenant_page
def import_csv():
    upload = request.files.get("file")
    args = {k: "" for k in ("code", "stream", "subscription", "since", "before", "domain")}
    if upload is None or not upload.filename:
        return render_template("console/suppressions.html", page=None, args=args, report=None,
                               errors={"import.file": "choose a CSV file to import"}), 400
    form = {k: v.strip() for k, v in request.form.items() if k in ("code", "note", "stream", "subscription")
            and v.strip()}
    try:
        query = ImportQuery.model_validate(form)
    except ValidationError as exc:
        return render_template("console/suppressions.html", page=None, args=args, report=None,
                               errors={f"import.{k}": v for k, v in _form_errors(exc).items()}), 400
    if query.code not in TENANT_SETTABLE:
        return render_template("console/suppressions.html", page=None, args=args, report=None,
                               errors={"import.code": f"{query.code!r} cannot be imported"}), 400
    defaults = ImportDefaults(code=query.code, note=query.note, stream=query.stream,
                              subscription=query.subscription.lower() if query.subscription else None)
    try:
        report = run_import(services().store, g.tenant, upload.read(), defaults, actor=g.actor, source="console")
    except ImportFileError as exc:
        return render_template("console/suppressions.html", page=None, args=args, report=None,
                               errors={"import.file": str(exc)}), 400
    report["filename"] = upload.filename
    return render_template("console/suppressions.html", page=None, args=args, errors={}, report=report)
