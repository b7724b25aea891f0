"""Changes made by people: manual suppressions, unsuppressions, opt-ins, imports, the audit trail.

They go through the same apply script as events, so a manual change and an event racing
for the same address cannot lose each other's update, and both land in the history.

A person's change and its audit entry live in two slots (the address's bucket, the
tenant's trail), which a Redis Cluster cannot change in one step. So a change is three: its
intent is written in the tenant's slot (``Keys.intents``, under a new operation id); the
apply script makes the change with the operation id as its dedup marker, which keeps the
effects; then, in one MULTI in the tenant's slot, the audit entry (with what the change
did) is added and the intent removed. A crash between the steps leaves the intent, and
:meth:`Suppressions.recover` finishes it: the apply run again with the same id answers
the effects it had without changing anything twice (or makes the change, if it never
happened), and the audit follows. So there is never a lift without its audit entry, nor
an audit entry for a lift that did not happen.
"""
from __future__ import annotations

import logging
import secrets
import time

import orjson
import redis

from store import audit
from store.ingest import Ingest
from store.keys import Keys, bucket_of
from store.policy import Policy, month_of, policy_from_raw, suppression
from store.reasons import TENANT_SETTABLE
from store.records import check_time
from store.subscriptions import subscription_name

log = logging.getLogger("rebound.store")

#: Derived from counters rather than stored: unsuppressing them restarts the counts.
COUNTER_CODES = frozenset({"low_engagement", "frequency_capped"})
LIFTABLE = TENANT_SETTABLE | COUNTER_CODES


def reclassify_audit(intent: dict, effects: list[str]) -> list[bytes]:
    """A reclassification's audit entry for one address (none when it changed nothing)."""
    if not effects:
        return []
    return [orjson.dumps({"time": intent["time"], "action": "reclassify", "address": intent["address"],
                          "by": intent["by"], "classifier": intent["classifier"],
                          "added": [fx[1:] for fx in effects if fx[0] == "+"],
                          "lifted": [fx[1:] for fx in effects if fx[0] == "-"]})]


class NotSuppressed(LookupError):
    """DELETE of an address that has nothing a tenant can lift."""


def check_settable(code: str, subscription: str | None) -> None:
    if code not in TENANT_SETTABLE:
        raise ValueError(f"{code!r} cannot be set by hand; settable: {', '.join(sorted(TENANT_SETTABLE))}")
    if code == "unsubscribed" and not subscription:
        raise ValueError("code 'unsubscribed' needs a subscription (or use 'unsubscribed_all')")
    if subscription and code != "unsubscribed":
        raise ValueError("only 'unsubscribed' takes a subscription")


def unsuppress_ops(policy: Policy, codes: list[str] | None, t: int) -> list[dict]:
    """The operations of a person lifting ``codes`` (None: all a tenant can lift) at ``t``;
    shared with reclassification, which replays such lifts."""
    wanted = set(codes or LIFTABLE)
    ops: list[dict] = []
    stored = sorted(wanted & TENANT_SETTABLE)
    if stored:
        # a person's lift is not a late event: it lifts what is there, whenever it started
        # (a since ahead of the clock must not let a suppression outlive it)
        ops += [{"op": "lift", "keys": stored, "t": t, "any": 1},
                {"op": "reset", "ks": list(policy.bounces), "t": t, "any": 1}]
    if wanted & COUNTER_CODES:
        caps = {st: cap for st, cap in policy.frequency_cap.per_month.items() if cap}
        ops.append({"op": "clear", "t": t, "mon": month_of(t), "caps": caps,
                    "le": policy.low_engagement.after_sends or 0})
    return ops


