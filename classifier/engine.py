"""Turning evidence into a verdict.

The foundation has one rule layer, the status-code tables; the phrase rules and the model
plug in behind the same :meth:`Classifier.classify` so callers never change.
"""
from __future__ import annotations

import functools

from classifier.events import Evidence, Kind
from classifier.rules.status_codes import (
    CLASS_DEPENDENT_HARDNESS, lookup_reply, lookup_status, parse_status,
)
from classifier.verdict import Verdict

# Events whose kind alone settles the reason: nothing in their text can change it.
KIND_REASONS: dict[Kind, str] = {
    Kind.COMPLAINT: "feedback",
    Kind.DELIVERED: "delivered",
}


class Classifier:
    """Classify failure evidence; return None for events that need no verdict (opens, ...)."""

    def classify(self, evidence: Evidence) -> Verdict | None:
        if evidence.kind in KIND_REASONS:
            return Verdict.of(KIND_REASONS[evidence.kind], confidence=1.0, source="rule",
                              explanation=(f"kind:{evidence.kind.value}",))
        if not evidence.kind.is_failure:
            return None
        return _classify_failure(evidence.diagnostic, evidence.status, evidence.reply_code,
                                 evidence.kind)


@functools.lru_cache(maxsize=32768)
def _classify_failure(diagnostic: str, status: str | None, reply_code: str | None,
                      kind: Kind) -> Verdict:
    """Cached: ESP batches repeat the same diagnostic for many recipients."""
    found = lookup_status(status) or lookup_reply(reply_code)
    if found is None:
        return Verdict.of("undefined", confidence=0.1, source="rule", explanation=("no-rule-matched",))
    reason, confidence, rule = found
    hard = None
    if reason in CLASS_DEPENDENT_HARDNESS:
        parts = parse_status(status)
        cls = parts[0] if parts else (reply_code or " ")[0]
        hard = cls == "5"
    if kind is Kind.DEFERRAL:
        hard = False
    return Verdict.of(reason, confidence=confidence, source="rule", explanation=(rule,), hard=hard)
