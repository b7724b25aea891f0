"""Throughput of the raw-bounce classify path over the shared corpus, next to its ceilings.

    python bench/bench_classify.py [--passes 5] [--corpus ../shared/corpus/bounces]

Measured in one process, files read into memory first (process start and disk excluded):

- ``classify (combined)``: ``parse_message`` for every message, then
  ``Classifier.classify_many`` over all recipients (rules, and the model, called once, for
  what the rules do not settle), i.e. what ``rebound classify`` does; the model is loaded
  before timing starts, as in a running service.
- ``classify (rules only)``: the same with the model switched off (``mode="rules"``).
- The rule engine and the classifier are built afresh for every pass, so their
  per-evidence caches never carry over between passes.
- ``flanker parse``: ``flanker.mime.from_string`` alone (our primary MIME parser).
- ``email parse``: ``email.message_from_bytes(policy=compat32)`` alone (the fallback).

Each figure is the median of the passes, in emails per second of CPU time of this one
process (``time.process_time``): on a shared machine wall-clock time also counts the
time other processes hold the core, CPU time does not. Run it on an idle machine and the
two agree.
"""
from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.engine import Classifier  # noqa: E402
from classifier.events import Evidence  # noqa: E402
from classifier.parse import MessageError, parse_message  # noqa: E402
from classifier.rules.engine import RuleEngine  # noqa: E402

with contextlib.redirect_stderr(io.StringIO()):
    from flanker import mime


def classify_all(data: list[bytes], mode: str = "combined") -> int:
    classifier = Classifier(RuleEngine(), mode=mode)
    evidences = []
    for raw in data:
        try:
            report = parse_message(raw)
        except MessageError:
            continue
        evidences.extend(r.evidence for r in report.recipients)
    classifier.classify_many(evidences)
    return len(evidences)


def rules_all(data: list[bytes]) -> int:
    return classify_all(data, "rules")


def flanker_all(data: list[bytes]) -> int:
    ok = 0
    for raw in data:
        try:
            mime.from_string(raw)
            ok += 1
        except Exception:
            pass
    return ok


def email_all(data: list[bytes]) -> int:
    for raw in data:
        email.message_from_bytes(raw, policy=email.policy.compat32)
    return len(data)


def rate(fn, data, passes: int) -> float:
    fn(data)                                  # warm-up: imports, regex compilation
    times = []
    for _ in range(passes):
        start = time.process_time()
        fn(data)
        times.append(time.process_time() - start)
    return len(data) / statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT / ".." / "shared" / "corpus" / "bounces"))
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()
    files = sorted(Path(args.corpus).glob("*.eml"))
    if not files:
        print(f"no .eml files under {args.corpus}", file=sys.stderr)
        return 2
    data = [f.read_bytes() for f in files]
    print(f"{len(data)} messages, {sum(map(len, data)) / 1024:.0f} KiB, {args.passes} passes, "
          f"python {platform.python_version()}, {os.cpu_count()} cpus")
    Classifier().classify(Evidence(diagnostic="warm-up"))      # load the packaged model
    results = {
        "classify (combined: rules + model)": rate(classify_all, data, args.passes),
        "classify (rules only)": rate(rules_all, data, args.passes),
        "ceiling: flanker parse alone": rate(flanker_all, data, args.passes),
        "ceiling: email compat32 parse alone": rate(email_all, data, args.passes),
    }
    for name, value in results.items():
        print(f"  {name:38s} {value:8.0f} emails/s")
    target = 1000
    ours = results["classify (combined: rules + model)"]
    print(f"target >= {target} emails/s: {'met' if ours >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
