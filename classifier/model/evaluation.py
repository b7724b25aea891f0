"""Scores of a model on labelled evidence: per fine reason, per category, and a picture.

Category scores matter most to users (the store acts on categories); fine-reason scores
show where the model confuses neighbours such as ``blocked`` and ``badreputation``.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from classifier.taxonomy import CATEGORIES, CATEGORY_OF, REASONS


def _per_label(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> dict:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                  "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, lab in enumerate(labels) if s[i] or np.isin(lab, y_pred)}


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """Accuracy and macro F1 at both levels, and precision/recall/F1 per reason and category."""
    y_true, y_pred = list(y_true), list(y_pred)
    if not y_true:
        raise ValueError("nothing to score: no labelled records")
    c_true = [CATEGORY_OF[y] for y in y_true]
    c_pred = [CATEGORY_OF[y] for y in y_pred]
    per_reason = _per_label(y_true, y_pred, list(REASONS))
    per_category = _per_label(c_true, c_pred, list(CATEGORIES))

    def macro(d: dict) -> float:
        supported = [v["f1"] for v in d.values() if v["support"]]
        return round(float(np.mean(supported)), 4) if supported else 0.0

    return {
        "n": len(y_true),
        "reason_accuracy": round(float(np.mean([a == b for a, b in zip(y_true, y_pred)])), 4),
        "category_accuracy": round(float(np.mean([a == b for a, b in zip(c_true, c_pred)])), 4),
        "reason_macro_f1": macro(per_reason),
        "category_macro_f1": macro(per_category),
        "per_reason": per_reason,
        "per_category": per_category,
    }


def confusion_png(y_true: Sequence[str], y_pred: Sequence[str], path: Path | str,
                  title: str = "", level: str = "reason") -> Path:
    """Write a confusion-matrix heat map (rows: truth, columns: prediction) as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if level == "category":
        y_true = [CATEGORY_OF[y] for y in y_true]
        y_pred = [CATEGORY_OF[y] for y in y_pred]
        order = list(CATEGORIES)
    else:
        order = list(REASONS)
    labels = [lab for lab in order if lab in set(y_true) | set(y_pred)]
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    size = max(6.0, 0.32 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(title or f"confusion matrix ({level}, row-normalised colour, counts)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
