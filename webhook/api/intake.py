"""A tenant's bounce intake over the API: its return paths (and the bounces held for review),
its bounce mailboxes. The same as ``rebound returnpath`` and ``rebound mailbox``.

Secrets go in, never out: a mailbox password is answered as "***"; a signed return path's
key is shown once, in the answer that made it.
"""
from __future__ import annotations

from typing import Any

from flask import g
from pydantic import BaseModel, Field

from store import CredentialsUnreadable
from store.returnpath import ReturnPathError
from webhook.api.schemas import ErrorOut, _Strict
from webhook.api.tenant import blueprint
from webhook.errors import ApiError
from webhook.intake import verp
from webhook.intake.mailbox import MailboxSettings, Reader, configure, describe, poll_once
from webhook.intake.message import release
from webhook.services import services

bp = blueprint("intake", "intake", "Where bounces arrive: return paths (SMTP, pipe) and mailboxes (IMAP, POP3)")


class AddressPath(BaseModel):
    address: str = Field(max_length=254)


class HeldPath(BaseModel):
    held_id: str = Field(max_length=64)


class NamePath(BaseModel):
    name: str = Field(max_length=32)


class ReturnPathIn(_Strict):
    format: str = Field("plain", description="plain, verp (PREFIX+local=domain@...) or signed (PREFIX-TOKEN@...)")
    max_age_days: int = Field(30, ge=1, le=365, description="signed: how long a token stays valid")
    rotate_key: bool = Field(False, description="signed: a new signing key (the old one stays valid max_age_days)")


class TokenIn(_Strict):
    recipient: str = Field(max_length=254)
    message: str = Field("", max_length=64, description="your reference of the message, kept with its bounce")


class MailboxIn(_Strict):
    settings: dict[str, str | int | float | bool | None] = Field(
        min_length=1, description="name -> value (null or \"\" removes one); names as in `rebound mailbox set`")


# -- answers (documented so a generated client can read them) ----------------------------------

class ReturnPathOut(BaseModel):
    address: str
    format: str
    created: int
    max_age_days: int
    signing_key: str | None = Field(None, description="signed: the new key, in this answer only")


class ReturnPathsOut(BaseModel):
    return_paths: list[ReturnPathOut]


class RemovedOut(BaseModel):
    address: str
    removed: bool


class TokenOut(BaseModel):
    return_path: str
    format: str


class HeldListOut(BaseModel):
    held: list[dict[str, Any]] = Field(description="held bounces, newest first")


class ReleasedOut(BaseModel):
    released: str
    outcome: str
    accepted: int
    duplicates: int
    recipients: list[Any]


class DroppedOut(BaseModel):
    dropped: str


class MailboxOut(BaseModel):
    name: str
    settings: dict[str, Any] = Field(description="the settings, the password as ***")
    state: dict[str, Any] = Field(description="progress: last poll, counts, last error")


class MailboxesOut(BaseModel):
    mailboxes: list[MailboxOut]


class MailboxDeletedOut(BaseModel):
    name: str
    deleted: bool


class MailboxTestOut(BaseModel):
    ok: bool
    protocol: str
    host: str
    port: int
    messages: int | None = None
    capabilities: dict[str, bool] | None = None
    folders: dict[str, bool] | None = None
    error: str | None = None


class PollOut(BaseModel):
    tenant: str
    mailbox: str
    seen: int
    stored: int
    duplicates: int
    held: int
    quarantined: int
    failed: int
    error: str | None


def _route_out(route, key: bytes | None = None) -> dict:
    out = route.to_dict()
    if key is not None:
        out["signing_key"] = key.hex()
    return out


def _own_route(address: str):
    route = services().store.return_paths.get(address)
    if route is None or route.tenant != g.tenant:
        raise ApiError(404, "not_found", f"{address} is not a return path of this tenant")
    return route


@bp.get("/returnpaths", responses={200: ReturnPathsOut, 401: ErrorOut})
def list_return_paths():
    """This tenant's return-path addresses."""
    return {"return_paths": [r.to_dict() for r in services().store.return_paths.of(g.tenant)]}


@bp.put("/returnpaths/<address>", responses={200: ReturnPathOut, 400: ErrorOut, 401: ErrorOut})
def put_return_path(path: AddressPath, body: ReturnPathIn):
    """Take bounces sent to this address (a signed one's key is in this answer, and never again)."""
    try:
        route, key = services().store.return_paths.add(g.tenant, path.address, body.format,
                                                       max_age_days=body.max_age_days, rotate=body.rotate_key)
    except ReturnPathError as exc:
        raise ApiError(400, "invalid_return_path", str(exc)) from None
    return _route_out(route, key)


