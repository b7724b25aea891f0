"""Does the recipient's domain accept mail? DNS checks at query time, cached in Redis.

A domain is ``invalid_domain`` when DNS says, authoritatively, that no mail can be
delivered there:

- ``nxdomain``: the name does not exist;
- ``null_mx``: its only MX is the RFC 7505 null MX (``0 .``): "this domain accepts no mail";
- ``no_mail``: it exists but has neither MX nor A/AAAA records (RFC 5321 5.1: without an MX,
  the A/AAAA records are the implicit mail exchanger).

Anything else that goes wrong (a timeout, SERVFAIL, a refused query) is ``unknown`` and
never makes an address unsendable: a resolver outage must not become a sending outage.
For the same reason, negative answers are trusted only while the resolver passes a canary
check (a domain known to accept mail must resolve); a resolver that answers NXDOMAIN for
everything, as captive or broken setups do, turns the checks off instead of suppressing
every address. Verdicts are cached in Redis (positive, negative and unknown verdicts with
their own time-to-live), shared by every worker and tenant. A bulk check resolves the
unique domains concurrently, and waits at most the configured timeout in total.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import orjson
import redis

from store.keys import Keys

log = logging.getLogger("rebound.dns")

INVALID = frozenset({"nxdomain", "null_mx", "no_mail"})
DETAILS = {
    "ok": "the domain has a mail exchanger",
    "nxdomain": "NXDOMAIN: the domain does not exist",
    "null_mx": "null MX (RFC 7505): the domain accepts no mail",
    "no_mail": "no MX and no A/AAAA records: the domain accepts no mail",
}
UNKNOWN_TTL = 60
CANARY_OK_SECONDS = 300
CANARY_FAILED_SECONDS = 30


@dataclass(frozen=True, slots=True)
class DomainFact:
    status: str           # ok, nxdomain, null_mx, no_mail, unknown
    detail: str
    checked: int

    @property
    def invalid(self) -> bool:
        return self.status in INVALID

    def dumps(self) -> bytes:
        return orjson.dumps({"s": self.status, "d": self.detail, "t": self.checked})

    @classmethod
    def loads(cls, raw: bytes) -> "DomainFact":
        d = orjson.loads(raw)
        return cls(d["s"], d["d"], d["t"])


def parse_nameservers(spec: str | None) -> list[tuple[str, int]] | None:
    """``"192.0.2.53, [2001:db8::53]:5353, 127.0.0.1:5300"`` -> [(host, port), ...]."""
    if not spec:
        return None
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:
            host, port = item, ""
        if port and not port.isdigit():
            raise ValueError(f"bad DNS nameserver {item!r}: the port must be a number")
        out.append((host, int(port) if port else 53))
    return out or None


class DnsChecker:
    def __init__(self, client: redis.Redis, keys: Keys, *, nameservers: list[tuple[str, int]] | None = None,
                 timeout: float = 2.0, positive_ttl: int = 86400, negative_ttl: int = 3600,
                 concurrency: int = 64, canary: str | None = "gmail.com"):
        self.r = client
        self.keys = keys
        self.nameservers = nameservers
        self.timeout = timeout
        self.positive_ttl = positive_ttl
        self.negative_ttl = negative_ttl
        self.concurrency = concurrency
        self.canary = canary
        self._canary_state: tuple[bool, float] | None = None    # (healthy, checked at)
        self._lock = threading.Lock()

    def ttl(self, fact: DomainFact) -> int:
        if fact.status == "ok":
            return self.positive_ttl
        return self.negative_ttl if fact.invalid else UNKNOWN_TTL

    # -- cache --------------------------------------------------------------------------------
    def queue_cached(self, pipe, domains: list[str]) -> None:
        """Queue the cache read for ``domains`` (one MGET: their keys share the ``{dns}`` tag)
        on the caller's read batch (store/reads.py)."""
        if domains:
            pipe.mget([self.keys.dns(d) for d in domains])
        else:
            pipe.echo(b"")           # keeps the pipeline's replies in a fixed order

    def facts(self, domains: list[str], cached) -> dict[str, DomainFact]:
        """Facts for ``domains`` given the reply of :meth:`queue_cached`; resolves the misses."""
        out: dict[str, DomainFact] = {}
        misses = []
        for d, raw in zip(domains, cached if isinstance(cached, list) else []):
            if raw:
                out[d] = DomainFact.loads(raw)
            else:
                misses.append(d)
        if misses:
            fresh = self.resolve(misses)
            pipe = self.r.pipeline(transaction=False)
            for d, fact in fresh.items():
                pipe.set(self.keys.dns(d), fact.dumps(), ex=self.ttl(fact))
            pipe.execute()
            out.update(fresh)
        return out

    def check(self, domain: str) -> DomainFact:
        """One domain, through the cache (for the CLI and tests)."""
        from store.reads import ReadBatch

        batch = ReadBatch(self.r)             # a cluster pipeline refuses MGET; the read batch routes it
        self.queue_cached(batch, [domain])
        return self.facts([domain], batch.execute()[0])[domain]

    def forget(self, domain: str) -> None:
        self.r.delete(self.keys.dns(domain))

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, domains: list[str]) -> dict[str, DomainFact]:
        """Resolve ``domains`` now (no cache), concurrently, within ``timeout`` in total."""
        return asyncio.run(self._resolve_all(domains))

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if self.nameservers:
            res = dns.asyncresolver.Resolver(configure=False)
            res.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in self.nameservers]
        else:
            res = dns.asyncresolver.Resolver()
        res.timeout = self.timeout
        res.lifetime = self.timeout
        res.retry_servfail = False
        res.cache = None
        return res

    async def _resolve_all(self, domains: list[str]) -> dict[str, DomainFact]:
        res = self._resolver()
        gate = asyncio.Semaphore(self.concurrency)
        now = int(time.time())

        async def one(domain: str) -> DomainFact:
            async with gate:
                return await lookup(res, domain, now)

        tasks = {asyncio.ensure_future(one(d)): d for d in domains}
        canary = None
        if self.canary and not self._canary_fresh():
            canary = asyncio.ensure_future(lookup(res, self.canary, now))
        waiting = list(tasks) + ([canary] if canary else [])
        done, pending = await asyncio.wait(waiting, timeout=self.timeout)
        for task in pending:
            task.cancel()
        if canary is not None:
            self._set_canary(canary in done and not canary.cancelled() and canary.result().status == "ok")
        trusted = self._canary_healthy()
        out = {}
        for task, domain in tasks.items():
            if task not in done or task.cancelled() or task.exception() is not None:
                out[domain] = DomainFact("unknown", "DNS did not answer in time", now)
                continue
            fact = task.result()
            if fact.invalid and not trusted:
                fact = DomainFact("unknown", f"not trusted: the resolver failed its canary check ({fact.detail})", now)
            out[domain] = fact
        return out

    def _canary_fresh(self) -> bool:
        state = self._canary_state
        if state is None:
            return False
        healthy, at = state
        return time.monotonic() - at < (CANARY_OK_SECONDS if healthy else CANARY_FAILED_SECONDS)

    def _set_canary(self, healthy: bool) -> None:
        with self._lock:
            if not healthy and (self._canary_state is None or self._canary_state[0]):
                log.warning("DNS canary check failed: negative DNS answers are not trusted",
                            extra={"canary": self.canary})
            self._canary_state = (healthy, time.monotonic())

    def _canary_healthy(self) -> bool:
        return not self.canary or bool(self._canary_state and self._canary_state[0])


