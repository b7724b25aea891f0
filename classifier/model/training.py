"""Training a model from JSONL files, with held-out metrics and reproducible metadata.

One procedure serves ``rebound train``, the default model shipped in the package, and the
tests: split the records into train and held-out sets keeping each template's records on
one side (so the held-out score measures unseen phrasings, not near-copies), fit and score,
then fit the final model on everything. Same files and seed give the same split, the same
model and the same metrics, which is what lets anyone check that the shipped model is the
one the corpus produces.
"""
from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy
import sklearn
import skops

from classifier.model.estimator import BounceModel
from classifier.model.evaluation import scores
from classifier.model.location import DEFAULT_HOLDOUT, DEFAULT_SEED, EXTRA_WEIGHT  # noqa: F401  (re-exported)
from classifier.training.dataset import data_files, fingerprint, group_of, load_records



def holdout_split(records: list[dict], seed: int, holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out records. A whole group (template) goes to one
    side, decided by a hash of the seed and the group's name: adding or editing a template
    moves no other template across, so scores of models built from successive versions of
    the corpus stay comparable."""
    cut = int(holdout * 10_000)
    test = np.array([int(hashlib.sha1(f"{seed}:{group_of(r)}".encode()).hexdigest()[:8], 16) % 10_000 < cut
                     for r in records], dtype=bool)
    return np.flatnonzero(~test), np.flatnonzero(test)


def fit(records: list[dict], seed: int = DEFAULT_SEED, **params) -> BounceModel:
    weights = [float(r.get("weight", 1.0)) for r in records]
    return BounceModel(seed=seed, **params).fit(
        records, [r["reason"] for r in records], groups=[group_of(r) for r in records],
        sample_weight=None if all(w == 1.0 for w in weights) else weights)


def train(files: Iterable[Path | str], seed: int = DEFAULT_SEED, holdout: float = DEFAULT_HOLDOUT,
          params: dict | None = None, progress: Callable[[str], None] = lambda _: None,
          extra: Iterable[Path | str] = (), extra_weight: float = EXTRA_WEIGHT,
          ) -> tuple[BounceModel, dict]:
    """Train on ``files`` plus ``extra`` labelled files (analysts' labels: each record weighs
    ``extra_weight`` unless it states its own ``weight``); return the final model and its
    metadata (metrics on the held-out split, or none when ``holdout`` is 0)."""
    extra = [Path(f) for f in extra]
    files = [Path(f) for f in files] + extra
    params = dict(params or {})
    records = load_records(files[: len(files) - len(extra)])
    for rec in load_records(extra):
        rec.setdefault("weight", extra_weight)
        records.append(rec)
    progress(f"loaded {len(records)} records from {len(files)} file(s)")
    metrics = None
    if holdout:
        tr, te = holdout_split(records, seed, holdout)
        progress(f"fitting on {len(tr)} records to score {len(te)} held-out records")
        m = fit([records[i] for i in tr], seed, **params)
        held = [records[i] for i in te]
        metrics = scores([r["reason"] for r in held], m.predict(held))
        progress(f"held-out: reason accuracy {metrics['reason_accuracy']}, "
                 f"category accuracy {metrics['category_accuracy']}")
    progress(f"fitting the final model on all {len(records)} records")
    model = fit(records, seed, **params)
    meta = {
        "created": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "seed": seed,
        "holdout": holdout,
        "training_files": [f.name for f in files],
        "extra_files": [f.name for f in extra],
        "extra_weight": extra_weight if extra else None,
        "training_data_fingerprint": fingerprint(files),
        "n_records": len(records),
        "classes": [str(c) for c in model.classes_],
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
        "metrics": metrics,
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__, "skops": skops.__version__},
        "sklearn_version": sklearn.__version__,
    }
    progress("done")
    return model, meta


def default_files() -> list[Path]:
    return data_files()
