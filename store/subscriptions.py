"""Subscription names: the one spelling every source is reduced to.

A subscription (what ``unsubscribed`` is scoped to) is named by many sources: Rebound's
own events, ESP webhooks (SendGrid asm group ids, Mailjet list ids, SES topics, Mailgun and
SparkPost metadata, ...), manual suppressions, imports, listing filters and the senders'
"may I send?" question. If each spelled it its own way, ``Newsletter`` stored by a webhook
would never match ``newsletter `` asked by a sender, and the recipient would be mailed after
opting out. So every write and every read goes through :func:`subscription_name`.

The rules (also in the README):

1. Unicode NFKC, surrounding whitespace removed, case-folded (``Newsletter`` ->
   ``newsletter``); blank means "no subscription" (None).
2. Runs of inner whitespace become one ``-`` (``Weekly News`` -> ``weekly-news``).
3. What remains must be 1 to :data:`MAX_LENGTH` characters of ``a-z 0-9 _ . : -``;
   anything else is refused with :class:`SubscriptionError`, which names the rule (the API
   answers 400).
"""
from __future__ import annotations

import functools
import re
import unicodedata

MAX_LENGTH = 64
_ALLOWED = re.compile(r"[a-z0-9_.:-]+")
_SPACES = re.compile(r"\s+")
RULE = (f"a subscription name is 1 to {MAX_LENGTH} characters of a-z, 0-9, '_', '.', ':' and '-' "
        "(compared without case; surrounding spaces are ignored, inner spaces become '-')")


class SubscriptionError(ValueError):
    """A subscription name that breaks the rules; the message says which."""


@functools.lru_cache(maxsize=4096)
def subscription_name(raw: str | int | None) -> str | None:
    """The normal spelling of a subscription name; None for no (or a blank) name."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip().casefold()
    if not text:
        return None
    name = _SPACES.sub("-", text)
    if len(name) > MAX_LENGTH:
        raise SubscriptionError(f"subscription: longer than {MAX_LENGTH} characters; {RULE}")
    if not _ALLOWED.fullmatch(name):
        raise SubscriptionError(f"subscription: {str(raw)[:80]!r} is not a subscription name; {RULE}")
    return name


@functools.lru_cache(maxsize=4096)
def stored_subscription(stored: str | None) -> str | None:
    """A subscription name read from the store, in the normal spelling: records written
    before names were normalised may hold ``Newsletter``; one that cannot be normalised is
    compared as it is."""
    try:
        return subscription_name(stored)
    except SubscriptionError:
        return stored
