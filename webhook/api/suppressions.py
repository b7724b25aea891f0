"""A tenant's stored suppressions: set and lift by hand (lifts are audited), list, import, export."""
from __future__ import annotations

import codecs
import io
import uuid

from flask import Response, g, request, stream_with_context

from store import NotSuppressed
from store.listing import (
    CursorError, Filters, ImportDefaults, ImportFileError, check_import_file, csv_lines, parse_import,
)
from store.reasons import TENANT_SETTABLE
from webhook.api import paths
from webhook.api.recipients import json_response
from webhook.api.schemas import (
    AddressPath, AuditOut, AuditQuery, ErrorOut, ExportQuery, ImportOut, ImportQuery, SuppressIn, SuppressionsOut,
    SuppressionsQuery, SuppressOut, UnsuppressIn,
)
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("suppressions", "suppressions", "List, set, lift, import and export suppressions")
IMPORT_BATCH = 1000
ERRORS_SHOWN = 100


def _filters(query) -> Filters:
    try:
        return Filters.build(codes=(query.code or "").split(","), stream=query.stream, subscription=query.subscription,
                             since=int(query.since.timestamp()) if query.since else None,
                             before=int(query.before.timestamp()) if query.before else None, domain=query.domain)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


@bp.get("/suppressions", responses={200: SuppressionsOut, 400: ErrorOut, 401: ErrorOut})
def list_suppressions(query: SuppressionsQuery):
    """Stored suppressions, a page at a time; follow ``next`` until it is null.

    Filters: ``code`` (comma-separated), ``stream`` (those that block it), ``subscription``,
    ``since``/``before`` (when they started), ``domain`` (and its subdomains). A page may be
    short, even empty, when a filter is selective: only ``next: null`` means the end.
    """
    store = services().store
    try:
        page = store.listing.page(g.tenant, store.policy(g.tenant), _filters(query), cursor=query.cursor,
                                  limit=query.limit)
    except CursorError as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return json_response(page)


@bp.get("/suppressions/export", responses={200: None, 400: ErrorOut, 401: ErrorOut})
def export_suppressions(query: ExportQuery):
    """All matching stored suppressions as CSV (one row per suppression), streamed."""
    store = services().store
    filters = _filters(query)
    policy = store.policy(g.tenant)
    rows = store.listing.export_rows(g.tenant, policy, filters)
    return Response(stream_with_context(csv_lines(rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{g.tenant}-suppressions.csv"'})


@bp.post("/suppressions/import", responses={200: ImportOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut,
                                              415: ErrorOut})
def import_suppressions(query: ImportQuery):
    """Import a CSV body (``text/csv``): a header with ``address`` and optionally ``code``,
    ``subscription``, ``stream``, ``since``, ``until``, ``note`` (an export imports as it is),
    or one address per line. Bad lines are reported and skipped; the rest is stored. A
    broken file (not UTF-8, a NUL byte, bad quoting) is a 400 naming the line, and nothing
    of it is stored."""
    if request.mimetype not in ("text/csv", "text/plain"):
        raise ApiError(415, "unsupported_media_type", "send the body as text/csv")
    if query.code not in TENANT_SETTABLE:
        raise ApiError(400, "invalid_request", f"code: {query.code!r} cannot be imported")
    defaults = ImportDefaults(code=query.code, note=query.note, stream=query.stream,
                              subscription=query.subscription.lower() if query.subscription else None)
    try:
        return run_import(services().store, g.tenant, request.get_data(), defaults, actor=g.actor, source="api")
    except ImportFileError as exc:
        raise ApiError(400, "invalid_csv", str(exc)) from None


def run_import(store, tenant: str, body: bytes, defaults: ImportDefaults, *, actor: str, source: str) -> dict:
    """Import a CSV body (bounded by REBOUND_MAX_BODY_BYTES) and report it; a broken file
    raises ImportFileError before anything is stored. Shared by the API and the console."""
    import_id = uuid.uuid4().hex[:12]
    check_import_file(codecs.iterdecode(io.BytesIO(body), "utf-8-sig"))
    lines = codecs.iterdecode(io.BytesIO(body), "utf-8-sig")
    total = new = rejected = 0
    errors: list[dict] = []
    batch: list[dict] = []
    try:
        for line, row, error in parse_import(lines, defaults):
            total += 1
            if error:
                rejected += 1
                if len(errors) < ERRORS_SHOWN:
                    errors.append({"line": line, "error": error})
                continue
            batch.append(row)
            if len(batch) >= IMPORT_BATCH:
                new += store.suppressions.import_rows(tenant, batch, actor=actor, import_id=import_id)
                batch = []
    finally:
        if batch:
            new += store.suppressions.import_rows(tenant, batch, actor=actor, import_id=import_id)
        store.suppressions.audit_import(tenant, actor=actor, import_id=import_id, imported=new,
                                        rejected=rejected, source=source)
    return {"import_id": import_id, "rows": total, "new": new, "rejected": rejected, "errors": errors}


@bp.get("/suppressions/audit", responses={200: AuditOut, 401: ErrorOut})
def get_audit(query: AuditQuery):
    """Who suppressed, lifted or imported what, when and why; newest first."""
    return {"entries": services().store.suppressions.audit(g.tenant, query.limit)}


@bp.put("/suppressions/<address>", responses={200: SuppressOut, 400: ErrorOut, 401: ErrorOut})
def put_suppression(path: AddressPath, body: SuppressIn):
    """Suppress an address (default code ``manual``), with an optional note, stream and end."""
    address = paths.address(path.address)
    try:
        effects = services().store.suppressions.suppress(
            g.tenant, address, actor=g.actor, note=body.note, code=body.code,
            subscription=body.subscription.lower() if body.subscription else None, stream=body.stream,
            until=int(body.until.timestamp()) if body.until else None)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    return {"address": address, "added": [fx[1:] for fx in effects or [] if fx[0] == "+"]}


@bp.delete("/suppressions/<address>", responses={200: SuppressOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def delete_suppression(path: AddressPath, body: UnsuppressIn):
    """Lift the tenant's suppressions of an address; the note is required and audited.

    Reasons the tenant does not own (platform lists, DNS, address validation) stay; the
    answer's ``still`` lists the ones that still apply."""
    address = paths.address(path.address)
    store = services().store
    try:
        lifted = store.suppressions.unsuppress(g.tenant, address, actor=g.actor, note=body.note,
                                               policy=store.policy(g.tenant), codes=body.codes)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    except NotSuppressed:
        raise ApiError(404, "not_suppressed", f"{address} has nothing this tenant can lift") from None
    [answer] = store.check(g.tenant, [address])
    return {"address": address, "lifted": lifted, "still": [r["code"] for r in answer.reasons]}
