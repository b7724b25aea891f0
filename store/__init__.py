"""Rebound's suppression store: the Redis data model, the policy, and the query logic."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    import redis

    from store.ingest import ApplyResult
    from store.policy import Policy
    from store.query import Answer

#: Names importable from ``store`` itself, each imported from its module on first use (PEP 562):
#: ``import store.reasons`` (a CLI option's choices) must not load pydantic, dnspython and
#: every part of the store before a command has even parsed its arguments.
_EXPORTS = {
    "ApplyResult": "store.ingest", "Answer": "store.query", "ApiKey": "store.tenants",
    "CredentialSet": "store.credentials", "CredentialsError": "store.credentials",
    "CredentialsUnreadable": "store.credentials", "DnsChecker": "store.dns", "NotSuppressed": "store.suppressions",
    "Policy": "store.policy", "TenantError": "store.tenants",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Store", "ApplyResult", "Answer", "ApiKey", "CredentialSet", "CredentialsError", "CredentialsUnreadable",
           "DnsChecker", "NotSuppressed", "Policy", "PolicyConflict", "SharingNotAllowed", "TenantError"]


#: Attempts of a policy update that keeps meeting concurrent ones before giving up.
POLICY_RETRIES = 50


class PolicyConflict(RuntimeError):
    """A policy update lost the race too many times in a row (the caller may retry)."""


class SharingNotAllowed(PermissionError):
    """A policy that gives bounces to the shared pool, for a tenant the operator has not allowed."""


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A client that fails fast, for one server or a cluster (store/client.py)."""
    from store.client import connect as connect_client

    return connect_client(url, timeout=timeout)


