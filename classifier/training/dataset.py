"""Loading training records: the project's corpus, extra files (analysts' labels), checks.

A record is one JSON object per line (schema in README.md beside this file). Records are
validated on load, with the file and line of the first problem, because a typo in a reason
code would otherwise train a class nobody handles.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from classifier.events import Evidence, Kind
from classifier.taxonomy import REASONS

DATA_DIR = Path(__file__).resolve().parent / "data"
EVIDENCE_FIELDS = ("diagnostic", "status", "reply_code", "smtp_phase", "remote_mta", "provider",
                   "provider_class")
_KINDS = {k.value for k in Kind}


class DatasetError(ValueError):
    """A training file or record is unusable; the message names the file and line."""


def data_files(data_dir: Path | str = DATA_DIR) -> list[Path]:
    """The corpus files of a data directory, in a stable order."""
    d = Path(data_dir)
    if not d.is_dir():
        raise DatasetError(f"training data directory {d} does not exist")
    files = sorted(d.glob("*.jsonl"))
    if not files:
        raise DatasetError(f"no *.jsonl training files in {d}")
    return files


def check_record(rec: object, where: str) -> dict:
    if not isinstance(rec, dict):
        raise DatasetError(f"{where}: a record must be a JSON object")
    reason = rec.get("reason")
    if reason not in REASONS:
        raise DatasetError(f"{where}: unknown reason {reason!r}; valid: {', '.join(REASONS)}")
    if not isinstance(rec.get("diagnostic", ""), str):
        raise DatasetError(f"{where}: 'diagnostic' must be a string")
    for f in ("status", "reply_code", "smtp_phase", "remote_mta", "provider", "provider_class"):
        if rec.get(f) is not None and not isinstance(rec[f], str):
            raise DatasetError(f"{where}: {f!r} must be a string or null")
    if not (rec.get("diagnostic") or rec.get("status") or rec.get("reply_code")) and reason != "undefined":
        raise DatasetError(f"{where}: a record needs a diagnostic, a status or a reply code "
                           "(only 'undefined' may have none: evidence with nothing in it)")
    w = rec.get("weight", 1.0)
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
        raise DatasetError(f"{where}: 'weight' must be a positive number")
    kind = rec.get("kind")
    if kind is not None and kind not in _KINDS:
        raise DatasetError(f"{where}: unknown kind {kind!r}")
    return rec


def load_records(paths: Iterable[Path | str]) -> list[dict]:
    """All records of the given JSONL files, validated, each tagged with its ``source`` file."""
    out: list[dict] = []
    for p in paths:
        p = Path(p)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read training file {p}: {exc}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{p}:{n}: not JSON: {exc.msg}") from None
            rec = check_record(rec, f"{p}:{n}")
            rec.setdefault("source", p.name)
            out.append(rec)
    return out


def write_sets(data: dict[str, list[dict]], out_dir: Path, prefix: str) -> list[Path]:
    """Write each named set of records as ``<prefix>-<name>.jsonl`` (keys sorted, one record a
    line), so a regenerated file differs from the committed one only where a record does."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in sorted(data.items()):
        p = out_dir / f"{prefix}-{name}.jsonl"
        with p.open("w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        paths.append(p)
    return paths


def fingerprint(paths: Iterable[Path | str]) -> str:
    """SHA-256 over the names and bytes of the training files: same data, same fingerprint."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode("utf-8") + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def to_evidence(rec: dict) -> Evidence:
    kind = rec.get("kind") or "bounce"
    return Evidence(**{f: rec.get(f) for f in EVIDENCE_FIELDS if f != "diagnostic"},
                    diagnostic=rec.get("diagnostic") or "", kind=Kind(kind))


def group_of(rec: dict) -> str:
    """Records expanded from one template (or one hand-written record) form one group:
    held-out splits keep groups whole, so a score measures phrasings never seen in training."""
    return rec.get("template") or rec.get("id") or rec.get("diagnostic", "")
