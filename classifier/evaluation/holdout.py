"""Leave-one-family-out: the model trained without a family, scored on that family.

A model scored on the mail it learnt from measures memory. What a user meets is the next
mail system's bounces, so each family (the MTA or vendor that wrote the report, as the
labels name it) is held out in turn: every training record of that family (real records
carry their ``family``, see :mod:`classifier.training.real`) is left out, a model is fitted
on the rest, and only the held-out family's entries are scored with it.

One fit per family costs minutes each, so families can be grouped into ``k`` folds
(:func:`folds`, balanced by size): every family is still scored by a model that never saw
it, fitted without a few other families too (a slightly harder test, never an easier one).
Folds run in ``jobs`` processes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from classifier.evaluation.sets import Entry
from classifier.evaluation.verdicts import Answer, Found, answers

#: The modes a held-out model changes (the rules' answers are the same with any model).
MODEL_MODES = ("model", "combined")


def folds(sizes: dict[str, int], k: int | None = None) -> list[list[str]]:
    """Families grouped into ``k`` folds of about equal size (one fold per family when ``k``
    is None or not smaller than the number of families). Deterministic: the largest family
    first, each into the lightest fold."""
    names = sorted(sizes, key=lambda f: (-sizes[f], f))
    if k is None or k >= len(names):
        return [[f] for f in sorted(names)]
    if k < 1:
        raise ValueError("folds must be at least 1")
    groups: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for f in names:
        i = min(range(k), key=lambda j: (load[j], j))
        groups[i].append(f)
        load[i] += sizes[f]
    return [sorted(g) for g in groups if g]


def without(records: Sequence[dict], families: set[str]) -> list[dict]:
    """The training records that are not of a held-out family."""
    return [r for r in records if r.get("family") not in families]


_RECORDS: Sequence[dict] = ()


def _init(records: Sequence[dict]) -> None:
    global _RECORDS
    _RECORDS = records


def _fold(job: tuple[list[str], list[list[Found]], int, dict]) -> dict[str, list[list[Answer]]]:
    from classifier.model.training import fit

    held, found, seed, params = job
    model = fit(without(_RECORDS, set(held)), seed, **params)
    return {mode: answers(found, mode, model) for mode in MODEL_MODES}


def leave_one_out(entries: Sequence[Entry], found: Sequence[Sequence[Found]], records: Sequence[dict],
                  k: int | None = None, jobs: int = 1, seed: int = 0, params: dict | None = None,
                  progress: Callable[[str], None] = lambda _: None) -> dict[str, list[list[Answer]]]:
    """For every entry, the answers of a model (and of the combination) trained without the
    entry's family: ``{mode: answers aligned with entries}`` for the modes of
    :data:`MODEL_MODES`."""
    sizes = Counter(e.family for e in entries)
    groups = folds(dict(sizes), k)
    jobs_list = []
    for held in groups:
        idx = [i for i, e in enumerate(entries) if e.family in held]
        jobs_list.append((held, [found[i] for i in idx], seed, dict(params or {})))
    progress(f"leave-one-out: {len(sizes)} families in {len(groups)} fold(s), {jobs} job(s)")
    out: dict[str, list] = {mode: [None] * len(entries) for mode in MODEL_MODES}
    if jobs <= 1:
        _init(records)
        results = map(_fold, jobs_list)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(records,))
        results = pool.map(_fold, jobs_list)
    try:
        for n, (held, result) in enumerate(zip(groups, results), 1):
            idx = [i for i, e in enumerate(entries) if e.family in held]
            for mode in MODEL_MODES:
                for i, a in zip(idx, result[mode]):
                    out[mode][i] = a
            progress(f"fold {n}/{len(groups)} done ({len(idx)} entries of {', '.join(held[:4])}"
                     f"{' ...' if len(held) > 4 else ''})")
    finally:
        if pool is not None:
            pool.shutdown()
    return out
