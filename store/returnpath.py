"""Return-path addresses: which tenant a bounce sent to an address belongs to.

One hash for the whole platform (``Keys.return_paths``): address -> the route, as JSON
(tenant, format, when it was added, how many days a signed token stays valid, and, for the
``signed`` format, the tenant's signing key). An address belongs to one tenant: the SMTP
listener routes every message by its envelope recipient alone, and one lookup of one hash
tells it every address it serves (it keeps a copy and reloads it every few seconds).

Signing keys are stored encrypted the way ESP credentials are (the store's Fernet cipher,
``store.credentials``), with their tenant and address inside the ciphertext, so a key copied
to another route does not decrypt as that route's. Rotating a key keeps the previous one
valid for the token lifetime: bounces to return paths signed before the change still verify.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import orjson
import redis
from cryptography.fernet import InvalidToken

from store.credentials import Credentials, CredentialsUnreadable
from store.keys import Keys

FORMATS = ("plain", "verp", "signed")
#: a return-path address: a simple local part (the prefix) at a host name
ADDRESS = re.compile(r"^[a-z0-9](?:[a-z0-9._]{0,30}[a-z0-9])?@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_AGE_DAYS = 30


class ReturnPathError(ValueError):
    """A change that cannot be made (taken address, bad format, ...); ``str()`` says why."""


@dataclass(frozen=True)
class Route:
    address: str
    tenant: str
    format: str
    created: int
    max_age_days: int = MAX_AGE_DAYS
    #: the encrypted signing key(s) (signed format only)
    sealed: bytes | None = None

    def to_dict(self) -> dict:
        return {"address": self.address, "format": self.format, "created": self.created,
                "max_age_days": self.max_age_days}

    @classmethod
    def load(cls, address: str, raw: bytes) -> "Route":
        d = orjson.loads(raw)
        sealed = d.get("key")
        return cls(address, d["tenant"], d["format"], int(d.get("created", 0)), int(d.get("max_age_days", MAX_AGE_DAYS)),
                   sealed.encode("ascii") if sealed else None)


class ReturnPaths:
    def __init__(self, client: redis.Redis, keys: Keys, credentials: Credentials):
        self.r = client
        self.keys = keys
        self.credentials = credentials

    # -- reading -------------------------------------------------------------------------
    def all(self) -> dict[str, Route]:
        """Every route of every tenant, by address."""
        return {a.decode(): Route.load(a.decode(), v) for a, v in self.r.hgetall(self.keys.return_paths()).items()}

    def of(self, tenant: str) -> list[Route]:
        return sorted((r for r in self.all().values() if r.tenant == tenant), key=lambda r: r.address)

    def get(self, address: str) -> Route | None:
        raw = self.r.hget(self.keys.return_paths(), address.lower())
        return None if raw is None else Route.load(address.lower(), raw)

    def signing_keys(self, route: Route, now: float | None = None) -> list[bytes]:
        """The key tokens are made with, then the previous one while it is still valid."""
        if route.sealed is None:
            return []
        try:
            plain = orjson.loads(self.credentials.cipher.decrypt(route.sealed))
        except InvalidToken:
            raise CredentialsUnreadable(f"the signing key of {route.address} cannot be decrypted with the "
                                        "configured secret key(s)") from None
        if plain.get("tenant") != route.tenant or plain.get("address") != route.address:
            raise CredentialsUnreadable(f"the signing key stored for {route.address} belongs elsewhere")
        now = time.time() if now is None else now
        found = [bytes.fromhex(plain["cur"])]
        if plain.get("prev") and plain.get("prev_until", 0) > now:
            found.append(bytes.fromhex(plain["prev"]))
        return found

    # -- changing ------------------------------------------------------------------------
    def add(self, tenant: str, address: str, fmt: str, *, max_age_days: int = MAX_AGE_DAYS,
            rotate: bool = False, now: float | None = None) -> tuple[Route, bytes | None]:
        """Route ``address`` to ``tenant`` in format ``fmt``; returns the route and, for a
        new or rotated signing key, the key (shown once). Adding an address again changes
        its format or lifetime and keeps its key; an address of another tenant is refused."""
        address = address.strip().lower()
        if not ADDRESS.match(address):
            raise ReturnPathError(f"{address!r} is not a return-path address: a simple local part (letters, digits, "
                                  "dots, underscores) at a domain, e.g. bounces@bounce.example.com")
        if fmt not in FORMATS:
            raise ReturnPathError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        if not 1 <= max_age_days <= 365:
            raise ReturnPathError("max_age_days must be 1 to 365")
        key = self.keys.return_paths()
        now = time.time() if now is None else now
        out: list = []

        def txn(pipe: redis.client.Pipeline) -> None:
            raw = pipe.hget(key, address)
            old = Route.load(address, raw) if raw is not None else None
            if old is not None and old.tenant != tenant:
                raise ReturnPathError(f"{address} already routes to another tenant")
            sealed, shown = old.sealed if old is not None else None, None
            if fmt == "signed" and (sealed is None or rotate):
                shown = secrets.token_bytes(32)
                prev = self.signing_keys(old, now)[0].hex() if old is not None and old.sealed else None
                sealed = self.credentials.cipher.encrypt(orjson.dumps({
                    "tenant": tenant, "address": address, "cur": shown.hex(), "prev": prev,
                    "prev_until": now + max_age_days * 86400 if prev else 0}))
            route = Route(address, tenant, fmt, old.created if old else int(now), max_age_days,
                          sealed if fmt == "signed" else None)
            record = {"tenant": tenant, "format": fmt, "created": route.created, "max_age_days": max_age_days}
            if route.sealed:
                record["key"] = route.sealed.decode("ascii")
            pipe.multi()
            pipe.hset(key, address, orjson.dumps(record))
            out[:] = [route, shown]

        self.r.transaction(txn, key)
        return out[0], out[1]

    def remove(self, tenant: str, address: str) -> bool:
        key = self.keys.return_paths()
        address = address.strip().lower()
        found: list[bool] = [False]

        def txn(pipe: redis.client.Pipeline) -> None:
            raw = pipe.hget(key, address)
            found[0] = raw is not None and Route.load(address, raw).tenant == tenant
            pipe.multi()
            if found[0]:
                pipe.hdel(key, address)

        self.r.transaction(txn, key)
        return found[0]
