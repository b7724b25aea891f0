"""Answering "may I send to X?" for one address or ten thousand.

Everything an answer needs is read in one pipelined round trip: the tenant's policy, the
tenant's per-address records (one HMGET per bucket), the platform's per-address records,
the operator's blocked domains and the tenant's opted-out companies (one HMGET each, for
every domain and parent domain involved) and the cached DNS verdicts (one MGET). Only DNS
cache misses cost a second step (concurrent lookups, bounded in time). Validation
(syntax, role accounts, disposable domains) is pure Python with caches.

Every reason that applies is returned, in the order of ``store.reasons``, each with its
``scope``, ``since``, ``until`` (None: until lifted), the ``streams`` it blocks and its
``evidence``.
"""
from __future__ import annotations

import functools
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Sequence
from itertools import chain, compress, repeat
from operator import itemgetter

import orjson
import redis

from classifier.address import domain_of
from store import records
from store.dns import DnsChecker, DomainFact
from store.keys import BUCKETS, PLATFORM_BUCKETS, Keys
from store.platform import tenant_tag
from store.policy import DAY, Policy, month_end, month_of, policy_from_raw
from store.reads import ReadBatch
from store.reasons import ORDER, SUPPRESSION_REASONS
from store.subscriptions import stored_subscription, subscription_name
from store.validation import Screened, disposable_match, domain_and_parents, role_names, screen

STREAMS = ("marketing", "transactional")


@dataclass(slots=True)
class Answer:
    """One address's answer; ``to_dict`` is its JSON."""

    address: str                    # as asked
    normalised: str | None
    sendable: bool = True
    reasons: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"address": self.address, "normalised": self.normalised,
                "sendable": self.sendable, "reasons": self.reasons}


@dataclass
class Lookup:
    """Everything read for one check, before interpretation."""

    policy: Policy
    tenant: str
    records: dict[str, dict]
    platform: dict[str, dict]
    companies: dict[str, dict]
    blocked: dict[str, dict]
    dns: dict[str, DomainFact]
    givers: frozenset[str] = frozenset()     # tags of the tenants allowed to give bounces now


@functools.lru_cache(maxsize=1024)
def _giver_tag(tenant: bytes) -> str:
    return tenant_tag(tenant.decode())


def _loads_map(names: list[str], values: list) -> dict[str, dict]:
    return {n: orjson.loads(v) for n, v in zip(names, values) if v}


