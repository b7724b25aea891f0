"""What the classifier answers for every labelled entry: recipients found, and verdicts
of the rules, the model and both combined.

Parsing is done once (:func:`extract`): the recipients and evidence of a message do not
depend on the model, so a leave-one-out run parses once and classifies many times.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from classifier.events import Evidence
from classifier.evaluation.sets import Entry

MODES = ("rules", "model", "combined")


@dataclass(frozen=True)
class Found:
    """A recipient the parser found, and its evidence (``recipient`` None for a reply text)."""

    recipient: str | None
    evidence: Evidence


@dataclass(frozen=True)
class Answer:
    """One found recipient and the verdict it was given (``reason`` None: no verdict)."""

    recipient: str | None
    reason: str | None
    category: str | None
    hard: bool
    confidence: float | None


def extract(entries: Iterable[Entry]) -> list[list[Found]]:
    """The recipients and evidence of each entry, as ``rebound classify`` finds them."""
    from classifier.parse import MessageError, parse_message

    out = []
    for e in entries:
        if e.text is not None:
            out.append([Found(None, Evidence(diagnostic=e.text))])
            continue
        try:
            report = parse_message(e.path.read_bytes())
        except (OSError, MessageError):
            out.append([])
            continue
        out.append([Found(r.recipient, r.evidence) for r in report.recipients])
    return out


def answers(found: Sequence[Sequence[Found]], mode: str, model=None, thresholds=None) -> list[list[Answer]]:
    """Verdicts in ``mode`` (``rules``, ``model``, ``combined``) for every found recipient,
    in one batch; ``model`` is a fitted model (None: the packaged default), ``thresholds``
    those of the decision procedure (None: :data:`classifier.combine.THRESHOLDS`)."""
    from classifier.combine import THRESHOLDS
    from classifier.engine import Classifier

    clf = Classifier(mode=mode, model=model, thresholds=thresholds or THRESHOLDS, cache_size=0, cache_bytes=0)
    flat = [f.evidence for fs in found for f in fs]
    verdicts = iter(clf.classify_many(flat))
    out = []
    for fs in found:
        row = []
        for f in fs:
            v = next(verdicts)
            row.append(Answer(f.recipient, v.reason if v else None, v.category if v else None,
                              bool(v.hard) if v else False, v.confidence if v else None))
        out.append(row)
    return out
