"""Per-tenant ESP webhook credentials: encrypted at rest, rotated without downtime.

Each (tenant, provider) pair is one Fernet token (AES-128-CBC + HMAC-SHA256, from
``cryptography``) in the tenant's ``esp`` hash. Redis therefore never holds a signing key
or password in clear, and a dump or replica leak is useless without the secret key, which
lives outside Redis (``REBOUND_SECRET_KEY``, or a key file under the data directory). The
plaintext names its tenant and provider, so a blob copied to another tenant's hash by
someone with write access to Redis is refused instead of authenticating that tenant.

Rotation: setting a name to a new value keeps the previous value valid for a grace period;
verifiers try the current value first, then the previous one. An ESP's retries of events
signed before the change, and the minutes between changing the key here and at the ESP,
therefore never bounce off a 401.

Also here: the replay guard (a token may be used once within a window), the only other
thing webhook authentication stores.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from store.keys import Keys


class CredentialsError(ValueError):
    """A credential change that cannot be made (unknown tenant, incomplete set, ...)."""


class CredentialsUnreadable(RuntimeError):
    """Stored credentials cannot be decrypted with the configured secret key(s)."""


@dataclass(frozen=True)
class CredentialSet:
    """One tenant's credentials for one provider, as verifiers use them."""

    tenant: str
    provider: str
    current: dict[str, str]
    #: name -> (previous value, epoch seconds until which it stays valid)
    previous: dict[str, tuple[str, int]] = field(default_factory=dict)
    updated: int = 0

    def get(self, name: str) -> str | None:
        return self.current.get(name)

    def values(self, name: str, now: float | None = None) -> list[str]:
        """Every value of ``name`` valid now: the current one first, then the rotating one."""
        now = time.time() if now is None else now
        out = [self.current[name]] if name in self.current else []
        prev = self.previous.get(name)
        if prev is not None and prev[1] > now and prev[0] not in out:
            out.append(prev[0])
        return out

    def combos(self, *names: str, now: float | None = None) -> list[tuple[str, ...]]:
        """Every valid combination of ``names`` (e.g. username and password), current first;
        empty when one of them is not configured."""
        lists = [self.values(n, now) for n in names]
        if not all(lists):
            return []
        return list(itertools.product(*lists))

    def rotating(self, now: float | None = None) -> dict[str, int]:
        """Names whose previous value is still accepted, and until when."""
        now = time.time() if now is None else now
        return {n: until for n, (_, until) in self.previous.items() if until > now}


