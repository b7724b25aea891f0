"""The operator's view: tenants, who may give bounces to the shared pool, the platform
lists and their audit trail (the same store calls as /v1/platform)."""
from __future__ import annotations

from itertools import islice

from flask import flash, g, redirect, render_template, request, url_for

from webhook.api import paths
from webhook.console import bp
from webhook.console.pages import error_page, operator_page
from webhook.services import services

SHOWN = 200


@bp.get("/operator")
@operator_page
def operator():
    store = services().store
    platform = store.platform
    return render_template("console/operator.html", tenants=store.tenants.list(), givers=platform.givers(),
                           domains=platform.blocked_domains(),
                           addresses=[{"address": a, **e} for a, e in islice(platform.blocked_addresses(), SHOWN)],
                           audit=platform.audit()[:50])


@bp.post("/operator/givers")
@operator_page
def operator_giver():
    store = services().store
    tenant = request.form.get("tenant", "")
    note = (request.form.get("note") or "").strip() or None
    if request.form.get("action") == "disallow":
        if not note:
            return error_page(400, "Taking the permission back needs a note (it goes into the audit trail).")
        if not store.platform.disallow_giver(tenant, actor=g.actor, note=note):
            return error_page(404, f"{tenant} is not allowed to give.")
        flash(f"{tenant} may no longer give")
        return redirect(url_for("console.operator"))
    if not store.tenants.exists(tenant):
        return error_page(404, f"No tenant {tenant!r}.")
    store.platform.allow_giver(tenant, actor=g.actor, note=note)
    flash(f"{tenant} may give")
    return redirect(url_for("console.operator"))


@bp.post("/operator/block")
@operator_page
def operator_block():
    platform = services().store.platform
    note = (request.form.get("note") or "").strip() or None
    what = request.form.get("what")
    if what == "domain":
        domain = paths.domain(request.form.get("value", ""))
        platform.block_domain(domain, actor=g.actor, note=note)
        flash(f"{domain} blocked")
        return redirect(url_for("console.operator"))
    kind = request.form.get("kind", "opt_out")
    if kind not in ("opt_out", "trap"):
        return error_page(400, "kind must be opt_out or trap")
    address = paths.address(request.form.get("value", ""))
    platform.block_address(address, kind=kind, actor=g.actor, note=note)
    flash(f"{address} blocked")
    return redirect(url_for("console.operator"))
