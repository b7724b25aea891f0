"""A tenant's own lists: organisations that opted out (by domain) and pending double opt-ins."""
from __future__ import annotations

from flask import g

from classifier.address import AddressError, normalise
from store.validation import syntax_error
from webhook.api import paths
from webhook.api.schemas import (
    AddressPath, CompaniesOut, ConfirmOut, DomainPath, ErrorOut, NoteIn, OptInIn, OptInOut, RequiredNoteIn,
)
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.services import services

bp = blueprint("lists", "lists", "Organisations that opted out, and double opt-in")


@bp.get("/companies", responses={200: CompaniesOut, 401: ErrorOut})
def list_companies():
    """Domains whose organisation opted out of this tenant's mail (``company_opted_out``)."""
    return {"companies": services().store.companies.list(g.tenant)}


@bp.put("/companies/<domain>", responses={200: CompaniesOut, 400: ErrorOut, 401: ErrorOut})
def put_company(path: DomainPath, body: NoteIn):
    """The organisation at this domain (and its subdomains) opted out."""
    services().store.companies.add(g.tenant, paths.domain(path.domain), actor=g.actor, note=body.note)
    return list_companies()


@bp.delete("/companies/<domain>", responses={200: CompaniesOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def delete_company(path: DomainPath, body: RequiredNoteIn):
    """Lift an organisation's opt-out; the note is required and audited."""
    domain = paths.domain(path.domain)
    if not services().store.companies.remove(g.tenant, domain, actor=g.actor, note=body.note):
        raise ApiError(404, "not_listed", f"{domain} is not on this tenant's list")
    return list_companies()


@bp.post("/opt-ins", responses={200: OptInOut, 400: ErrorOut, 401: ErrorOut})
def add_pending(body: OptInIn):
    """These addresses signed up and were sent a confirmation: ``unconfirmed_opt_in`` until
    they confirm (it blocks the marketing stream by default, so the confirmation mail,
    sent as transactional, still goes out)."""
    valid, rejected = [], []
    for raw in body.addresses:
        try:
            address = normalise(raw)
        except AddressError as exc:
            rejected.append({"address": raw, "error": str(exc)})
            continue
        problem = syntax_error(address)
        if problem:
            rejected.append({"address": raw, "error": problem})
        else:
            valid.append(address)
    pending = services().store.suppressions.pending_opt_in(g.tenant, valid, actor=g.actor, note=body.note)
    return {"pending": pending, "rejected": rejected}


@bp.post("/opt-ins/<address>/confirm", responses={200: ConfirmOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def confirm(path: AddressPath):
    """The address confirmed its subscription."""
    address = paths.address(path.address)
    if not services().store.suppressions.confirm_opt_in(g.tenant, address, actor=g.actor):
        raise ApiError(404, "not_pending", f"{address} is not waiting for a confirmation")
    return {"address": address, "confirmed": True}