class Query:
    def __init__(self, client: redis.Redis, keys: Keys, dns: DnsChecker | None = None,
                 complaint_tenants: int = 0):
        self.r = client
        self.keys = keys
        self.dns = dns
        self.complaint_tenants = complaint_tenants
        # the key of every bucket, spelled once (a bulk check names all of them)
        self._tenant_keys: dict[str, list[str]] = {}
        self._platform_keys = [keys.platform_records(b) for b in range(PLATFORM_BUCKETS)]

    def _bucket_keys(self, tenant: str) -> list[str]:
        names = self._tenant_keys.get(tenant)
        if names is None:
            if len(self._tenant_keys) >= 1024:          # bounded: tenants come and go
                self._tenant_keys.clear()
            names = self._tenant_keys[tenant] = [self.keys.records(tenant, b) for b in range(BUCKETS)]
        return names

    # -- reading --------------------------------------------------------------------------
    def records_for(self, tenant: str, addresses: list[str]) -> dict[str, dict]:
        """Records of the given normalised addresses, in one pipelined round trip."""
        batch = ReadBatch(self.r)
        order, _ = self._queue_records(batch, tenant, addresses, platform=False)
        return self._collect(order, batch.execute())

    def state(self, tenant: str, address: str) -> dict:
        """The counters of one address's record, in readable form."""
        return records.state_out(self.records_for(tenant, [address]).get(address, {}))

    def _queue_records(self, pipe, tenant: str, addresses, platform: bool = True
                       ) -> tuple[list[list[str]], list[list[str]]]:
        """One HMGET per tenant bucket (and per platform bucket) involved.

        The platform's bucket count divides the tenant's, so one crc gives both.
        """
        mask = PLATFORM_BUCKETS - 1
        by_bucket: dict[int, list[str]] = defaultdict(list)
        crc, mask_t = zlib.crc32, BUCKETS - 1                 # keys.bucket_of, inlined: 10,000 calls
        for b, a in zip(map(crc, map(str.encode, addresses)), addresses):
            by_bucket[b & mask_t].append(a)
        mine = []
        names = self._bucket_keys(tenant)
        for b, addrs in by_bucket.items():
            pipe.hmget(names[b], addrs)
            mine.append(addrs)
        shared = []
        if platform:
            by_platform: dict[int, list[str]] = defaultdict(list)
            for b, addrs in by_bucket.items():
                by_platform[b & mask].extend(addrs)
            for b, addrs in by_platform.items():
                pipe.hmget(self._platform_keys[b], addrs)
                shared.append(addrs)
        return mine, shared

    @staticmethod
    def _collect(order: list[list[str]], replies) -> dict[str, dict]:
        """The records found, parsed. Most of ten thousand fields are absent (None) and are
        skipped by C iterators; the others are parsed in one orjson call as one array, not
        one call each, and records that are the same bytes (those one import wrote) are
        parsed once and shared: nothing changes a record read for an answer."""
        found = list(chain.from_iterable(replies))
        names = list(compress(chain.from_iterable(order), found))
        values = list(filter(None, found))
        if not values:
            return {}
        distinct = list(dict.fromkeys(values))
        try:
            parsed = orjson.loads(b"[" + b",".join(distinct) + b"]")
        except orjson.JSONDecodeError:
            parsed = None
        if parsed is None or len(parsed) != len(distinct):     # a broken record: fail on it alone
            parsed = list(map(orjson.loads, distinct))
        by_value = dict(zip(distinct, parsed))
        return dict(zip(names, map(by_value.__getitem__, values)))

    def lookup(self, tenant: str, addresses: list[str], stream: str | None,
               domains: list[str] | None = None) -> Lookup:
        """Read everything the answers for ``addresses`` (normalised, valid; their unique
        ``domains`` if the caller has them) depend on."""
        if domains is None:
            domains = list(dict.fromkeys(domain_of(a) for a in addresses))
        candidates = list(dict.fromkeys(c for d in domains for c in domain_and_parents(d)))
        dns_domains = [d for d in domains if not d.startswith("[")] if self.dns else []
        batch = ReadBatch(self.r)
        batch.get(self.keys.policy(tenant))
        batch.hkeys(self.keys.sharing_givers())
        if candidates:
            batch.hmget(self.keys.companies(tenant), candidates)
            batch.hmget(self.keys.blocked_domains(), candidates)
        if self.dns:
            self.dns.queue_cached(batch, dns_domains)
        head = len(batch)
        tenant_order, platform_order = self._queue_records(batch, tenant, addresses)
        # worked on in the order of the replies, while Redis still answers the later ones
        with batch.sent() as replies:
            policy, givers, *rest = replies.read(head)
            policy = policy_from_raw(policy)
            givers = frozenset(map(_giver_tag, givers))
            companies = blocked = {}
            if candidates:
                companies = _loads_map(candidates, rest.pop(0))
                blocked = _loads_map(candidates, rest.pop(0))
            facts: dict[str, DomainFact] = {}
            if self.dns and dns_domains and policy.blocks("invalid_domain", stream):
                facts = self.dns.facts(dns_domains, rest.pop(0))
            recs = self._collect(tenant_order, replies.read(len(tenant_order)))
            platform = self._collect(platform_order, replies.read(len(platform_order)))
        return Lookup(policy, tenant, recs, platform, companies, blocked, facts, givers)

    # -- answering ------------------------------------------------------------------------
    def check(self, tenant: str, addresses: list[str], *, stream: str | None = None,
              subscription: str | None = None, now: float | None = None) -> Answers:
        now = time.time() if now is None else now
        subscription = subscription_name(subscription)       # SubscriptionError: the caller's 400
        screened = screen(addresses)
        domains = screened.valid_domains()
        found = self.lookup(tenant, screened.valid(), stream, domains)
        judge = Judge(found, stream, subscription, now, self.complaint_tenants)
        by_address = {}
        for address in judge.suspects(screened, domains):
            reasons = judge.reasons(address)
            if reasons:
                by_address[address] = reasons
        # per position; a position with no reason shares the one empty tuple
        reasons = list(map(by_address.get, screened.normalised, repeat(())))
        if screened.errors:
            blocks = found.policy.blocks("invalid_syntax", stream)
            for i, error in screened.errors.items():
                reasons[i] = [judge.reason("invalid_syntax", None, None, {"error": error})] if blocks else ()
        return Answers(list(addresses), screened.normalised, reasons)


