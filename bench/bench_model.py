#!/usr/bin/env python3
"""Model predictions per second, in batches of 1,000 and one at a time, next to ceilings.

    python bench/bench_model.py [--model PATH.skops] [--batches 10] [--singles 1000]

Input: evidence built from the project's training corpus (distinct texts, so nothing is
served twice), as :class:`classifier.events.Evidence`. Printed for each measurement:
predictions per second. The ceilings are measured in the same run on the same batches:

- ``features only``: the feature transform alone (normalisation, hashed n-grams, codes);
- ``linear+calibration only``: the classifier on precomputed features;
- ``normalise only``: the text normalisation alone.

A prediction cannot be faster than either of the first two; the gap between the full figure
and their harmonic combination is overhead. A last line shows a realistic campaign batch
where the same diagnostics repeat (one block hitting many recipients), which the feature
step deduplicates.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.model.normalise import normalise_batch
from classifier.model.registry import DEFAULT_DIR, load_model
from classifier.training.dataset import data_files, load_records, to_evidence


def rate(n: int, fn, repeat: int = 3) -> float:
    """Best of ``repeat`` runs, in items per second."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_DIR / "model.skops"))
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--singles", type=int, default=1000)
    a = ap.parse_args()

    model = load_model(a.model)
    feats = model.pipeline_.named_steps["features"]
    records = load_records(data_files())
    random.Random(1).shuffle(records)
    evidence = [to_evidence(r) for r in records[: a.batches * 1000]]
    batches = [evidence[i:i + 1000] for i in range(0, len(evidence), 1000)]
    n = sum(len(b) for b in batches)
    model.predict_proba(batches[0])                      # warm-up

    full = rate(n, lambda: [model.predict_proba(b) for b in batches])
    X = [feats.matrix(b) for b in batches]
    f_only = rate(n, lambda: [feats.entries(b) for b in batches])
    c_only = rate(n, lambda: [model.proba_from_features(x) for x in X])
    texts = [[e.diagnostic for e in b] for b in batches]
    n_only = rate(n, lambda: [normalise_batch(t) for t in texts])
    singles = evidence[: a.singles]
    one = rate(len(singles), lambda: [model.predict_proba([e]) for e in singles], repeat=1)
    campaign = [random.Random(2).choice(evidence[:150]) for _ in range(1000)]
    camp = rate(1000 * 5, lambda: [model.predict_proba(campaign) for _ in range(5)])

    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"model: {a.model}")
    print(f"batches of 1,000 (distinct evidence): {full:10,.0f} predictions/s")
    print(f"  ceiling, features only:             {f_only:10,.0f} /s")
    print(f"  ceiling, linear+calibration only:   {c_only:10,.0f} /s")
    print(f"  ceiling, both stages back to back:  {1 / (1 / f_only + 1 / c_only):10,.0f} /s")
    print(f"  normalise only:                     {n_only:10,.0f} /s")
    print(f"one at a time:                        {one:10,.0f} predictions/s")
    print(f"campaign batch of 1,000 (150 distinct): {camp:8,.0f} predictions/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