class Suppressions:
    def __init__(self, client: redis.Redis, keys: Keys, ingest: Ingest):
        self.r = client
        self.keys = keys
        self.ingest = ingest

    def _policy(self, tenant: str) -> Policy:
        return policy_from_raw(self.r.get(self.keys.policy(tenant)))

    def _run(self, tenant: str, address: str, ops: list[dict], entry: dict, audit_entry: dict | None,
             history: str = "a", audit_lifts: dict | None = None):
        """``history`` "e": keep the entry only if it changed something (lifts of nothing
        leave no trace). ``audit_entry`` is audited after the change; ``audit_lifts`` too,
        with what it lifted, and only if it lifted something. Either way through an intent
        (the module's docstring)."""
        now = int(time.time())
        intent = {"time": now, "address": address, "ops": ops, "entry": {"time": now, **entry}, "history": history}
        if audit_entry is not None:
            intent["audit"] = {"time": now, **audit_entry}
        if audit_lifts is not None:
            intent["audit_lifts"] = {"time": now, **audit_lifts}
        op = secrets.token_hex(8)
        if audit_entry is not None or audit_lifts is not None:
            self.r.hset(self.keys.intents(tenant), op, orjson.dumps(intent))
            return self._finish(tenant, op, intent)
        return self._apply(tenant, op, intent, marker=False)      # nothing to audit: one step

    def _apply(self, tenant: str, op: str, intent: dict, marker: bool = True):
        """The change of an intent (again: the effects it had), with ``op`` as its dedup marker
        (``marker`` False: none, for a change with no audit entry to follow)."""
        command = self.ingest.command(tenant, intent["address"], f"op:{op}", intent["ops"],
                                      orjson.dumps(intent["entry"]), str(intent["time"]), history=intent["history"],
                                      op=op, dedup=marker)
        effects = self.ingest.effects(self.ingest.run([command])[0])
        self.ingest.daily.count_effects(tenant, effects or [], intent["time"])      # the console's overview
        return effects

    def _finish(self, tenant: str, op: str, intent: dict):
        """Apply an intent, then add its audit entry and remove it, in one step of the tenant's slot."""
        effects = self._apply(tenant, op, intent)
        lifted = [fx[1:] for fx in effects or [] if fx.startswith("-")]
        entries = []
        if intent.get("audit") is not None:
            entries.append(orjson.dumps(intent["audit"]))
        if intent.get("audit_lifts") is not None and lifted:
            entries.append(orjson.dumps({"lifted": lifted, **intent["audit_lifts"]}))
        audit.finish_intent(self.r, self.keys, tenant, op, entries)
        return effects

    def recover(self, tenant: str, older_than: float = 60) -> int:
        """Finish the tenant's changes left half done (a crash between the steps) whose intent
        is older than ``older_than`` seconds (younger ones may still be in progress); how many.
        One that Redis still refuses (a key of the wrong type...) stays for the next pass and
        is logged, without keeping the audit trail from being read."""
        now = time.time()
        done = 0
        for op, raw in self.r.hgetall(self.keys.intents(tenant)).items():
            intent = orjson.loads(raw)
            if now - intent["time"] < older_than:
                continue
            try:
                if intent.get("kind") == "reclassify":
                    self._finish_reclassified(tenant, op.decode(), intent)
                elif intent.get("kind") == "import":       # its rows are in; how many is not known
                    audit.finish_intent(self.r, self.keys, tenant, op.decode(), [orjson.dumps(
                        {"time": intent["time"], "action": "import", "by": intent["by"], "import": intent["import"],
                         "interrupted": True})])
                else:
                    self._finish(tenant, op.decode(), intent)
            except redis.exceptions.ResponseError:
                log.error("a change left half done could not be finished yet", exc_info=True,
                          extra={"tenant": tenant, "operation": op.decode(), "kind": intent.get("kind", "change")})
                continue
            done += 1
        return done

    def _finish_reclassified(self, tenant: str, op: str, intent: dict) -> None:
        """A reclassification's address (store/reclassify.py) whose audit was not written:
        its change ran if its marker is there (with the effects), else nothing happened."""
        mark = self.r.get(self.keys.dedup(tenant, bucket_of(intent["address"]), f"op:{op}"))
        effects = orjson.loads(mark.split(b"|", 1)[1]) if mark and mark.startswith(op.encode() + b"|") else []
        audit.finish_intent(self.r, self.keys, tenant, op, reclassify_audit(intent, effects))

    def suppress(self, tenant: str, address: str, *, actor: str, note: str | None = None,
                 code: str = "manual", subscription: str | None = None, stream: str | None = None,
                 until: int | None = None) -> list[str]:
        subscription = subscription_name(subscription)
        check_settable(code, subscription)
        now = int(time.time())
        if until is not None:
            until = check_time(until, "until")
            if until <= now:
                raise ValueError("until is in the past")
        evidence = {"by": actor, **({"note": note} if note else {})}
        sup = suppression(code, now, evidence, sub=subscription, stream=stream, policy=self._policy(tenant))
        if until is not None:
            sup["u"] = int(until)
        entry = {k: v for k, v in {"kind": "suppress", "code": code, "by": actor, "note": note,
                                   "subscription": subscription, "stream": stream, "until": until}.items()
                 if v is not None}
        audit = {"action": "suppress", "address": address, **entry}
        return self._run(tenant, address, [{"op": "suppress", "sup": sup}], entry, audit)

    def unsuppress(self, tenant: str, address: str, *, actor: str, note: str, policy: Policy,
                   codes: list[str] | None = None) -> list[str]:
        """Lift the given codes (default: everything the tenant can lift) and reset counters."""
        unknown = sorted(set(codes or ()) - LIFTABLE)
        if unknown:
            raise ValueError(f"{unknown} cannot be lifted by a tenant; liftable: {', '.join(sorted(LIFTABLE))}")
        now = int(time.time())
        ops = unsuppress_ops(policy, codes, now)
        entry = {"kind": "unsuppress", "by": actor, "note": note, **({"codes": codes} if codes else {})}
        # the lift and its audit entry are one step: no lift without its audit, ever
        effects = self._run(tenant, address, ops, entry, None, history="e",
                            audit_lifts={"action": "unsuppress", "address": address, "by": actor, "note": note})
        lifted = [fx[1:] for fx in effects or [] if fx.startswith("-")]
        if not lifted:
            raise NotSuppressed(address)
        return lifted

    # -- double opt-in -------------------------------------------------------------------------
    def pending_opt_in(self, tenant: str, addresses: list[str], *, actor: str, note: str | None = None) -> int:
        """Mark addresses as waiting for their double opt-in confirmation; returns how many are new."""
        now = int(time.time())
        evidence = {"by": actor, **({"note": note} if note else {})}
        op = orjson.dumps([{"op": "suppress", "sup": suppression("unconfirmed_opt_in", now, evidence)}])
        entry = orjson.dumps({"time": now, "kind": "opt_in_pending", "by": actor})
        replies = self._bulk(tenant, [(a, op) for a in addresses], entry, now)
        return sum(1 for r in replies if r and b"+unconfirmed_opt_in" in r)

    def confirm_opt_in(self, tenant: str, address: str, *, actor: str) -> bool:
        """The address confirmed: lift ``unconfirmed_opt_in``. False if it was not pending."""
        now = int(time.time())
        effects = self._run(tenant, address, [{"op": "lift", "keys": ["unconfirmed_opt_in"], "t": now, "any": 1}],
                            {"kind": "opt_in_confirmed", "by": actor}, None, history="e")
        return bool(effects)

    # -- bulk (imports) -------------------------------------------------------------------------
    def _bulk(self, tenant: str, rows: list[tuple[str, bytes]], entry: bytes, now: int) -> list:
        """Run the apply script for many addresses in one pipeline (no dedup marker)."""
        commands = []
        for address, ops in rows:
            b = bucket_of(address)
            commands.append(("EVALSHA", self.ingest.script.sha, 3, self.keys.records(tenant, b),
                             self.keys.records(tenant, b), self.keys.history(tenant, b, address),
                             address, ops, entry, "0", str(self.ingest.history_max), str(now), "a",
                             str(self.ingest.history_seconds)))
        return self.ingest.run(commands)

    def import_rows(self, tenant: str, rows: list[dict], *, actor: str, import_id: str) -> int:
        """Suppress each row's address ({address, code, subscription?, stream?, since?, until?, note?}).

        No per-address history entry (an import can be millions of addresses): the
        suppression's evidence names only the import; who imported what, when and from where
        is in the audit trail's one entry per import. Returns how many suppressions were new.

        Each call (re)writes the import's intent (the rows are in other slots than the
        trail): :meth:`audit_import` replaces it with the audit entry; an import that stopped
        for good (a minute without a batch) is audited by the recovery pass as interrupted.
        """
        now = int(time.time())
        self.r.hset(self.keys.intents(tenant), f"import:{import_id}",
                    orjson.dumps({"kind": "import", "time": now, "by": actor, "import": import_id}))
        policy = self._policy(tenant)
        batch = []
        for row in rows:
            evidence = {"import": import_id, **({"note": row["note"]} if row.get("note") else {})}
            sup = suppression(row["code"], int(row.get("since") or now), evidence,
                              sub=row.get("subscription"), stream=row.get("stream"), policy=policy)
            if row.get("until"):
                sup["u"] = int(row["until"])
            batch.append((row["address"], orjson.dumps([{"op": "suppress", "sup": sup}])))
        replies = self._bulk(tenant, batch, b"", now)
        added = [fx for r in replies if r and r != b"[]" for fx in orjson.loads(r)]
        self.ingest.daily.count_effects(tenant, added, now)
        return sum(1 for r in replies if r and r != b"[]")

    def audit_import(self, tenant: str, *, actor: str, import_id: str, imported: int, rejected: int,
                     source: str | None) -> None:
        entry = {"time": int(time.time()), "action": "import", "by": actor, "import": import_id, "new": imported,
                 "rejected": rejected, **({"source": source} if source else {})}
        audit.finish_intent(self.r, self.keys, tenant, f"import:{import_id}", [orjson.dumps(entry)])

    # -- reading -------------------------------------------------------------------------------
    def history(self, tenant: str, address: str, limit: int = 100) -> list[dict]:
        """The address's history, newest first, times in ISO 8601 UTC (stored as epoch seconds)."""
        raw = self.r.lrange(self.keys.history(tenant, bucket_of(address), address), 0, limit - 1)
        return [audit.iso_time(orjson.loads(x)) for x in raw]

    def audit(self, tenant: str, count: int = 100) -> list[dict]:
        """The newest entries, after finishing changes left half done (:meth:`recover`)."""
        self.recover(tenant)
        return audit.read(self.r, self.keys.audit(tenant), count)
