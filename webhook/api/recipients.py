"""The senders' question, "may I send to X?", for one address or up to 10,000."""
from __future__ import annotations

import orjson
from flask import Response, g

from webhook.api import paths
from webhook.api.schemas import AddressPath, CheckIn, CheckOut, CheckQuery, ErrorOut, HistoryOut, RecipientOut
from webhook.api.tenant import blueprint
from webhook.services import services

bp = blueprint("recipients", "recipients", "May I send to this address, and if not, why?")


def json_response(body) -> Response:
    """orjson, not the stdlib: a 10,000-address answer is the hot path of the service
    (and plain dicts, store.query.Answers.to_dicts: no object per address on the way)."""
    return Response(orjson.dumps(body), mimetype="application/json")


def lookup(store, tenant: str, address: str, stream: str | None, subscription: str | None) -> bytes:
    """The answer to GET /v1/recipients/<address>, as JSON: the one implementation that this
    route and its fast path (webhook/fastpath.py, which answers ordinary requests before
    Flask) both call."""
    [answer] = store.check(tenant, [address], stream=stream, subscription=subscription)
    return orjson.dumps(answer.to_dict())


@bp.get("/recipients/<address>", responses={200: RecipientOut, 400: ErrorOut, 401: ErrorOut})
def get_recipient(path: AddressPath, query: CheckQuery):
    """Whether one address is sendable, with every reason that applies."""
    body = lookup(services().store, g.tenant, path.address, query.stream, query.subscription)
    return Response(body, mimetype="application/json")


@bp.post("/recipients/check", responses={200: CheckOut, 400: ErrorOut, 401: ErrorOut})
def check_recipients(body: CheckIn):
    """The same for up to 10,000 addresses; results come back in input order."""
    answers = services().store.check(g.tenant, body.addresses, stream=body.stream,
                                     subscription=body.subscription)
    return json_response({"results": answers.to_dicts()})


@bp.get("/recipients/<address>/history", responses={200: HistoryOut, 400: ErrorOut, 401: ErrorOut})
def get_history(path: AddressPath):
    """The address's recent events and changes, newest first, and the counters behind the policy."""
    address = paths.address(path.address)
    store = services().store
    return {"address": address, "state": store.query.state(g.tenant, address),
            "events": store.suppressions.history(g.tenant, address)}
