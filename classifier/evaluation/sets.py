"""The labelled sets the classifier is measured on, as one list of entries.

- ``corpus``: ``../shared/corpus/labels.jsonl`` (Sisimai's conventions); family = its ``source``;
- one set per corpus of ``../shared/corpora`` labelled by our analysts
  (``classifier/labels/corpora/<source>.jsonl``, files named relative to ``../shared/corpora``);
  family = the label's ``family``; byte copies (``duplicate_of``) are left out, once is enough;
- ``zonemta``: ZoneMTA's quoted SMTP replies (``classifier/labels/responses/zonemta.jsonl``),
  texts without a message or a recipient; one family, ``zonemta``.

The messages themselves stay in ``../shared``: a set whose files are absent is reported as
skipped, never guessed at (the replies carry their text in the labels and need nothing).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import classifier

LABELS_DIR = Path(classifier.__file__).resolve().parent / "labels"
CORPUS_SET = "corpus"
REPLIES_SET = "zonemta"
CORPUS_LICENSE = "BSD-2-Clause"     # ../shared/corpus/LICENSE-set-of-emails


def default_shared() -> Path:
    """``REBOUND_SHARED``, else the ``shared`` directory beside the source checkout."""
    env = os.environ.get("REBOUND_SHARED")
    return Path(env) if env else Path(classifier.__file__).resolve().parents[2] / "shared"


@dataclass(frozen=True)
class Entry:
    """One labelled message (``path``) or reply text (``text``) and what it should give."""

    set: str
    family: str
    ref: str                                  # the label's name for it (file path or reply ref)
    expected: tuple[dict, ...]
    license: str = ""
    path: Path | None = None
    text: str | None = None
    note: str = field(default="", compare=False)


@dataclass
class Sets:
    entries: list[Entry]
    #: set name -> why it was left out (its messages are not there)
    skipped: dict[str, str]

    def names(self) -> list[str]:
        return list(dict.fromkeys(e.set for e in self.entries))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load(shared: Path | None = None, labels_dir: Path = LABELS_DIR, only: set[str] | None = None) -> Sets:
    """Every labelled set (or those named in ``only``), in a stable order."""
    shared = default_shared() if shared is None else Path(shared)
    entries: list[Entry] = []
    skipped: dict[str, str] = {}

    def wanted(name: str) -> bool:
        return only is None or name in only

    corpus = shared / "corpus" / "labels.jsonl"
    if wanted(CORPUS_SET):
        if corpus.is_file():
            for r in _jsonl(corpus):
                entries.append(Entry(CORPUS_SET, r.get("source") or "?", r["file"], tuple(r["expected"]),
                                     CORPUS_LICENSE, path=corpus.parent / r["file"]))
        else:
            skipped[CORPUS_SET] = f"{corpus} is absent"
    for f in sorted((labels_dir / "corpora").glob("*.jsonl")):
        name = f.stem
        if not wanted(name):
            continue
        root = shared / "corpora"
        rows = [r for r in _jsonl(f) if not r.get("duplicate_of")]
        if not (root / name).is_dir():
            skipped[name] = f"{root / name} is absent"
            continue
        entries += [Entry(name, r.get("family") or "?", r["file"], tuple(r["expected"]), r.get("license", ""),
                          path=root / r["file"], note=r.get("note", "")) for r in rows]
    replies = labels_dir / "responses" / "zonemta.jsonl"
    if wanted(REPLIES_SET) and replies.is_file():
        for r in _jsonl(replies):
            exp = {"recipient": None, "reason": r["reason"], "hardbounce": r.get("hardbounce", False)}
            entries.append(Entry(REPLIES_SET, REPLIES_SET, r["ref"], (exp,), r.get("license", ""),
                                 text=r["text"], note=r.get("note", "")))
    return Sets(entries, skipped)
