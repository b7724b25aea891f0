"""Turning evidence into a verdict.

Today the verdict is the rule engine's (:mod:`classifier.rules.engine`). The seam for
the model is :meth:`Classifier.classify`: a combiner can take the
:class:`~classifier.rules.engine.RuleResult` (verdict, matched rules, and whether the rules
were precise) and decide when to trust the model instead, without callers changing.
"""
from __future__ import annotations

from classifier.events import Evidence
from classifier.rules.engine import RuleEngine, RuleResult
from classifier.rules.provider_classes import combine as combine_provider
from classifier.verdict import Verdict


class Classifier:
    """Classify failure evidence; return None for events that need no verdict (opens, ...)."""

    def __init__(self, rules: RuleEngine | None = None):
        self.rules = rules or _default_engine()

    def classify(self, evidence: Evidence) -> Verdict | None:
        result = self.evaluate(evidence)
        verdict = result.verdict if result is not None else None
        if evidence.provider_class and evidence.kind.is_failure:
            # the ESP's own classification: evidence that corrects weak or unsafe verdicts
            verdict = combine_provider(verdict, evidence.provider_class, bool(result and result.precise))
        return verdict

    def evaluate(self, evidence: Evidence) -> RuleResult | None:
        """The rule engine's full answer (verdict, matched rules, precision), or None."""
        if not (evidence.kind.is_failure or evidence.kind.value in ("complaint", "delivered")):
            return None
        return self.rules.evaluate(evidence)


_ENGINE: RuleEngine | None = None


def _default_engine() -> RuleEngine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = RuleEngine()
    return _ENGINE
