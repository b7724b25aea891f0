"""The shared corpus of real bounces, scored by ../shared/tools/eval_bounces.py (rules only)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from classifier.parse import parse_message

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EVAL = SHARED / "tools" / "eval_bounces.py"


def rebound_cmd() -> str:
    exe = Path(sys.executable).with_name("rebound")
    return f"{exe} classify --jsonl"


def test_corpus_meets_the_issue_thresholds():
    proc = subprocess.run(
        [sys.executable, str(EVAL), "--cmd", rebound_cmd(), "--json",
         "--min-category", "0.92", "--min-reason", "0.85", "--min-recipient", "0.97"],
        capture_output=True, text=True, timeout=600)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, summary
    assert summary["command_failures"] == 0 and summary["unparsable_lines"] == 0
    assert summary["files_without_output"] == 0


def test_not_bounces_yield_no_failed_recipient():
    files = sorted((SHARED / "corpus" / "not-bounces").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        report = parse_message(path.read_bytes())
        assert not report.is_bounce, path.name
        assert all(r.action not in ("failed", "delayed") for r in report.recipients)
