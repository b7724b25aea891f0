"""One evaluation run, and its figures as text.

:func:`evaluate` parses every labelled entry once, scores the rules, the given model and
the combination on all of them (in-sample for a model trained on these sets), and, with
``leave_one_out``, the model and the combination again with models that never saw the
entry's family (:mod:`.holdout`). The result is plain data (``--json`` prints it as is).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from classifier.evaluation import holdout, scoring, sets
from classifier.evaluation.verdicts import MODES, answers, extract

#: The row of every set together.
ALL = "(all sets)"


def _figures(entries, per_mode: dict[str, list]) -> tuple[dict, dict]:
    by_set: dict[str, dict] = {}
    by_family: dict[str, dict] = {}
    for mode, ans in per_mode.items():
        outs = scoring.all_outcomes(entries, ans)
        for name, figs in scoring.by(outs, lambda o: o.set).items():
            by_set.setdefault(name, {})[mode] = figs
        by_set.setdefault(ALL, {})[mode] = scoring.figures(outs)
        for (name, fam), figs in scoring.by(outs, lambda o: (o.set, o.family)).items():
            by_family.setdefault(name, {}).setdefault(fam, {})[mode] = figs
    return by_set, by_family


def evaluate(model=None, version: str = "", shared: Path | None = None, only: set[str] | None = None,
             labels_dir: Path = sets.LABELS_DIR,
             leave_one_out: bool = False, k: int | None = None, jobs: int = 1,
             records: Sequence[dict] | None = None, seed: int = 0, params: dict | None = None,
             progress: Callable[[str], None] = lambda _: None) -> dict:
    """Figures of the rules, ``model`` (None: the packaged default) and both combined on the
    labelled sets; with ``leave_one_out``, also of models fitted on ``records`` (default: the
    packaged training data) without each family."""
    loaded = sets.load(shared, labels_dir, only=only)
    entries = loaded.entries
    for name, why in loaded.skipped.items():
        progress(f"skipped {name}: {why}")
    progress(f"parsing {len(entries)} labelled entries of {len(loaded.names())} set(s)")
    found = extract(entries)
    per_mode = {mode: answers(found, mode, model) for mode in MODES}
    by_set, by_family = _figures(entries, per_mode)
    result = {"model": version, "skipped": loaded.skipped, "sets": by_set, "families": by_family,
              "leave_one_out": None}
    if leave_one_out:
        if records is None:
            from classifier.training.dataset import data_files, load_records
            records = load_records(data_files())
        held = holdout.leave_one_out(entries, found, records, k, jobs, seed, params, progress)
        lo_set, lo_family = _figures(entries, held)
        n_folds = len(holdout.folds(dict.fromkeys({e.family for e in entries}, 1), k))
        result["leave_one_out"] = {"folds": n_folds, "sets": lo_set, "families": lo_family}
    return result


def _cell(f: dict | None) -> str:
    if not f or not f["n"]:
        return f"{'-':>5} {'-':>5} {'-':>5} {'-':>7}"
    rc = f"{f['recipient_exact']:.3f}" if f["recipient_exact"] is not None else "-"
    return f"{f['category']:5.3f} {f['reason']:5.3f} {rc:>5} {f['missed']:>3}/{f['false']:<3}"


def _table(title: str, rows: dict[str, dict], modes: Sequence[str], width: int = 26) -> list[str]:
    head = f"{title:<{width}}{'n':>5}  " + "  ".join(f"{m + ': cat   rsn  rcpt miss/false':<31}" for m in modes)
    out = [head]
    for name, per_mode in rows.items():
        n = next((f["n"] for f in per_mode.values() if f), 0)
        out.append(f"{name:<{width}}{n:>5}  " + "  ".join(f"{_cell(per_mode.get(m)):<31}" for m in modes))
    return out


def text(result: dict, families: bool = True) -> list[str]:
    """The figures as tables: per set, then (with ``families``) per family of each set."""
    lines = [f"model: {result['model'] or 'default'}"]
    for name, why in result["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    lines += ["", "in-sample (the model as it is):"] + _table("set", result["sets"], MODES)
    lo = result["leave_one_out"]
    if lo:
        lines += ["", f"leave-one-family-out ({lo['folds']} folds; rules as above):"]
        lines += _table("set", lo["sets"], holdout.MODEL_MODES)
    if families:
        for name, fams in result["families"].items():
            lines += [""]
            if lo:
                rows = {f: {"model": m.get("model"), "combined": m.get("combined"),
                            "model (lofo)": lo["families"].get(name, {}).get(f, {}).get("model"),
                            "combined (lofo)": lo["families"].get(name, {}).get(f, {}).get("combined")}
                        for f, m in fams.items()}
                lines += _table(f"{name} by family", rows, ("model", "combined", "model (lofo)", "combined (lofo)"))
            else:
                lines += _table(f"{name} by family", fams, MODES)
    return lines
