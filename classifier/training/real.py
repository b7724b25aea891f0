"""Training records from real, labelled mail: the model learns real wording, not only ours.

The templates (:mod:`.generate`) carry the phrasings we thought of; real bounces carry the
ones mail systems use. This module turns every labelled set of :mod:`classifier.evaluation.sets`
(``../shared/corpus``, the analysts' labels of ``../shared/corpora`` and of ZoneMTA's replies)
into training records: the evidence is what the parser extracts from the message in
``../shared`` *now* (so records follow the parser), the reason is the label's.

What is stored (``data/real-<set>.jsonl``) is evidence, not messages: the diagnostic the
parser quotes (addresses replaced by a placeholder, at most :data:`MAX_CHARS` characters,
what the model reads), the codes, the phase, and per record the set, the labelled file's
name, its family and the license of the corpus it came from. Each record weighs
:data:`WEIGHT` (a verified real example counts for more than one generated variant) and
its ``template`` is ``real:<family>``: the records of one MTA family form one group, so the
held-out and calibration splits never put a family on both sides, and leave-one-family-out
(:mod:`classifier.evaluation.holdout`) leaves them out by their ``family``.

One label convention is not taught: ``../shared/corpus`` (Sisimai's) calls every delay
warning ``expired``, including those that state their cause ("did not accept our requests to
connect"). The taxonomy's ``expired`` is a sender that gave up; a deferral has not, and its
stated cause is its reason (``networkerror`` for a connection failure), as the analysts'
labels read it (classifier/labels/README.md). So the corpus's deferrals labelled ``expired``
are left out of training (the templates teach the project's own convention for a deferral
that names no cause); they are still scored as labelled.

    python -m classifier.training.real [--shared ../shared] [--out classifier/training/data]

Re-run it after the parser or the labels change (then ``rebound train --output
classifier/model/default``); without ``../shared`` the committed files stay as they are.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from classifier.evaluation import sets as labelled
from classifier.evaluation.scoring import align
from classifier.evaluation.verdicts import Answer, extract
from classifier.training.dataset import DatasetError, check_record, write_sets

DATA = Path(__file__).resolve().parent / "data"
#: How much one real record counts against one generated record.
WEIGHT = 3.0
#: The model reads no more of a diagnostic (BounceModel.max_chars); nothing more is kept.
MAX_CHARS = 1000
_ADDRESS = re.compile(r"(?:\"[^\"\n]*\"|[\w.!#$%&'*+/=?^`{|}~-]+)@[\w-]+(?:\.[\w-]+)*")
PLACEHOLDER = "someone@example.invalid"


def _record(entry: labelled.Entry, expected: dict, evidence) -> dict | None:
    diagnostic = _ADDRESS.sub(PLACEHOLDER, evidence.diagnostic or "")[:MAX_CHARS]
    rec = {"reason": expected["reason"], "diagnostic": diagnostic, "status": evidence.status,
           "reply_code": evidence.reply_code, "smtp_phase": evidence.smtp_phase,
           "provider": evidence.provider, "provider_class": evidence.provider_class,
           "kind": evidence.kind.value, "weight": WEIGHT, "template": f"real:{entry.family}",
           "family": entry.family, "source": f"real:{entry.set}", "file": entry.ref,
           "license": entry.license}
    key = json.dumps([entry.set, entry.ref, expected.get("recipient"), rec["reason"]], ensure_ascii=False)
    rec["id"] = "real:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    try:
        return check_record(rec, f"{entry.set}:{entry.ref}")
    except DatasetError:          # nothing to learn from: no text and no code
        return None


def records(shared: Path | None = None, labels_dir: Path = labelled.LABELS_DIR
            ) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """``{set: [record, ...]}`` for every labelled set found, and the sets skipped (why)."""
    loaded = labelled.load(shared, labels_dir)
    found = extract(loaded.entries)
    out: dict[str, list[dict]] = {name: [] for name in loaded.names()}
    for entry, fs in zip(loaded.entries, found):
        if entry.text is not None:                 # a reply: the text is the evidence
            pairs = [(entry.expected[0], fs[0])]
        else:
            answers = [Answer(f.recipient, None, None, False, None) for f in fs]
            by_answer = {id(a): f for a, f in zip(answers, fs)}
            paired, _ = align(entry.expected, answers)
            pairs = [(e, by_answer[id(a)]) for e, a in paired if a is not None]
        seen = set()
        for expected, f in pairs:
            if entry.set == labelled.CORPUS_SET and f.evidence.kind.value == "deferral" \
                    and expected["reason"] == "expired":
                continue
            rec = _record(entry, expected, f.evidence)
            if rec is not None and rec["id"] not in seen:
                seen.add(rec["id"])
                out[entry.set].append(rec)
    return out, loaded.skipped


def write(data: dict[str, list[dict]], out_dir: Path = DATA) -> list[Path]:
    return write_sets(data, out_dir, "real")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=DATA)
    a = ap.parse_args(argv)
    data, skipped = records(a.shared)
    for name, why in skipped.items():
        print(f"skipped {name}: {why} (its committed file, if any, is kept)", file=sys.stderr)
    for p in write(data, a.out):
        print(f"{p}: {sum(1 for _ in p.open(encoding='utf-8'))} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
