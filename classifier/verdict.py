"""The classifier's answer for one piece of evidence."""
from __future__ import annotations

from dataclasses import dataclass

from classifier.taxonomy import reason as _reason

SOURCES = ("rule", "model", "provider", "combined")
#: Why a verdict should be looked at by an analyst (``Verdict.review``); see
#: :mod:`classifier.combine` for when each is set.
REVIEW_REASONS = ("unknown", "low-confidence", "conflict")


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: str
    category: str
    hard: bool
    confidence: float
    source: str
    #: Short, human-readable grounds: the names of the rules that decided, or the model's
    #: strongest features. Analysts read this when they review a verdict.
    explanation: tuple[str, ...] = ()
    #: Why this verdict should go to the review queue, or None: ``unknown`` (category
    #: undecided), ``low-confidence``, ``conflict`` (rules and model disagree).
    review: str | None = None

    @property
    def needs_review(self) -> bool:
        return self.review is not None

    @classmethod
    def of(cls, reason: str, *, confidence: float, source: str,
           explanation: tuple[str, ...] | list[str] = (), hard: bool | None = None,
           review: str | None = None) -> Verdict:
        """Build a verdict from a fine reason, taking category and hardness from the taxonomy.

        ``hard`` overrides the taxonomy's default where the evidence says otherwise (a 4xx
        ``notaccept`` is soft); reports that are not bounces (complaints, auto-replies,
        deliveries) are never hard.
        """
        r = _reason(reason)
        if source not in SOURCES:
            raise ValueError(f"unknown verdict source {source!r}")
        if review is not None and review not in REVIEW_REASONS:
            raise ValueError(f"unknown review reason {review!r}")
        is_hard = bool(r.hard) if hard is None else bool(hard and r.hard is not None)
        return cls(reason, r.category, is_hard, round(float(confidence), 4), source,
                   tuple(explanation), review)

    def to_dict(self) -> dict:
        return {
            "reason": self.reason,
            "category": self.category,
            "hard": self.hard,
            "confidence": self.confidence,
            "source": self.source,
            "explanation": list(self.explanation),
            "needs_review": self.review is not None,
            "review_reason": self.review,
        }
