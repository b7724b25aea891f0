"""Re-running a tenant's stored history through another classifier, and what that changes.

Each address's history keeps, per event, the evidence the classifier read and the verdict it
gave. A reclassification classifies that evidence again (with another model, another mode,
new rules) and asks, per address whose verdicts changed: which suppressions would the new
verdicts have imposed that the old ones did not, and the other way round?

The answer comes from the policy and the apply script themselves, not from a second
implementation of them: the address's history is replayed, oldest first, through
``store/apply.lua`` into a scratch record once with the old verdicts and once with the new
ones (bounces, deferrals and drops with their verdicts; deliveries, which lift and reset;
people's lifts, which the replays honour). Only the bounce-derived suppressions the two
replays disagree on are changes:

- **add** a suppression the new replay has, the old one does not, and the record lacks;
- **lift** one the old replay has, the new one does not, and the record holds *because of a
  bounce* (its evidence names a reason; never a suppression a person set, an import, a
  complaint or an opt-out, nor one a person suppressed by hand in this address's history).

Trimmed history (``REBOUND_HISTORY_MAX`` entries per address): the replays start from the
oldest retained event, so they can only under-count, never invent bounces. A suppression
that started before the oldest retained event may have been caused by an event that is no
longer there: it is never lifted, and is reported as ``kept`` with the reason. Counters of
bounces below a threshold are not rewritten; addresses whose whole history expired
(``REBOUND_HISTORY_DAYS``) have nothing to re-run and are not touched.

Dry run by default (nothing is written but the scratch records, deleted at once). Applying
goes through the apply script (operation ``recl``) atomically per address, under WATCH so a
concurrent event makes it recompute; the changed history entries get the new verdict (the
old one is kept beside it, under ``reclassified``), a ``reclassify`` history entry and an
audit entry record what changed. Running it again changes nothing: the history now holds
the verdicts in effect.
"""
from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis

from classifier.events import Evidence, Event, Kind
from classifier.verdict import Verdict
from store import audit
from store.client import storage
from store.keys import bucket_of
from store.policy import Policy, plan
from store.records import iso
from store.suppressions import reclassify_audit, unsuppress_ops

#: Addresses read and classified together.
BATCH = 200
#: Attempts to apply one address while events keep arriving for it.
ATTEMPTS = 5
_FAILURES = frozenset(k.value for k in Kind if k.is_failure)
_VERDICT_SUMMARY = ("reason", "category", "hard", "confidence", "source")


def verdict_from(d: dict | None) -> Verdict | None:
    if not d:
        return None
    return Verdict(d["reason"], d["category"], bool(d["hard"]), float(d["confidence"]), d["source"],
                   tuple(d.get("explanation") or ()), d.get("review_reason"))


def _summary(d: dict | None) -> dict | None:
    return {k: d[k] for k in _VERDICT_SUMMARY} if d else None


def evidence_of(entry: dict) -> Evidence:
    return Evidence(diagnostic=entry.get("diagnostic") or "", status=entry.get("status"),
                    reply_code=entry.get("reply_code"), smtp_phase=entry.get("smtp_phase"),
                    remote_mta=entry.get("remote_mta"), provider=entry.get("reporter") or entry.get("provider"),
                    provider_class=entry.get("provider_class"), kind=Kind(entry["kind"]))


def event_of(tenant: str, address: str, entry: dict) -> Event:
    return Event(tenant=tenant, recipient=address, kind=Kind(entry["kind"]), provider=entry.get("provider") or "",
                 event_id=str(entry.get("id") or ""), time=datetime.fromtimestamp(entry["time"], UTC),
                 stream=entry.get("stream"), subscription=entry.get("subscription"), status=entry.get("status"),
                 reply_code=entry.get("reply_code"), diagnostic=entry.get("diagnostic"),
                 remote_mta=entry.get("remote_mta"), smtp_phase=entry.get("smtp_phase"),
                 provider_class=entry.get("provider_class"), message_id=entry.get("message_id"),
                 reporter=entry.get("reporter"))


def changed(old: dict | None, new: Verdict | None, policy: Policy) -> bool:
    """Whether the new verdict differs in anything the policy or an analyst acts on."""
    if new is None or old is None:
        return (new is None) != (old is None)
    return ((old["reason"], old["category"], bool(old["hard"])) != (new.reason, new.category, new.hard)
            or (old["confidence"] >= policy.min_confidence) != (new.confidence >= policy.min_confidence))


