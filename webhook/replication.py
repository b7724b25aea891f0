"""No 2xx for a write before REBOUND_REDIS_MIN_REPLICA_ACKS replicas have it (issue 13).

Ingest and suppression changes wait for their replicas as they write (store/client.py: WAIT
on each connection written to). Every other request that changes something (a policy, a
key, a provider's credentials...) is covered here: after a 2xx answer to POST, PUT, PATCH
or DELETE, each primary's writes so far are waited for (Storage.sync_replicas); when fewer
replicas than asked have them in time, the answer becomes 503 with Retry-After, and the
client retries (every such change is idempotent or refused the second time). Read-only
routes that take a POST body (a bulk check, a classification) wait for nothing.
"""
from __future__ import annotations

from flask import Flask, request

#: POST routes that write nothing a client relies on.
READ_ONLY = ("/v1/recipients/check", "/v1/classify")
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def register(app: Flask) -> None:
    from store.client import replicated, storage

    services = app.extensions["rebound"]
    layer = storage(services.store.r)
    prefix = services.settings.key_prefix

    @app.before_request
    def _reset():
        replicated.done = False

    @app.after_request
    def _wait_for_replicas(response):
        if (layer.min_acks <= 0 or request.method not in CHANGES or not 200 <= response.status_code < 300
                or getattr(replicated, "done", False) or (request.url_rule and request.url_rule.rule in READ_ONLY)):
            return response
        from webhook.errors import STORE_DOWN, STORE_UNAVAILABLE, error_response, log_store_down, RETRY_AFTER_SECONDS

        try:
            layer.sync_replicas(prefix)
        except STORE_UNAVAILABLE as exc:
            log_store_down(exc, request.url_rule.rule if request.url_rule else None)
            return error_response(503, *STORE_DOWN, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return response