class Answers(Sequence):
    """The answers of one check, in input order.

    Kept as three parallel lists and turned into :class:`Answer` objects only when one is
    asked for: a bulk check's ten thousand answers go straight to JSON (:meth:`to_dicts`),
    and building an object per address first cost more than judging them.
    """

    __slots__ = ("asked", "normalised", "reasons")

    def __init__(self, asked: list[str], normalised: list[str | None], reasons: list):
        self.asked, self.normalised, self.reasons = asked, normalised, reasons

    def __len__(self) -> int:
        return len(self.asked)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        reasons = self.reasons[i]
        return Answer(self.asked[i], self.normalised[i], not reasons, list(reasons))

    def to_dicts(self) -> list[dict]:
        """Every answer as :meth:`Answer.to_dict` spells it, for JSON (the reasons of a
        sendable address are one shared empty tuple, not a new list each)."""
        return [{"address": a, "normalised": n, "sendable": not r, "reasons": r}
                for a, n, r in zip(self.asked, self.normalised, self.reasons)]


class Judge:
    """Turns what was read into the reasons for one address, under one policy and query."""

    def __init__(self, found: Lookup, stream: str | None, subscription: str | None, now: float,
                 complaint_tenants: int):
        self.f = found
        self.p = found.policy
        self.stream = stream
        self.subscription = subscription
        self.now = now
        self.complaint_tenants = complaint_tenants
        self.me = tenant_tag(found.tenant)
        v = self.p.validation
        # the role names this policy flags: one set lookup per address
        self.roles = (role_names(frozenset(v.roles_extra), frozenset(v.roles_exempt))
                      if self.p.blocks("role_address", stream) else frozenset())
        self.disposable = (frozenset(v.disposable_extra), frozenset(v.disposable_exempt))
        self.streams_asked = (stream,) if stream else STREAMS
        self.wanted = {code: self.p.blocks(code, stream) for code in SUPPRESSION_REASONS}
        self.streams_of = {code: list(self.p.streams.get(code, [])) for code in SUPPRESSION_REASONS}
        self.by_domain: dict[str, list[dict]] = {}
        # (scope, streams) of stored suppressions by (code, subscription, stream): a few kinds, thousands of records
        self.limits: dict[tuple, tuple[str, list[str]]] = {}
        # a record's reasons, by record: addresses whose stored records are byte for byte the
        # same (one import, one list) share one parsed record (Query._collect) and one judgement
        self.by_record: dict[int, list[dict]] = {}
        self.records, self.platform = found.records, found.platform

    def blocks(self, code: str) -> bool:
        return self.wanted[code]

    def reason(self, code: str, since: float | None, until: float | None, evidence: dict,
               scope: str | None = None, streams: list[str] | None = None) -> dict:
        return {"code": code, "scope": scope or SUPPRESSION_REASONS[code], "since": records.iso(since),
                "until": records.iso(until),
                "streams": streams if streams is not None else self.streams_of[code],
                "evidence": evidence}

    def suspects(self, screened: Screened, domains: list[str]) -> set[str]:
        """The valid addresses (of ``screened``, whose valid ``domains`` are given) that may
        have a reason: those with a record, a platform record, a domain with domain-wide
        reasons or a flagged role name. Most addresses of a bulk check have none of these:
        they are left out by set operations and C iterators, without a :meth:`reasons` call
        or a Python step each."""
        out = self.records.keys() | self.platform.keys()
        by_domain = self.by_domain
        flagged = set()
        for domain in domains:
            shared = by_domain.get(domain)
            if shared is None:
                shared = by_domain[domain] = self._domain_reasons(domain)
            if shared:
                flagged.add(domain)
        if flagged:
            out.update(compress(screened.normalised, map(flagged.__contains__, screened.domains)))
        if self.roles:
            names = screened.local_parts()
            if "+" in "".join(names):                          # compared without the +tag
                names = list(map(itemgetter(0), map(str.partition, names, repeat("+"))))
            present = self.roles.intersection(names) - {""}
            if present:
                out.update(compress(screened.normalised, map(present.__contains__, names)))
        return out

    def reasons(self, address: str) -> list[dict]:
        """Every reason of one of the :meth:`suspects`, which has already worked out its
        domain's domain-wide reasons and left out the addresses that have none."""
        at = address.rfind("@")
        domain = address[at + 1:]
        rec = self.records.get(address)
        role = address[:at].partition("+")[0]
        out = list(self.by_domain[domain])
        if address in self.platform:
            self._platform(address, out)
        if rec:
            mine = self.by_record.get(id(rec))
            if mine is None:
                mine = []
                if not self._record(rec, domain, mine):        # nothing in it depends on the domain
                    self.by_record[id(rec)] = mine
            out += mine
        if role in self.roles:
            out.append(self.reason("role_address", None, None, {"role": role}, scope=self._stream_scope()))
        if len(out) > 1:
            out.sort(key=lambda r: ORDER[r["code"]])
        return out

    def _domain_reasons(self, domain: str) -> list[dict]:
        out: list[dict] = []
        self._domain(domain, out)
        if self.wanted["disposable_domain"]:
            listed = disposable_match(domain, *self.disposable)
            if listed:
                out.append(self.reason("disposable_domain", None, None, {"listed": listed},
                                       scope=self._stream_scope()))
        return out

    # -- domain-wide facts ----------------------------------------------------------------
    def _domain(self, domain: str, out: list) -> None:
        fact = self.f.dns.get(domain)
        if fact is not None and fact.invalid and self.blocks("invalid_domain"):
            out.append(self.reason("invalid_domain", fact.checked, None,
                                   {"source": "dns", "dns": fact.status, "detail": fact.detail,
                                    "domain": domain}, scope=f"domain:{domain}"))
        if self.f.blocked and self.blocks("domain_blocked"):
            for c in domain_and_parents(domain):
                entry = self.f.blocked.get(c)
                if entry:
                    out.append(self.reason("domain_blocked", entry.get("t"), None, {"domain": c, "by": "operator"}))
                    break
        if self.f.companies and self.blocks("company_opted_out"):
            for c in domain_and_parents(domain):
                entry = self.f.companies.get(c)
                if entry:
                    ev = {"domain": c, **({"note": entry["note"]} if entry.get("note") else {})}
                    out.append(self.reason("company_opted_out", entry.get("t"), None, ev, scope=f"domain:{c}"))
                    break

    # -- platform-wide per-address facts ------------------------------------------------------
    def _platform(self, address: str, out: list) -> None:
        rec = self.platform[address]
        if self.blocks("platform_blocked"):
            if rec.get("o"):
                out.append(self.reason("platform_blocked", rec["o"].get("t"), None, {"by": "operator"}))
            elif self.complaint_tenants and len(rec.get("k") or {}) >= self.complaint_tenants:
                times = sorted((rec["k"]).values())
                out.append(self.reason("platform_blocked", times[self.complaint_tenants - 1], None,
                                       {"complaints_at_tenants": len(times)}))
        sharing = self.p.sharing
        if rec.get("b") and sharing.receive and self.blocks("globally_bounced"):
            window = sharing.within_days * DAY
            givers = self.f.givers
            others = [v for tn, v in rec["b"].items()
                      if tn != self.me and tn in givers and v[0] > self.now - window]
            if others:
                latest = max(others, key=lambda v: v[0])
                ev = {"reason": latest[1], "tenants": len(others)}
                if latest[2]:
                    ev["status"] = latest[2]
                out.append(self.reason("globally_bounced", latest[0], latest[0] + window, ev))

    # -- the tenant's record ------------------------------------------------------------------
    def _record(self, rec: dict, domain: str, out: list) -> bool:
        """The stored suppressions that stop this send (read from the raw record: a bulk
        check meets thousands of them); True when the answer depended on the address's
        domain (a bounce's invalid_domain, rechecked against DNS).

        A subscription-scoped opt-out applies to that subscription only; when the caller does
        not say which subscription the send belongs to, every opt-out counts (the safe side).
        A stream-restricted suppression applies to its stream only."""
        now, asked, subscription, wanted = self.now, self.stream, self.subscription, self.wanted
        domain_bound = False
        for key, s in (rec.get("s") or {}).items():
            until = s.get("u")
            if until is not None and until <= now:
                continue
            code = key.partition(":")[0]
            stream, sub = s.get("st"), s.get("sub")
            if stream:
                if asked and asked != stream and stream != records.ALL_STREAMS:
                    continue
            elif not wanted[code]:
                continue
            if sub and subscription and stored_subscription(sub) != subscription:
                continue
            since = s["t"]
            if code == "invalid_domain":
                domain_bound = True
                if self._domain_fixed(since, domain):
                    continue
            limits = self.limits.get((code, sub, stream))
            if limits is None:
                limits = self.limits[code, sub, stream] = records.stream_limits(
                    code, sub, stream, self.streams_of[code], SUPPRESSION_REASONS[code])
            out.append({"code": code, "scope": limits[0],
                        "since": records.iso(since), "until": records.iso(until),
                        "streams": limits[1], "evidence": records.evidence_out(s.get("e") or {})})
        if rec.get("f") and self.p.tracks_frequency:
            self._frequency(rec["f"], out)
        if rec.get("g") and self.p.tracks_engagement:
            self._engagement(rec["g"], out)
        return domain_bound

    def _domain_fixed(self, since: int, domain: str) -> bool:
        """A bounce said the domain was broken; past the recheck age, DNS has the last word."""
        rule = next((r for r in self.p.bounces.values() if r.suppress == "invalid_domain"), None)
        if rule is None or rule.recheck_dns_after_days is None:
            return False
        if self.now - since < rule.recheck_dns_after_days * DAY:
            return False
        fact = self.f.dns.get(domain)
        return fact is not None and fact.status == "ok"

    def _frequency(self, f: dict, out: list) -> None:
        month = month_of(self.now)
        for st in self.streams_asked:
            cap = self.p.cap(st)
            v = f.get(st)
            if not cap or not v or v[0] != month or v[1] < cap or not self.p.blocks("frequency_capped", st):
                continue
            start = month_end(month - 1)
            out.append(self.reason("frequency_capped", v[2] or start, month_end(month),
                                   {"messages_this_month": v[1], "cap": cap}, scope=f"stream:{st}", streams=[st]))

    def _engagement(self, g: dict, out: list) -> None:
        n = self.p.low_engagement.after_sends
        for st in self.streams_asked:
            v = g.get(st)
            if not v or v[0] < n or not self.p.blocks("low_engagement", st):
                continue
            ev = {"sends_without_engagement": v[0], "threshold": n, "last_engagement": records.iso(v[3] or None)}
            out.append(self.reason("low_engagement", v[2] or v[1], None, ev, scope=f"stream:{st}", streams=[st]))

    def _stream_scope(self) -> str:
        return f"stream:{self.stream}" if self.stream else "stream"