@dataclass
class AddressChange:
    address: str
    events: list[dict]                        # {event_id, kind, time, old, new}
    add: list[str] = field(default_factory=list)
    lift: list[str] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)    # {code, why}: a lift not made, and why
    applied: list[str] | None = None          # effects once applied (None: dry run)

    def to_dict(self) -> dict:
        out = {"address": self.address, "events": self.events, "add": self.add, "lift": self.lift}
        if self.kept:
            out["kept"] = self.kept
        if self.applied is not None:
            out["applied"] = self.applied
        return out


@dataclass
class Totals:
    addresses: int = 0
    events: int = 0
    changed_events: int = 0
    changed_addresses: int = 0
    add: int = 0
    lift: int = 0
    kept: int = 0
    applied_add: int = 0
    applied_lift: int = 0


@dataclass
class _Plan:
    """One address: what was read, what the new verdicts are, what would change."""

    address: str
    raw_entries: list[bytes]
    record_raw: bytes | None
    entries: list[dict]                       # decoded, newest first (as stored)
    new: dict[int, Verdict]                   # index in entries -> new verdict (changed ones)
    change: AddressChange
    add_sups: list[dict] = field(default_factory=list)   # the suppressions to add, as the new replay made them


class Reclassification:
    """A reclassification of one tenant's history (see the module docstring).

    ``classify_many``: evidence -> verdicts, e.g. ``Classifier.classify_many`` of the model or
    mode to try; ``since``: only events at or after this time (epoch seconds) are classified
    again (older ones keep their verdicts, and still count in the replays); ``label`` names the
    classifier in history and audit entries (e.g. ``model:<version>``).
    """

    def __init__(self, store, tenant: str, classify_many: Callable[[list[Evidence]], list[Verdict | None]], *,
                 since: int | None = None, label: str = "", actor: str = "cli", now: int | None = None):
        self.store, self.tenant, self.classify_many = store, tenant, classify_many
        self.r: redis.Redis = store.r
        self.keys = store.keys
        self.ingest = store.ingest
        self.policy: Policy = store.policy(tenant)
        self.since, self.label, self.actor = since, label, actor
        self.now = int(time.time()) if now is None else now
        self.run_id = uuid.uuid4().hex[:8]
        self.totals = Totals()
        self.derived = self._derived_codes(self.policy)
        self._key_re = re.compile(re.escape(f"{self.keys.p}:t:{{{tenant}.") + r"(\d+)\}:h:(.+)$", re.S)

    @staticmethod
    def _derived_codes(policy: Policy) -> frozenset[str]:
        """Suppression codes a bounce can impose under this policy."""
        codes = set()
        for rule in policy.bounces.values():
            if rule.suppress:
                codes.add(rule.suppress)
                if rule.escalate:
                    codes.add(rule.escalate.to or rule.suppress)
        return frozenset(codes)

    # -- reading --------------------------------------------------------------------------------
    def addresses(self) -> Iterator[str]:
        """Every address of the tenant that has a history (SCAN: read-only, incremental)."""
        for key in self.r.scan_iter(match=self.keys.history_pattern(self.tenant), count=1000):
            m = self._key_re.match(key.decode("utf-8", "surrogateescape"))
            if m:
                yield m.group(2)

    def run(self, apply: bool = False, progress: Callable[[Totals], None] | None = None
            ) -> Iterator[AddressChange]:
        """The changes, address by address (applied as they come when ``apply``)."""
        if apply:
            self.ingest.load_script()
        batch: list[str] = []
        for address in self.addresses():
            batch.append(address)
            if len(batch) >= BATCH:
                yield from self._batch(batch, apply)
                batch = []
                if progress:
                    progress(self.totals)
        if batch:
            yield from self._batch(batch, apply)
        if progress:
            progress(self.totals)

    def _read(self, addresses: list[str]) -> list[tuple[list[bytes], bytes | None]]:
        pipe = self.r.pipeline(transaction=False)
        for a in addresses:
            b = bucket_of(a)
            pipe.lrange(self.keys.history(self.tenant, b, a), 0, -1)
            pipe.hget(self.keys.records(self.tenant, b), a)
        out = pipe.execute()
        return list(zip(out[0::2], out[1::2]))

    def _batch(self, addresses: list[str], apply: bool) -> Iterator[AddressChange]:
        plans = self._plans(addresses, self._read(addresses))
        for p in plans:
            if apply:
                self._apply(p)
            self._count(p.change)
            yield p.change

    def _count(self, change: AddressChange) -> None:
        t = self.totals
        t.changed_addresses += 1
        t.changed_events += len(change.events)
        t.add += len(change.add)
        t.lift += len(change.lift)
        t.kept += len(change.kept)
        for fx in change.applied or ():
            if fx.startswith("+"):
                t.applied_add += 1
            else:
                t.applied_lift += 1

    # -- planning -------------------------------------------------------------------------------
    def _plans(self, addresses: list[str], read: list[tuple[list[bytes], bytes | None]], count: bool = True
               ) -> list[_Plan]:
        """Classify the batch's evidence in one call, then replay the addresses whose verdicts changed."""
        decoded, wanted = [], []
        for address, (raw_entries, record_raw) in zip(addresses, read):
            entries = [orjson.loads(x) for x in raw_entries]
            decoded.append((address, raw_entries, record_raw, entries))
            for i, e in enumerate(entries):
                if self._reclassifiable(e):
                    wanted.append((len(decoded) - 1, i))
        if count:
            self.totals.addresses += len(addresses)
            self.totals.events += len(wanted)
        verdicts = self.classify_many([evidence_of(decoded[a][3][i]) for a, i in wanted]) if wanted else []
        new_by_address: dict[int, dict[int, Verdict]] = {}
        for (a, i), v in zip(wanted, verdicts):
            if changed(decoded[a][3][i].get("verdict"), v, self.policy):
                new_by_address.setdefault(a, {})[i] = v
        plans = [self._plan(*decoded[a], new) for a, new in new_by_address.items()]
        self._replay_all(plans)
        return plans

    def _reclassifiable(self, entry: dict) -> bool:
        return (entry.get("kind") in _FAILURES and "verdict" in entry
                and (self.since is None or entry.get("time", 0) >= self.since))

    def _plan(self, address: str, raw_entries: list[bytes], record_raw: bytes | None, entries: list[dict],
              new: dict[int, Verdict]) -> _Plan:
        events = [{"event_id": entries[i].get("id"), "kind": entries[i]["kind"], "time": iso(entries[i]["time"]),
                   "old": _summary(entries[i].get("verdict")), "new": _summary(v.to_dict())}
                  for i, v in sorted(new.items(), key=lambda kv: -kv[0])]
        return _Plan(address, raw_entries, record_raw, entries, new, AddressChange(address, events))

    def _ops(self, p: _Plan, use_new: bool) -> list[bytes]:
        """The address's history as apply-script operations, oldest first."""
        out = []
        for i in range(len(p.entries) - 1, -1, -1):
            e = p.entries[i]
            kind = e.get("kind")
            if kind in _FAILURES:
                verdict = p.new[i] if use_new and i in p.new else verdict_from(e.get("verdict"))
                ops = plan(event_of(self.tenant, p.address, e), verdict, self.policy)
            elif kind == Kind.DELIVERED.value:
                ops = [op for op in plan(event_of(self.tenant, p.address, e), None, self.policy) if op["op"] != "msg"]
            elif kind == "unsuppress":
                ops = unsuppress_ops(self.policy, e.get("codes"), int(e["time"]))
            else:
                continue
            if ops:
                out.append(orjson.dumps(ops))
        return out

    def _replay_all(self, plans: list[_Plan]) -> None:
        """Replay each plan's history twice in scratch records (one pipeline for the batch),
        then work out the changes against the real record."""
        if not plans:
            return
        sha, now = self.ingest.script.sha, str(self.now)
        commands: list[tuple] = []
        reads = []
        for p in plans:
            b = bucket_of(p.address)
            scratch = self.keys.scratch(self.tenant, b)
            fields = (f"{self.run_id}:o:{p.address}", f"{self.run_id}:n:{p.address}")
            for fld, use_new in zip(fields, (False, True)):
                for ops in self._ops(p, use_new):
                    commands.append(("EVALSHA", sha, 3, scratch, scratch, scratch, fld, ops, "", "0", "1",
                                     now, "e", "0"))
            reads.append(len(commands))
            commands += [("HMGET", scratch, *fields), ("HDEL", scratch, *fields), ("EXPIRE", scratch, 600)]
        replies = self.ingest.run(commands)
        for p, at in zip(plans, reads):
            old_raw, new_raw = replies[at]
            self._compare(p, _sups(old_raw), _sups(new_raw))

    def _compare(self, p: _Plan, old: dict, new: dict) -> None:
        record = _sups(p.record_raw)
        manual = {e.get("code") for e in p.entries if e.get("kind") == "suppress"}
        trimmed_before = p.entries[-1]["time"] if len(p.entries) >= self.ingest.history_max else None
        c = p.change
        for key in sorted(set(new) - set(old)):
            if key.split(":")[0] in self.derived and not _active(record.get(key), self.now):
                c.add.append(key)
        for key in sorted(set(old) - set(new)):
            if key.split(":")[0] not in self.derived:
                continue
            cur = record.get(key)
            if not _active(cur, self.now):
                continue
            e = cur.get("e") or {}
            if key in manual or not e.get("r") or e.get("by") or e.get("import"):
                c.kept.append({"code": key, "why": "set by a person or an import, not by a bounce"})
            elif trimmed_before is not None and cur["t"] < trimmed_before:
                c.kept.append({"code": key, "why": "started before the oldest event still in the history "
                                                   "(history trimmed): its cause cannot be re-examined"})
            else:
                c.lift.append(key)
        p.add_sups = [dict(new[k], key=k) for k in c.add]

    # -- applying -------------------------------------------------------------------------------
    def _apply(self, p: _Plan) -> None:
        """Apply one address's plan atomically, recomputing it if an event arrives meanwhile.

        Its audit entry is in the tenant's slot, the change in the address's: the change is
        announced first (an intent, store/suppressions.py), made with the operation id as
        its dedup marker (which keeps the effects), then audited; a recovery pass finishes
        an address left between the steps."""
        b = bucket_of(p.address)
        hkey, rkey = self.keys.history(self.tenant, b, p.address), self.keys.records(self.tenant, b)
        op = secrets.token_hex(8)
        intent = {"kind": "reclassify", "time": self.now, "address": p.address, "by": self.actor,
                  "classifier": self.label}
        self.r.hset(self.keys.intents(self.tenant), op, orjson.dumps(intent))
        for _ in range(ATTEMPTS):
            with storage(self.r).transaction(hkey, rkey) as pipe:
                try:
                    pipe.watch(hkey, rkey)
                    raw_entries, record_raw = pipe.lrange(hkey, 0, -1), pipe.hget(rkey, p.address)
                    if raw_entries != p.raw_entries or record_raw != p.record_raw:
                        fresh = self._plans([p.address], [(raw_entries, record_raw)], count=False)
                        if not fresh:
                            p.change.add, p.change.lift, p.change.applied = [], [], []
                            audit.finish_intent(self.r, self.keys, self.tenant, op, [])
                            return
                        p.raw_entries, p.record_raw, p.entries, p.new = (fresh[0].raw_entries, fresh[0].record_raw,
                                                                         fresh[0].entries, fresh[0].new)
                        p.change, p.add_sups = fresh[0].change, fresh[0].add_sups
                    pipe.multi()
                    for i, v in p.new.items():
                        pipe.lset(hkey, i, self._rewritten(p.entries[i], v))
                    change = {"op": "recl", "add": p.add_sups, "lift": p.change.lift}
                    entry = {"time": self.now, "kind": "reclassify", "by": self.actor, "classifier": self.label,
                             "events": [e["event_id"] for e in p.change.events]}
                    self.ingest.queue(pipe, self.tenant, p.address, f"op:{op}", [change], orjson.dumps(entry),
                                      str(self.now), history="e", op=op)
                    effects = self.ingest.effects(pipe.execute()[-1]) or []
                except redis.WatchError:
                    continue
            p.change.applied = effects
            audit.finish_intent(self.r, self.keys, self.tenant, op, reclassify_audit(intent, effects))
            return
        audit.finish_intent(self.r, self.keys, self.tenant, op, [])          # nothing was changed
        raise RuntimeError(f"{p.address}: events kept arriving while applying; run again")

    def _rewritten(self, entry: dict, v: Verdict) -> bytes:
        out = dict(entry)
        out["reclassified"] = {"at": self.now, "by": self.actor, "classifier": self.label,
                               "from": _summary(entry.get("verdict"))}
        out["verdict"] = v.to_dict()
        return orjson.dumps(out)


def _sups(raw: bytes | None) -> dict:
    return (orjson.loads(raw).get("s") or {}) if raw else {}


def _active(sup: dict | None, now: int) -> bool:
    return sup is not None and (sup.get("u") is None or sup["u"] > now)


__all__ = ["AddressChange", "Reclassification", "Totals"]
