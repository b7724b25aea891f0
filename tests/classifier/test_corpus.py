"""The shared corpus of real bounces, scored by ../shared/tools/eval_bounces.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from classifier.parse import parse_message
from tests.conftest import SHARED

EVAL = SHARED / "tools" / "eval_bounces.py"
pytestmark = pytest.mark.shared


def rebound_cmd(mode: str = "rules") -> str:
    exe = Path(sys.executable).with_name("rebound")
    return f"{exe} classify --jsonl --mode {mode}"


def score(mode: str, *thresholds: str) -> dict:
    """Run eval_bounces.py over the corpus with ``rebound classify --mode MODE``; the packaged
    model (REBOUND_MODEL_DIR points at a directory without models)."""
    env = {**os.environ, "REBOUND_MODEL_DIR": str(Path(tempfile.gettempdir()) / "rebound-no-models")}
    proc = subprocess.run([sys.executable, str(EVAL), "--cmd", rebound_cmd(mode), "--json", *thresholds],
                          capture_output=True, text=True, timeout=600, env=env)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, summary
    assert summary["command_failures"] == 0 and summary["unparsable_lines"] == 0
    assert summary["files_without_output"] == 0
    return summary


def test_corpus_meets_the_issue_thresholds_with_rules_only():
    score("rules", "--min-category", "0.92", "--min-reason", "0.85", "--min-recipient", "0.97")


def test_not_bounces_yield_no_failed_recipient():
    files = sorted((SHARED / "corpus" / "not-bounces").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        report = parse_message(path.read_bytes())
        assert not report.is_bounce, path.name
        assert all(r.action not in ("failed", "delayed") for r in report.recipients)
