"""Scoring answers against labels: accuracy, recipients and harm, per set and per family.

Expected recipients are paired with answers as ``../shared/tools/eval_bounces.py`` pairs
them (by address first, then in order), so figures compare with that tool's. Each labelled
recipient counts once; an answer for a recipient nobody labelled counts only when it
suppresses (a false suppression of an address the message never failed for).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from classifier.evaluation.harm import label_suppresses, verdict_suppresses
from classifier.evaluation.sets import Entry
from classifier.evaluation.verdicts import Answer
from classifier.taxonomy import CATEGORY_OF

METRICS = ("n", "category", "reason", "recipients", "recipient_exact", "missed", "false")


@dataclass(frozen=True)
class Outcome:
    """One labelled recipient (or one unlabelled answer that suppressed) and how it went."""

    set: str
    family: str
    ref: str
    want: str | None          # the label's reason; None for an unlabelled answer
    got: str | None           # the verdict's reason; None when no answer was paired
    recipient_checked: bool   # the entry names recipients (a message, not a reply text)
    recipient_ok: bool
    missed: bool              # should suppress, does not
    false: bool               # suppresses, should not

    @property
    def labelled(self) -> bool:
        return self.want is not None


def _norm(addr: str | None) -> str:
    return (addr or "").strip().strip("<>").lower()


def align(expected: Sequence[dict], got: Sequence[Answer]) -> tuple[list[tuple[dict, Answer | None]], list[Answer]]:
    """(expected, answer or None) pairs, and the answers left over."""
    got = [g for g in got if g.recipient or g.reason]
    used: set[int] = set()
    pairs: list[list] = []
    for e in expected:
        match = next((j for j, g in enumerate(got) if j not in used and _norm(g.recipient)
                      and _norm(g.recipient) == _norm(e.get("recipient"))), None)
        pairs.append([e, match])
        if match is not None:
            used.add(match)
    rest = [j for j in range(len(got)) if j not in used]
    for pair in pairs:
        if pair[1] is None and rest:
            pair[1] = rest.pop(0)
            used.add(pair[1])
    leftover = [got[j] for j in range(len(got)) if j not in used]
    return [(e, got[j] if j is not None else None) for e, j in pairs], leftover


def outcomes(entry: Entry, got: Sequence[Answer]) -> list[Outcome]:
    pairs, leftover = align(entry.expected, got)
    checked = entry.path is not None
    out = []
    for e, a in pairs:
        sup = a is not None and verdict_suppresses(a.reason, a.hard, a.confidence)
        should = label_suppresses(e)
        out.append(Outcome(entry.set, entry.family, entry.ref, e["reason"], a.reason if a else None, checked,
                           a is not None and _norm(a.recipient) == _norm(e.get("recipient")),
                           should and not sup, sup and not should))
    for a in leftover:
        if verdict_suppresses(a.reason, a.hard, a.confidence):
            out.append(Outcome(entry.set, entry.family, entry.ref, None, a.reason, checked, False, False, True))
    return out


def all_outcomes(entries: Sequence[Entry], answers: Sequence[Sequence[Answer]]) -> list[Outcome]:
    return [o for e, a in zip(entries, answers) for o in outcomes(e, a)]


def figures(items: Iterable[Outcome]) -> dict:
    """n (labelled recipients), category and reason accuracy, recipient exact (messages
    only), missed and false suppressions."""
    n = cat = rsn = rn = rok = missed = false = 0
    for o in items:
        missed += o.missed
        false += o.false
        if not o.labelled:
            continue
        n += 1
        cat += o.got is not None and CATEGORY_OF[o.got] == CATEGORY_OF[o.want]
        rsn += o.got == o.want
        if o.recipient_checked:
            rn += 1
            rok += o.recipient_ok
    ratio = (lambda a, b: round(a / b, 4) if b else None)
    return {"n": n, "category": ratio(cat, n), "reason": ratio(rsn, n), "recipients": rn,
            "recipient_exact": ratio(rok, rn), "missed": missed, "false": false}


def by(items: Sequence[Outcome], key) -> dict[str, dict]:
    """Figures per value of ``key(outcome)`` (the set, the family, ...), in sorted order."""
    groups: dict[str, list[Outcome]] = {}
    for o in items:
        groups.setdefault(key(o), []).append(o)
    return {k: figures(v) for k, v in sorted(groups.items())}
