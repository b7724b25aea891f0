"""Bounce mailboxes Rebound reads (IMAP, POP3): their settings, encrypted, and their progress.

A tenant may have several mailboxes, each by name. The settings (host, port, TLS, user,
password, folders, what to do after) are one Fernet token per mailbox in the tenant's
``mbx`` hash, encrypted like ESP credentials (``store.credentials``: the password is never in
Redis in clear, and the plaintext names its tenant and mailbox, so a token copied elsewhere is
refused). What they mean is the webhook layer's business (``webhook.intake.mailbox``); the
store keeps them. A platform-wide set indexes every mailbox, so the poller finds them all
without scanning tenants.

Progress is kept beside them, in clear (it holds no secret): when the mailbox was last read,
the last error, counts of what was stored, held, quarantined or failed, and for IMAP the
folder's UIDVALIDITY and the highest UID handled; for POP3 the UIDL of messages left on the
server on purpose (quarantined, or ``after=keep``), so they are not read again.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import redis
from cryptography.fernet import InvalidToken

from store.credentials import Credentials, CredentialsUnreadable
from store.keys import Keys

COUNTS = ("seen", "stored", "duplicates", "held", "quarantined", "failed")


class Mailboxes:
    def __init__(self, client: redis.Redis, keys: Keys, credentials: Credentials):
        self.r = client
        self.keys = keys
        self.credentials = credentials

    @staticmethod
    def _id(tenant: str, name: str) -> str:
        return f"{tenant}/{name}"

    # -- settings ------------------------------------------------------------------------
    def _decode(self, tenant: str, name: str, token: bytes) -> dict:
        try:
            plain = orjson.loads(self.credentials.cipher.decrypt(token))
        except InvalidToken:
            raise CredentialsUnreadable(f"the settings of mailbox {name!r} of {tenant!r} cannot be decrypted with "
                                        "the configured secret key(s)") from None
        if plain.get("tenant") != tenant or plain.get("name") != name:
            raise CredentialsUnreadable(f"the settings stored for mailbox {name!r} of {tenant!r} belong elsewhere")
        return plain["settings"]

    def get(self, tenant: str, name: str) -> dict | None:
        token = self.r.hget(self.keys.mailboxes(tenant), name)
        return None if token is None else self._decode(tenant, name, token)

    def of(self, tenant: str) -> dict[str, dict]:
        found = self.r.hgetall(self.keys.mailboxes(tenant))
        return {n.decode(): self._decode(tenant, n.decode(), t) for n, t in sorted(found.items())}

    def index(self) -> list[tuple[str, str]]:
        """(tenant, name) of every mailbox of every tenant."""
        return sorted(tuple(m.decode().split("/", 1)) for m in self.r.smembers(self.keys.mailbox_index()))

    def set(self, tenant: str, name: str, change: Callable[[dict], dict]) -> dict:
        """Replace the settings with ``change(current)`` (``{}`` when new), atomically; ``change``
        validates and may raise, and then nothing is stored."""
        key = self.keys.mailboxes(tenant)
        out: list[dict] = []

        def txn(pipe: redis.client.Pipeline) -> None:
            token = pipe.hget(key, name)
            new = change(self._decode(tenant, name, token) if token else {})
            sealed = self.credentials.cipher.encrypt(orjson.dumps({"tenant": tenant, "name": name, "settings": new}))
            pipe.multi()
            pipe.hset(key, name, sealed)
            out[:] = [new]

        self.r.transaction(txn, key)
        # the platform's index has a slot of its own (a cluster cannot change both in one
        # step): added after the settings, so an interrupted save is completed by saving again
        self.r.sadd(self.keys.mailbox_index(), self._id(tenant, name))
        return out[0]

    def delete(self, tenant: str, name: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.keys.mailboxes(tenant), name)
        pipe.delete(self.keys.mailbox_state(tenant, name), self.keys.mailbox_kept(tenant, name))
        deleted = bool(pipe.execute()[0])
        self.r.srem(self.keys.mailbox_index(), self._id(tenant, name))   # after: see set()
        return deleted

    # -- progress ------------------------------------------------------------------------
    def state(self, tenant: str, name: str) -> dict:
        raw = self.r.hgetall(self.keys.mailbox_state(tenant, name))
        out: dict = {k.decode(): v.decode() for k, v in raw.items()}
        for n in COUNTS:
            out[n] = int(out.get(n, 0))
        for n in ("last_poll", "last_ok", "last_error_at", "last_uid", "uidvalidity"):
            if n in out:
                out[n] = int(float(out[n]))
        return out

    def record(self, tenant: str, name: str, counts: dict[str, int] | None = None, **fields) -> None:
        """Add ``counts`` and set ``fields`` (None removes one) in one step."""
        key = self.keys.mailbox_state(tenant, name)
        pipe = self.r.pipeline(transaction=True)
        for n, v in (counts or {}).items():
            if v:
                pipe.hincrby(key, n, v)
        set_, drop = {k: v for k, v in fields.items() if v is not None}, [k for k, v in fields.items() if v is None]
        if set_:
            pipe.hset(key, mapping=set_)
        if drop:
            pipe.hdel(key, *drop)
        pipe.execute()

    def polled(self, tenant: str, name: str, error: str | None = None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if error is None:
            self.record(tenant, name, last_poll=now, last_ok=now, last_error=None, last_error_at=None)
        else:
            self.record(tenant, name, last_poll=now, last_error=error[:500], last_error_at=now)

    def kept(self, tenant: str, name: str) -> set[str]:
        """UIDLs of POP3 messages left on the server on purpose."""
        return {m.decode() for m in self.r.smembers(self.keys.mailbox_kept(tenant, name))}

    def keep(self, tenant: str, name: str, uidl: str) -> None:
        self.r.sadd(self.keys.mailbox_kept(tenant, name), uidl)

    def forget_kept(self, tenant: str, name: str, gone: set[str]) -> None:
        if gone:
            self.r.srem(self.keys.mailbox_kept(tenant, name), *gone)
