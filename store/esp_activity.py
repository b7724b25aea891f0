"""What each ESP webhook of a tenant has been doing: when its last events arrived, how many
requests were refused and when, so the console can say whether a connection works.

One hash per tenant: ``<provider>|last`` (epoch seconds of the last request stored),
``<provider>|events`` (events accepted), ``<provider>|rejected`` and
``<provider>|rejected_last`` (requests refused after the tenant's credentials were found:
bad signatures, stale timestamps, bad bodies). Requests for tenants or providers without
credentials are never counted here: nobody can grow a tenant's keys from outside.
"""
from __future__ import annotations

import time

import redis

from store.keys import Keys


class EspActivity:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def stored(self, tenant: str, provider: str, events: int, now: float | None = None) -> None:
        pipe = self.r.pipeline(transaction=False)
        key = self.keys.esp_activity(tenant)
        pipe.hset(key, f"{provider}|last", int(now or time.time()))
        pipe.hincrby(key, f"{provider}|events", events)
        pipe.execute()

    def rejected(self, tenant: str, provider: str, reason: str, now: float | None = None) -> None:
        pipe = self.r.pipeline(transaction=False)
        key = self.keys.esp_activity(tenant)
        pipe.hincrby(key, f"{provider}|rejected", 1)
        pipe.hset(key, mapping={f"{provider}|rejected_last": int(now or time.time()),
                                f"{provider}|rejected_reason": reason[:64]})
        pipe.execute()

    def all(self, tenant: str) -> dict[str, dict]:
        """provider -> {last, events, rejected, rejected_last, rejected_reason} (what is known)."""
        out: dict[str, dict] = {}
        for raw_name, raw_value in self.r.hgetall(self.keys.esp_activity(tenant)).items():
            provider, _, name = raw_name.decode().partition("|")
            value = raw_value.decode()
            out.setdefault(provider, {})[name] = value if name == "rejected_reason" else int(value)
        return out
