"""The tenant API blueprint: every route under it needs a tenant API key."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from webhook.auth import require_tenant

SECURITY = [{"tenant_key": []}]


def blueprint(name: str, tag: str, description: str) -> APIBlueprint:
    bp = APIBlueprint(name, __name__, url_prefix="/v1", abp_tags=[Tag(name=tag, description=description)],
                      abp_security=SECURITY)
    bp.before_request(require_tenant)
    return bp
