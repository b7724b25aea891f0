"""Settings: the tenant's effective policy (overrides highlighted) and its editor, which
stores through the API's own policy code and shows its validation errors beside the field;
the ESP connections (webhook URL to paste, last event, refusals); API keys."""
from __future__ import annotations

import orjson
from flask import flash, g, redirect, render_template, request, url_for

from webhook.api.policy import _store as store_policy
from webhook.console import bp
from webhook.console.pages import error_page, tenant_page
from webhook.errors import ApiError
from webhook.esp import PROVIDERS
from webhook.provider_config import describe
from webhook.services import services


def flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    """A nested policy as (dotted path, leaf value) rows, in the document's order."""
    if isinstance(value, dict) and value:
        rows = []
        for k, v in value.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else k)
        return rows
    return [(prefix, value)]


def _overridden(path: str, overrides: dict) -> bool:
    node = overrides
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict):
            return True
    return True


def _connections(tenant: str) -> list[dict]:
    store = services().store
    configured = store.credentials.all(tenant)
    activity = store.esp_activity.all(tenant)
    out = []
    for name, cls in PROVIDERS.items():
        creds = configured.get(name)
        out.append({"provider": name, "title": cls.title, "configured": creds is not None,
                    "described": describe(creds) if creds is not None else None,
                    "path": f"/v1/webhooks/{name}/{tenant}", "activity": activity.get(name, {})})
    return out


def _page(status: int = 200, **extra):
    store = services().store
    policy = store.policy(g.tenant).model_dump(mode="json")
    overrides = store.policy_overrides(g.tenant)
    rows = [{"path": p, "value": orjson.dumps(v).decode(), "overridden": _overridden(p, overrides)}
            for p, v in flatten(policy)]
    extra.setdefault("editor", orjson.dumps(overrides, option=orjson.OPT_INDENT_2).decode())
    extra.setdefault("policy_errors", [])
    error_fields = {d["field"] for d in extra["policy_errors"]}
    for row in rows:
        row["error"] = any(f == row["path"] or f.startswith(row["path"] + ".") or row["path"].startswith(f + ".")
                           for f in error_fields)
    return render_template("console/settings.html", rows=rows, overrides=overrides,
                           connections=_connections(g.tenant), keys=store.tenants.list_keys(g.tenant),
                           base_url=request.host_url.rstrip("/"), current_key=g.actor.removeprefix("key:"),
                           **extra), status


@bp.get("/settings")
@tenant_page
def settings():
    return _page()


@bp.post("/settings/policy")
@tenant_page
def save_policy():
    text = request.form.get("overrides", "")
    try:
        new = orjson.loads(text or "{}")
    except orjson.JSONDecodeError as exc:
        return _page(400, editor=text, policy_errors=[{"field": "(JSON)", "problem": f"not valid JSON: {exc}"}])
    if not isinstance(new, dict):
        return _page(400, editor=text, policy_errors=[{"field": "(JSON)", "problem": "the overrides must be an object"}])
    try:
        store_policy(g.tenant, lambda _current: new)       # PUT /v1/policy: the same code, the same errors
    except ApiError as exc:
        details = exc.details or [{"field": "(policy)", "problem": exc.message}]
        return _page(exc.status, editor=text, policy_errors=details)
    flash("policy saved")
    return redirect(url_for("console.settings"))


@bp.post("/settings/keys")
@tenant_page
def create_key():
    key = services().store.tenants.add_key(g.tenant)
    return _page(new_key=key)


@bp.post("/settings/keys/<key_id>/revoke")
@tenant_page
def revoke_key(key_id: str):
    if request.form.get("confirm") != "yes":
        return error_page(400, "Tick the box that confirms the revocation.")
    if not services().store.tenants.revoke_key_id(g.tenant, key_id):
        return error_page(404, f"This tenant has no key {key_id!r}.")
    flash(f"key {key_id} revoked")
    return redirect(url_for("console.settings"))