@bp.delete("/returnpaths/<address>", responses={200: RemovedOut, 401: ErrorOut, 404: ErrorOut})
def delete_return_path(path: AddressPath):
    if not services().store.return_paths.remove(g.tenant, path.address):
        raise ApiError(404, "not_found", f"{path.address} is not a return path of this tenant")
    return {"address": path.address.lower(), "removed": True}


@bp.post("/returnpaths/<address>/tokens", responses={200: TokenOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut})
def make_token(path: AddressPath, body: TokenIn):
    """The return path to send one recipient's message with (VERP or signed, as the address is)."""
    from classifier.address import AddressError, normalise

    route = _own_route(path.address)
    try:
        recipient = normalise(body.recipient)
    except AddressError as exc:
        raise ApiError(400, "invalid_address", str(exc)) from None
    if route.format == "signed":
        value = verp.sign(services().store.return_paths.signing_keys(route)[0], route.address, recipient, body.message)
    elif route.format == "verp":
        value = verp.verp_address(route.address, recipient)
    else:
        value = route.address
    return {"return_path": value, "format": route.format}


@bp.get("/returnpaths/held", responses={200: HeldListOut, 401: ErrorOut})
def list_held():
    """Bounces held for review (a signed return path that did not verify), newest first."""
    return {"held": services().store.held.list(g.tenant)}


@bp.post("/returnpaths/held/<held_id>/release", responses={200: ReleasedOut, 401: ErrorOut, 404: ErrorOut})
def release_held(path: HeldPath):
    """Apply a held bounce as an ordinary one (you checked it is genuine)."""
    taken = release(services(), g.tenant, path.held_id)
    if taken is None:
        raise ApiError(404, "not_found", "no such held bounce (or its message has expired)")
    return {"released": path.held_id, "outcome": taken.outcome, "accepted": taken.accepted,
            "duplicates": taken.duplicates, "recipients": taken.recipients}


@bp.delete("/returnpaths/held/<held_id>", responses={200: DroppedOut, 401: ErrorOut, 404: ErrorOut})
def drop_held(path: HeldPath):
    if not services().store.held.drop(g.tenant, path.held_id):
        raise ApiError(404, "not_found", "no such held bounce")
    return {"dropped": path.held_id}


# -- mailboxes ----------------------------------------------------------------------------

def _settings(name: str) -> MailboxSettings:
    try:
        found = services().store.mailboxes.get(g.tenant, name)
    except CredentialsUnreadable as exc:
        raise ApiError(503, "settings_unreadable", str(exc), headers={"Retry-After": "60"}) from None
    if found is None:
        raise ApiError(404, "not_found", f"no mailbox {name!r}")
    return MailboxSettings.model_validate(found)


@bp.get("/mailboxes", responses={200: MailboxesOut, 401: ErrorOut})
def list_mailboxes():
    """This tenant's bounce mailboxes (passwords as ***) and their progress."""
    store = services().store
    return {"mailboxes": [describe(store, g.tenant, n, s) for n, s in store.mailboxes.of(g.tenant).items()]}


@bp.get("/mailboxes/<name>", responses={200: MailboxOut, 401: ErrorOut, 404: ErrorOut})
def get_mailbox(path: NamePath):
    store = services().store
    _settings(path.name)
    return describe(store, g.tenant, path.name, store.mailboxes.get(g.tenant, path.name))


@bp.put("/mailboxes/<name>", responses={200: MailboxOut, 400: ErrorOut, 401: ErrorOut})
def put_mailbox(path: NamePath, body: MailboxIn):
    """Set (merge) a mailbox's settings; the password is stored encrypted."""
    store = services().store
    try:
        configure(store, g.tenant, path.name, body.settings)
    except ValueError as exc:
        raise ApiError(400, "invalid_settings", str(exc)) from None
    return describe(store, g.tenant, path.name, store.mailboxes.get(g.tenant, path.name))


@bp.delete("/mailboxes/<name>", responses={200: MailboxDeletedOut, 401: ErrorOut, 404: ErrorOut})
def delete_mailbox(path: NamePath):
    if not services().store.mailboxes.delete(g.tenant, path.name):
        raise ApiError(404, "not_found", f"no mailbox {path.name!r}")
    return {"name": path.name, "deleted": True}


@bp.post("/mailboxes/<name>/test", responses={200: MailboxTestOut, 401: ErrorOut, 404: ErrorOut})
def test_mailbox(path: NamePath):
    """Connect, log in and open the folder, touching nothing."""
    return Reader(services(), g.tenant, path.name, _settings(path.name)).test()


@bp.post("/mailboxes/<name>/poll", responses={200: PollOut, 401: ErrorOut, 404: ErrorOut})
def poll_mailbox(path: NamePath):
    """Read the mailbox now (the poller reads it anyway; this is for a first run or a check)."""
    _settings(path.name)
    return poll_once(services(), g.tenant, path.name)
