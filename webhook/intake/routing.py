"""Which tenant a bounce belongs to, from the address it was sent to (the envelope recipient).

The routes are the tenants' return-path addresses (``store.returnpath``), each ``plain``,
``verp`` or ``signed`` (``webhook.intake.verp``). The router keeps a copy of all of them,
reloaded every ``refresh`` seconds and at once when an address is not found (a route added a
moment ago works at once). An address on a domain no route names is not ours (the SMTP
listener answers 550 at RCPT: no open relay); on a served domain, an address no route
matches is unknown (550 as well); a ``signed`` route takes any ``prefix-...`` address, and a
token that does not verify is reported in :attr:`Delivery.problem`, for the message to be
held for review rather than refused (a forger learns nothing from our answer).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from store.returnpath import Route
from webhook.intake import verp


class NotOurs(LookupError):
    """The address is on a domain Rebound does not receive bounces for."""


class UnknownAddress(LookupError):
    """The domain is served, but no return path matches the address."""


@dataclass(frozen=True)
class Delivery:
    """A message's envelope recipient, routed."""

    rcpt: str
    tenant: str
    route: Route
    #: the recipient the return path names (plain VERP, or a signed token that verified)
    recipient: str | None = None
    #: the sender's message reference a signed token carries
    message: str | None = None
    #: why a signed return path does not verify (the message is held for review)
    problem: str | None = None

    @property
    def signed(self) -> bool:
        return self.route.format == "signed"

    def evidence(self) -> dict:
        """What the return path says, for the events' history (``extra.return_path``)."""
        out = {"rcpt": self.rcpt, "format": self.route.format}
        if self.recipient:
            out["recipient"] = self.recipient
        if self.message:
            out["message"] = self.message
        if self.signed:
            out["verified"] = self.problem is None
        return out


class Router:
    def __init__(self, store, refresh: float = 5.0, clock=time.monotonic):
        self.store = store
        self.refresh = refresh
        self.clock = clock
        self._routes: dict[str, Route] | None = None
        self._domains: dict[str, list[Route]] = {}
        self._loaded = -1e9
        self._lock = threading.Lock()

    def _load(self, force: bool = False) -> None:
        """Reload when stale (or ``force``d and not reloaded in the last second). A failed
        reload keeps the routes known: a Redis hiccup must not turn bounces away as unknown."""
        now = self.clock()
        age = now - self._loaded
        if self._routes is not None and age < (1.0 if force else self.refresh):
            return
        with self._lock:
            if self._routes is not None and self.clock() - self._loaded < (1.0 if force else self.refresh):
                return
            try:
                routes = self.store.return_paths.all()
            except Exception:
                if self._routes is None:
                    raise                                  # nothing known yet: the caller answers 451
                return
            domains: dict[str, list[Route]] = {}
            for r in routes.values():
                domains.setdefault(verp.split(r.address)[1], []).append(r)
            self._routes, self._domains, self._loaded = routes, domains, self.clock()

    def forget(self) -> None:
        """Drop the copy: the next lookup reads the routes again."""
        with self._lock:
            self._routes, self._domains, self._loaded = None, {}, -1e9

    def domains(self) -> set[str]:
        self._load()
        return set(self._domains)

    def route(self, rcpt: str, now: float | None = None) -> Delivery:
        """Route one envelope recipient; NotOurs / UnknownAddress when it cannot be."""
        address = rcpt.strip().strip("<>").lower()
        local, domain = verp.split(address)
        self._load()
        if domain not in self._domains or address not in self._routes and not self._match(local, domain):
            self._load(force=True)
        if domain not in self._domains:
            raise NotOurs(domain)
        exact = self._routes.get(address)
        if exact is not None:
            problem = "no token: the return path is the bare signed address" if exact.format == "signed" else None
            return Delivery(address, exact.tenant, exact, problem=problem)
        found = self._match(local, domain)
        if found is None:
            raise UnknownAddress(address)
        route, rest = found
        if route.format == "verp":
            return Delivery(address, route.tenant, route, recipient=verp.verp_recipient(rest))
        try:
            keys = self.store.return_paths.signing_keys(route)
            recipient, message = verp.open_token(keys, route.address, rest, route.max_age_days, now)
        except verp.TokenError as exc:
            return Delivery(address, route.tenant, route, problem=str(exc))
        return Delivery(address, route.tenant, route, recipient=recipient, message=message or None)

    def _match(self, local: str, domain: str) -> tuple[Route, str] | None:
        """The VERP or signed route whose prefix starts ``local``, with what follows it."""
        for route in self._domains.get(domain, ()):
            prefix = verp.split(route.address)[0]
            sep = {"verp": "+", "signed": "-"}.get(route.format)
            if sep and local.startswith(prefix + sep) and len(local) > len(prefix) + 1:
                return route, local[len(prefix) + 1:]
        return None
