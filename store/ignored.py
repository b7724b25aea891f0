"""Counters of webhook events that were authenticated but not turned into events.

ESPs add event types over time, and some of theirs mean nothing for deliverability
(SparkPost ``relay_*``, SES ``Rendering Failure``). Refusing them would make the ESP retry
forever; dropping them silently would hide a new type we should support. So they are
acknowledged and counted per tenant, provider and type, where an operator can see them.
"""
from __future__ import annotations

import re

import redis

from store.keys import Keys

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/ -]+")


def _label(event_type: str) -> str:
    """Types come from the payload: keep them short and printable."""
    return _UNSAFE.sub("?", str(event_type))[:64] or "(none)"


class Ignored:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def count(self, tenant: str, provider: str, counts: dict[str, int]) -> None:
        if not counts:
            return
        key = self.keys.ignored(tenant)
        pipe = self.r.pipeline(transaction=False)
        for event_type, n in counts.items():
            pipe.hincrby(key, f"{provider}:{_label(event_type)}", n)
        pipe.execute()

    def counts(self, tenant: str) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in sorted(self.r.hgetall(self.keys.ignored(tenant)).items())}
