"""Answering "may I send to X?" for one address or ten thousand.

The bulk path groups addresses by bucket and reads them with one HMGET per bucket in one
pipeline, so 10,000 addresses cost one round trip and about a thousand commands, not ten
thousand round trips.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import redis

from classifier.address import AddressError, normalise
from store import records
from store.keys import Keys, bucket_of
from store.policy import Policy
from store.reasons import SUPPRESSION_REASONS


@dataclass
class Answer:
    address: str                    # as asked
    normalised: str | None
    reasons: list[dict] = field(default_factory=list)

    @property
    def sendable(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict:
        return {"address": self.address, "normalised": self.normalised,
                "sendable": self.sendable, "reasons": self.reasons}


def _scope(s: records.Suppression) -> str:
    base = SUPPRESSION_REASONS[s.code]
    return f"subscription:{s.subscription}" if s.subscription else base


def reason_out(s: records.Suppression, policy: Policy) -> dict:
    return {
        "code": s.code,
        "scope": _scope(s),
        "since": records.iso(s.since),
        "until": records.iso(s.until),
        "streams": policy.streams.get(s.code, []),
        "evidence": records.evidence_out(s.evidence),
    }


def applies(s: records.Suppression, policy: Policy, stream: str | None,
            subscription: str | None) -> bool:
    """Whether a stored suppression stops this send.

    A subscription-scoped opt-out applies to that subscription only; when the caller does
    not say which subscription the send belongs to, every opt-out counts (the safe side).
    """
    if not policy.blocks(s.code, stream):
        return False
    if s.subscription and subscription and s.subscription != subscription.lower():
        return False
    return True


class Query:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def records_for(self, tenant: str, addresses: list[str]) -> dict[str, dict]:
        """Records of the given normalised addresses, in one pipelined round trip."""
        by_bucket: dict[int, list[str]] = defaultdict(list)
        for a in dict.fromkeys(addresses):
            by_bucket[bucket_of(a)].append(a)
        if not by_bucket:
            return {}
        pipe = self.r.pipeline(transaction=False)
        order = list(by_bucket.items())
        for b, addrs in order:
            pipe.hmget(self.keys.records(tenant, b), addrs)
        out: dict[str, dict] = {}
        for (b, addrs), values in zip(order, pipe.execute()):
            for a, v in zip(addrs, values):
                if v:
                    out[a] = records.decode(v)
        return out

    def check(self, tenant: str, addresses: list[str], policy: Policy, *, stream: str | None = None,
              subscription: str | None = None, now: float | None = None) -> list[Answer]:
        now = time.time() if now is None else now
        answers: list[Answer] = []
        for a in addresses:
            try:
                answers.append(Answer(a, normalise(a)))
            except AddressError as exc:
                answers.append(Answer(a, None, [{
                    "code": "invalid_syntax", "scope": "everywhere", "since": None, "until": None,
                    "streams": policy.streams["invalid_syntax"], "evidence": {"error": str(exc)},
                }]))
        found = self.records_for(tenant, [a.normalised for a in answers if a.normalised])
        for answer in answers:
            rec = found.get(answer.normalised) if answer.normalised else None
            if not rec:
                continue
            for s in records.suppressions(rec):
                if s.active(now) and applies(s, policy, stream, subscription):
                    answer.reasons.append(reason_out(s, policy))
        return answers