async def _query(res: dns.asyncresolver.Resolver, name: dns.name.Name, rdtype) -> dns.resolver.Answer:
    return await res.resolve(name, rdtype, search=False, raise_on_no_answer=False)


async def lookup(res: dns.asyncresolver.Resolver, domain: str, now: int) -> DomainFact:
    """MX first; without MX, A and AAAA (the implicit MX)."""
    def fact(status: str, detail: str | None = None) -> DomainFact:
        return DomainFact(status, detail or DETAILS[status], now)

    try:
        name = dns.name.from_text(domain)
        mx = await _query(res, name, dns.rdatatype.MX)
        if mx.rrset:
            usable = [r for r in mx.rrset if r.exchange != dns.name.root]
            return fact("ok") if usable else fact("null_mx")
        a, aaaa = await asyncio.gather(_query(res, name, dns.rdatatype.A), _query(res, name, dns.rdatatype.AAAA))
        if a.rrset or aaaa.rrset:
            return fact("ok", "no MX; the A/AAAA record is the implicit mail exchanger")
        return fact("no_mail")
    except dns.resolver.NXDOMAIN:
        return fact("nxdomain")
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        return fact("unknown", f"DNS gave no answer: {type(exc).__name__}")
    except (dns.exception.DNSException, ValueError) as exc:
        return fact("unknown", f"DNS lookup failed: {type(exc).__name__}")