class Credentials:
    """Read and change the encrypted credentials of tenants."""

    def __init__(self, client: redis.Redis, keys: Keys,
                 secret_keys: Callable[[], list[bytes]] | list[bytes] | None):
        self.r = client
        self.keys = keys
        self._secret_keys = secret_keys
        self._cipher: MultiFernet | None = None
        self._lock = threading.Lock()

    @property
    def cipher(self) -> MultiFernet:
        """Built on first use, so a process that never touches credentials needs no key."""
        if self._cipher is None:
            with self._lock:
                if self._cipher is None:
                    source = self._secret_keys
                    found = source() if callable(source) else source
                    if not found:
                        raise CredentialsUnreadable("no secret key is configured to encrypt credentials")
                    # the first key encrypts; all of them decrypt (rotation of the secret key)
                    self._cipher = MultiFernet([Fernet(k) for k in found])
        return self._cipher

    # -- reading ---------------------------------------------------------------------------
    def _decode(self, tenant: str, provider: str, token: bytes) -> CredentialSet:
        try:
            plain = orjson.loads(self.cipher.decrypt(token))
        except InvalidToken:
            raise CredentialsUnreadable(
                f"the {provider} credentials of tenant {tenant!r} cannot be decrypted with the "
                "configured secret key(s)") from None
        if plain.get("tenant") != tenant or plain.get("provider") != provider:
            raise CredentialsUnreadable(f"the {provider} credentials stored for {tenant!r} belong elsewhere")
        prev = {n: (v[0], int(v[1])) for n, v in (plain.get("prev") or {}).items()}
        return CredentialSet(tenant, provider, dict(plain.get("cur") or {}), prev, int(plain.get("t", 0)))

    def get(self, tenant: str, provider: str) -> CredentialSet | None:
        token = self.r.hget(self.keys.credentials(tenant), provider)
        return None if token is None else self._decode(tenant, provider, token)

    def all(self, tenant: str) -> dict[str, CredentialSet]:
        found = self.r.hgetall(self.keys.credentials(tenant))
        return {p.decode(): self._decode(tenant, p.decode(), t) for p, t in sorted(found.items())}

    # -- changing --------------------------------------------------------------------------
    def set(self, tenant: str, provider: str, changes: dict[str, str | None], *, grace_seconds: int,
            check: Callable[[dict[str, str]], None] | None = None, tenant_exists: bool = True,
            now: float | None = None) -> CredentialSet:
        """Apply ``changes`` (value None or "" removes a name at once) and return the result.

        A changed value keeps the old one valid for ``grace_seconds``. ``check`` validates
        the complete resulting set (the webhook layer knows what each provider needs) and
        raises :class:`CredentialsError`; nothing is stored then. Runs as a WATCH/MULTI
        transaction so two concurrent changes cannot lose one another.
        """
        if not tenant_exists:
            raise CredentialsError(f"no tenant {tenant!r}")
        key = self.keys.credentials(tenant)
        now = time.time() if now is None else now
        result: list[CredentialSet] = []

        def txn(pipe: redis.client.Pipeline) -> None:
            token = pipe.hget(key, provider)
            old = self._decode(tenant, provider, token) if token else CredentialSet(tenant, provider, {})
            cur = dict(old.current)
            prev = {n: v for n, v in old.previous.items() if v[1] > now}
            for name, value in changes.items():
                if value in (None, ""):
                    cur.pop(name, None)
                    prev.pop(name, None)
                    continue
                if name in cur and cur[name] != value:
                    if grace_seconds > 0:                # only the value just replaced stays valid
                        prev[name] = (cur[name], int(now + grace_seconds))
                    else:
                        prev.pop(name, None)
                if name in prev and prev[name][0] == value:
                    prev.pop(name)                       # rolled back to the old value
                cur[name] = value
            if check is not None:
                check(dict(cur))
            new = CredentialSet(tenant, provider, cur, prev, int(now))
            plain = orjson.dumps({"tenant": tenant, "provider": provider, "cur": cur,
                                  "prev": {n: list(v) for n, v in prev.items()}, "t": int(now)})
            pipe.multi()
            pipe.hset(key, provider, self.cipher.encrypt(plain))
            result[:] = [new]

        self.r.transaction(txn, key)
        return result[0]

    def delete(self, tenant: str, provider: str) -> bool:
        return bool(self.r.hdel(self.keys.credentials(tenant), provider))


class ReplayGuard:
    """Remembers single-use tokens (e.g. Mailgun's) for a window, with SET NX EX.

    A token is first *claimed* by a request (the value names the request's body), then
    *spent* once the request is stored. Until then the very same request may use it again:
    that is the ESP retrying a request whose answer said it failed, and it must be let in
    even when giving the token back failed too (Redis went away while storing), or the event
    would be lost. Another body with a claimed token, or any request with a spent one, is a
    replay.
    """

    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def _key(self, tenant: str, provider: str, token: str) -> str:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=16).hexdigest()
        return self.keys.replay(tenant, provider, digest)

    def claim(self, tenant: str, provider: str, token: str, body: bytes, ttl: int) -> bool:
        """True when the request with ``body`` may use ``token``: the first time it is seen
        within ``ttl`` seconds, or the same request again before it was stored; False for a
        replay."""
        claimed = b"p:" + hashlib.blake2b(body, digest_size=16).hexdigest().encode("ascii")
        before = self.r.set(self._key(tenant, provider, token), claimed, nx=True, ex=max(1, int(ttl)), get=True)
        return before is None or before == claimed

    def spend(self, tenant: str, provider: str, token: str) -> None:
        """The request that claimed ``token`` is stored: from now on it is a replay, whatever the body."""
        self.r.set(self._key(tenant, provider, token), b"s", xx=True, keepttl=True)

    def forget(self, tenant: str, provider: str, token: str) -> None:
        """Undo :meth:`claim` when the request it admitted was not stored after all, so
        the ESP's retry of the same request is not taken for a replay."""
        self.r.delete(self._key(tenant, provider, token))
