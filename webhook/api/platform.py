"""Platform-wide lists, for the operator (REBOUND_OPERATOR_KEY): blocked domains, and people
who asked for no mail from anyone on the service, or known traps."""
from __future__ import annotations

from itertools import islice

from flask import g
from flask_openapi3 import APIBlueprint, Tag

from webhook.api import paths
from webhook.api.schemas import (
    AddressPath, BlockAddressIn, DomainPath, ErrorOut, ListQuery, NoteIn, RequiredNoteIn, TenantPath,
)
from webhook.auth import require_operator
from webhook.errors import ApiError
from webhook.services import services

bp = APIBlueprint("platform", __name__, url_prefix="/v1/platform",
                  abp_tags=[Tag(name="platform", description="Operator lists that apply to every tenant")],
                  abp_security=[{"operator_key": []}])
bp.before_request(require_operator)


@bp.get("/domains", responses={200: None, 401: ErrorOut, 403: ErrorOut})
def list_domains():
    """Domains whose owner asked for no mail from this service (``domain_blocked``)."""
    return {"domains": services().store.platform.blocked_domains()}


@bp.put("/domains/<domain>", responses={200: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def block_domain(path: DomainPath, body: NoteIn):
    """Block all mail to this domain and its subdomains, for every tenant."""
    domain = paths.domain(path.domain)
    services().store.platform.block_domain(domain, actor=g.actor, note=body.note)
    return {"domain": domain, "blocked": True}


@bp.delete("/domains/<domain>", responses={200: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def unblock_domain(path: DomainPath, body: RequiredNoteIn):
    domain = paths.domain(path.domain)
    return _unblocked("domain", domain, services().store.platform.unblock_domain(domain, actor=g.actor,
                                                                                 note=body.note))


@bp.get("/addresses", responses={200: None, 401: ErrorOut, 403: ErrorOut})
def list_addresses(query: ListQuery):
    """Blocked addresses (``platform_blocked``) with their kind and note."""
    rows = islice(services().store.platform.blocked_addresses(), query.limit)
    return {"addresses": [{"address": a, **entry} for a, entry in rows]}


@bp.get("/addresses/<address>", responses={200: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def get_address(path: AddressPath):
    """Everything the platform knows of an address: the operator's entry, shared bounces
    (by tenant tag), complaints (by tenant tag)."""
    address = paths.address(path.address)
    return {"address": address, "record": services().store.platform.address(address) or {}}


@bp.put("/addresses/<address>", responses={200: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def block_address(path: AddressPath, body: BlockAddressIn):
    """No mail to this address from any tenant: the person asked (``opt_out``) or it is a trap.
    Tenants see ``platform_blocked`` without the kind or the note (traps stay secret)."""
    address = paths.address(path.address)
    services().store.platform.block_address(address, kind=body.kind, actor=g.actor, note=body.note)
    return {"address": address, "blocked": True}


@bp.delete("/addresses/<address>", responses={200: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                               404: ErrorOut})
def unblock_address(path: AddressPath, body: RequiredNoteIn):
    address = paths.address(path.address)
    return _unblocked("address", address, services().store.platform.unblock_address(address, actor=g.actor,
                                                                                    note=body.note))


def _unblocked(what: str, value: str, lifted: bool) -> dict:
    """The answer to an unblock; one that found nothing to lift is a 404."""
    if not lifted:
        raise ApiError(404, "not_listed", f"{value} is not blocked")
    return {what: value, "blocked": False}


@bp.get("/audit", responses={200: None, 401: ErrorOut, 403: ErrorOut})
def audit():
    """The operator's changes to the platform lists, newest first."""
    return {"entries": services().store.platform.audit()}


@bp.get("/sharing/givers", responses={200: None, 401: ErrorOut, 403: ErrorOut})
def list_givers():
    """Tenants allowed to give their hard bounces to the shared pool (``globally_bounced``)."""
    return {"givers": services().store.platform.givers()}


@bp.put("/sharing/givers/<tenant>", responses={200: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def allow_giver(path: TenantPath, body: NoteIn):
    """Allow this tenant to give; it still opts in with its policy's ``sharing.give``."""
    store = services().store
    if not store.tenants.exists(path.tenant):
        raise ApiError(404, "no_such_tenant", f"no tenant {path.tenant!r}")
    store.platform.allow_giver(path.tenant, actor=g.actor, note=body.note)
    return {"tenant": path.tenant, "may_give": True}


@bp.delete("/sharing/givers/<tenant>", responses={200: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def disallow_giver(path: TenantPath, body: RequiredNoteIn):
    """Take the permission back: the tenant's shared bounces stop counting at once."""
    if not services().store.platform.disallow_giver(path.tenant, actor=g.actor, note=body.note):
        raise ApiError(404, "not_listed", f"{path.tenant} is not allowed to give")
    return {"tenant": path.tenant, "may_give": False}
