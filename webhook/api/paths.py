"""Addresses and domains named in a URL path: the form the store keeps, or one 400.

Every route that acts on an address or a domain goes through here, so a bad one gets
the same answer everywhere: ``invalid_address`` / ``invalid_domain_name``, the problem in
words, and the path field in ``details`` like any other invalid request. (``GET
/v1/recipients/<address>`` is the exception: it answers ``invalid_syntax`` as a reason.)
"""
from __future__ import annotations

from classifier.address import AddressError, normalise
from store.companies import clean_domain
from webhook.errors import ApiError


def address(raw: str) -> str:
    try:
        return normalise(raw)
    except AddressError as exc:
        raise _bad("address", "invalid_address", exc) from None


def domain(raw: str) -> str:
    try:
        return clean_domain(raw)
    except ValueError as exc:
        raise _bad("domain", "invalid_domain_name", exc) from None


def _bad(field: str, error: str, exc: Exception) -> ApiError:
    return ApiError(400, error, f"{field}: {exc}", [{"field": field, "problem": str(exc)}])