class Store:
    """Facade over the store's parts, sharing one Redis client and key layout.

    ``dns`` enables the DNS checks of recipient domains at query time (None: off);
    ``complaint_tenants`` > 0 makes an address that complained at that many tenants
    ``platform_blocked``; ``history_seconds`` > 0 lets an address's history expire after
    that long without a new entry; ``key_cache_seconds`` > 0 caches resolved API keys;
``review_max`` bounds each tenant's open review queue.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "rb", dedup_seconds: int = 7 * 86400,
                 history_max: int = 100, raw_seconds: int = 30 * 86400, raw_max_bytes: int = 1 << 20,
                 history_seconds: int = 0, dns: dict | None = None, complaint_tenants: int = 0,
                 key_cache_seconds: float = 0, secret_keys=None, review_max: int = 10_000):
        from store.companies import Companies
        from store.credentials import Credentials, ReplayGuard
        from store.dns import DnsChecker
        from store.held import Held
        from store.esp_activity import EspActivity
        from store.ignored import Ignored
        from store.ingest import Ingest
        from store.keys import Keys
        from store.listing import Listing
        from store.mailboxes import Mailboxes
        from store.platform import COMPLAINTS_KEPT, Platform
        from store.query import Query
        from store.returnpath import ReturnPaths
        from store.review import Review
        from store.senders import SenderHealth
        from store.suppressions import Suppressions
        from store.tenants import Tenants

        if not 0 <= complaint_tenants <= COMPLAINTS_KEPT:
            raise ValueError(f"complaint_tenants must be 0 to {COMPLAINTS_KEPT} (complaining tenants kept per address)")
        self.r = client
        self.keys = Keys(prefix)
        self.tenants = Tenants(client, self.keys, key_cache_seconds)
        self.platform = Platform(client, self.keys)
        self.senders = SenderHealth(client, self.keys)
        self.companies = Companies(client, self.keys)
        self.listing = Listing(client, self.keys)
        self.dns = DnsChecker(client, self.keys, **dns) if dns is not None else None
        self.review = Review(client, self.keys, review_max)
        self.ingest = Ingest(client, self.keys, dedup_seconds=dedup_seconds, history_max=history_max,
                             raw_seconds=raw_seconds, raw_max_bytes=raw_max_bytes, history_seconds=history_seconds,
                             platform=self.platform, senders=self.senders, review=self.review,
                             complaint_tenants=complaint_tenants)
        self.raw = self.ingest.raw                # the request bodies failures came from
        self.query = Query(client, self.keys, self.dns, complaint_tenants)
        self.suppressions = Suppressions(client, self.keys, self.ingest)
        # ESP webhooks: credentials (secret_keys: list of Fernet keys, or a callable giving
        # them on first use), single-use tokens, counters of ignored event types
        self.credentials = Credentials(client, self.keys, secret_keys)
        self.replay = ReplayGuard(client, self.keys)
        self.ignored = Ignored(client, self.keys)
        # bounce intake: return paths (keys encrypted like credentials), held messages, mailboxes
        self.return_paths = ReturnPaths(client, self.keys, self.credentials)
        self.held = Held(client, self.keys, self.raw)
        self.mailboxes = Mailboxes(client, self.keys, self.credentials)
        self.esp_activity = EspActivity(client, self.keys)
        self.daily = self.ingest.daily            # per-day counts (the console's overview)

    def policy(self, tenant: str) -> Policy:
        """The tenant's policy: its stored overrides on top of the defaults."""
        from store.policy import policy_from_raw

        return policy_from_raw(self.r.get(self.keys.policy(tenant)))

    def policy_overrides(self, tenant: str) -> dict:
        raw = self.r.get(self.keys.policy(tenant))
        return orjson.loads(raw) if raw else {}

    def set_policy_overrides(self, tenant: str, overrides: dict) -> Policy:
        """Replace the overrides (validated first: pydantic's ValidationError names the field)."""
        return self.update_policy_overrides(tenant, lambda _current: overrides)

    def update_policy_overrides(self, tenant: str, change: Callable[[dict], dict]) -> Policy:
        """Read, change (``change(current) -> new``, e.g. ``store.policy.merge_patch``) and
        write the overrides as one atomic step: WATCH/MULTI on the policy alone, retried when
        another update came in between, so two concurrent updates (the API, the CLI) never
        lose one. ``change`` may raise to refuse; an invalid result raises ValidationError;
        either way nothing is written.

        Giving bounces to the shared pool needs the operator's permission, checked here for
        a clear refusal but not watched (the permission lives in the platform's slot, which a
        cluster cannot watch with the tenant's): taking it back later takes effect at once
        anyway, because ingest and queries check it each time (:meth:`ingest_policy`,
        store/query.py)."""
        import redis

        from store.client import storage
        from store.policy import policy_from_overrides

        key = self.keys.policy(tenant)
        with storage(self.r).transaction(key) as pipe:
            for _ in range(POLICY_RETRIES):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    new = change(orjson.loads(raw) if raw else {})
                    policy = policy_from_overrides(new)          # validate before storing
                    if policy.sharing.give and not self.r.hexists(self.keys.sharing_givers(), tenant):
                        raise SharingNotAllowed(
                            "sharing.give: this tenant may not give its bounces to other tenants; the "
                            "operator allows it (`rebound platform allow-giver TENANT`); receiving "
                            "(sharing.receive) needs no permission")
                    pipe.multi()
                    if new:
                        pipe.set(key, orjson.dumps(new))
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return policy
                except redis.WatchError:
                    continue
        raise PolicyConflict(f"the policy of {tenant!r} changed {POLICY_RETRIES} times while it was being updated; "
                             "try again")

    def ingest_policy(self, tenant: str) -> Policy:
        """The tenant's policy for ingesting events: as stored, except that its bounces go to
        the shared pool only while the operator allows it (store/platform.py), read in the
        same round trip."""
        from store.policy import policy_from_raw

        pipe = self.r.pipeline(transaction=False)
        pipe.get(self.keys.policy(tenant))
        pipe.hexists(self.keys.sharing_givers(), tenant)
        raw, allowed = pipe.execute()
        policy = policy_from_raw(raw)
        if policy.sharing.give and not allowed:
            policy = policy.model_copy(update={"sharing": policy.sharing.model_copy(update={"give": False})})
        return policy

    def apply(self, tenant: str, items, raw: bytes | None = None, now: float | None = None) -> ApplyResult:
        return self.ingest.apply(tenant, items, self.ingest_policy(tenant), raw=raw, now=now)

    def stream(self, tenant: str, raw: bytes | None = None):
        """The same as :meth:`apply`, fed while the batch is still arriving (store/stream.py)."""
        return self.ingest.open(tenant, self.ingest_policy(tenant), raw)

    def check(self, tenant: str, addresses: list[str], **kw) -> list[Answer]:
        return self.query.check(tenant, addresses, **kw)

    def ping(self) -> bool:
        return bool(self.r.ping())
