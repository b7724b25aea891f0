"""Tenants and their API keys.

Keys are random 256-bit tokens, so a fast hash (SHA-256) is the right storage: there is
nothing to brute-force that a slow password hash would protect, and every request needs
one lookup. Only the hash is stored; the clear key is shown once, at creation.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import orjson
import redis

from store.keys import Keys

TENANT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
KEY_PREFIX = "rbk_"


class TenantError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ApiKey:
    tenant: str
    key_id: str


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:63].strip("-")
    if not s or not TENANT_ID.match(s):
        raise TenantError(f"cannot make a tenant id from {name!r}: use letters, digits and dashes")
    return s


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_digest(key: str) -> str:
    """What a key is stored (and looked up) under: its SHA-256."""
    return _digest(key)


class Tenants:
    """``cache_seconds`` > 0 keeps resolved API keys in this process that long: every
    request resolves its key, and on the "may I send?" path that lookup would be a third of
    the Redis round trips. A key revoked elsewhere then stops working within that time."""

    def __init__(self, client: redis.Redis, keys: Keys, cache_seconds: float = 0):
        self.r = client
        self.keys = keys
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}

    def create(self, name: str) -> tuple[str, str]:
        """Create a tenant and its first API key; return (tenant id, clear key)."""
        tenant = slug(name)
        record = orjson.dumps({"name": name, "created": int(time.time())})
        if not self.r.hsetnx(self.keys.tenants(), tenant, record):
            raise TenantError(f"tenant {tenant!r} exists already")
        return tenant, self.add_key(tenant)

    def add_key(self, tenant: str) -> str:
        if not self.exists(tenant):
            raise TenantError(f"no tenant {tenant!r}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = _digest(key)
        key_id = digest[:12]
        created = int(time.time())
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.api_key(digest), orjson.dumps({"tenant": tenant, "id": key_id, "created": created}))
        # the tenant's own index of its keys (by id), so that a key can be listed and revoked
        # without its clear value (the console's settings page)
        pipe.hset(self.keys.api_keys_of(tenant), key_id, orjson.dumps({"digest": digest, "created": created}))
        pipe.execute()
        return key

    def revoke_key(self, key: str) -> bool:
        digest = _digest(key)
        self._cache.pop(digest, None)
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self.keys.api_key(digest))
        pipe.delete(self.keys.api_key(digest))
        raw, deleted = pipe.execute()
        if raw is not None:
            self.r.hdel(self.keys.api_keys_of(orjson.loads(raw)["tenant"]), digest[:12])
        return bool(deleted)

    def list_keys(self, tenant: str) -> list[dict]:
        """The tenant's keys created since keys were indexed (id, created), oldest first.
        Keys made before that are valid but not listed: revoke them with their clear value."""
        rows = [{"id": k.decode(), "created": orjson.loads(v)["created"]}
                for k, v in self.r.hgetall(self.keys.api_keys_of(tenant)).items()]
        return sorted(rows, key=lambda r: (r["created"], r["id"]))

    def revoke_key_id(self, tenant: str, key_id: str) -> bool:
        """Revoke one of the tenant's listed keys by its id; False if it has no such key."""
        raw = self.r.hget(self.keys.api_keys_of(tenant), key_id)
        if raw is None:
            return False
        digest = orjson.loads(raw)["digest"]
        self._cache.pop(digest, None)
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(self.keys.api_key(digest))
        pipe.hdel(self.keys.api_keys_of(tenant), key_id)
        pipe.execute()
        return True

    def resolve(self, key: str) -> ApiKey | None:
        return self.resolve_digest(_digest(key))

    def resolve_digest(self, digest: str) -> ApiKey | None:
        """The key whose SHA-256 is ``digest``: what a console session keeps instead of
        the clear key, resolved (and cached) exactly as a request's key is."""
        if self.cache_seconds:
            hit = self._cache.get(digest)
            if hit is not None and hit[1] > time.monotonic():
                return hit[0]
        raw = self.r.get(self.keys.api_key(digest))
        found = None
        if raw is not None:
            d = orjson.loads(raw)
            found = ApiKey(d["tenant"], d["id"])
        if self.cache_seconds:
            if len(self._cache) >= 10_000:
                self._cache.clear()
            self._cache[digest] = (found, time.monotonic() + self.cache_seconds)
        return found

    def exists(self, tenant: str) -> bool:
        return bool(TENANT_ID.match(tenant)) and bool(self.r.hexists(self.keys.tenants(), tenant))

    def list(self) -> list[dict]:
        from store.records import iso

        rows = [{"tenant": k.decode(), **orjson.loads(v)} for k, v in sorted(self.r.hgetall(self.keys.tenants()).items())]
        return [{**row, "created": iso(row.get("created"))} for row in rows]
