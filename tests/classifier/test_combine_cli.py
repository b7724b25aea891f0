"""``rebound classify`` with the classifier's mode and model chosen by option or environment."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from classifier.model.estimator import BounceModel
from classifier.model.registry import Registry
from webhook.cli import main

DEACTIVATED = ["--text", "550 5.2.1 The mailbox you are sending to is deactivated", "--status", "5.2.1",
               "--reply-code", "550"]

from tests.conftest import FIXTURES


def run(*args, env=None):
    result = CliRunner().invoke(main, ["classify", *args], env=env, catch_exceptions=False)
    return result, [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_mode_option_and_environment(tmp_path):
    env = {"REBOUND_MODEL_DIR": str(tmp_path / "none")}
    _, (combined,) = run(*DEACTIVATED, env=env)
    assert (combined["reason"], combined["source"]) == ("suspend", "model")
    _, (rules,) = run(*DEACTIVATED, "--mode", "rules", env=env)
    assert (rules["reason"], rules["source"]) == ("filtered", "rule")
    _, (from_env,) = run(*DEACTIVATED, env={**env, "REBOUND_CLASSIFIER": "rules"})
    assert from_env["source"] == "rule"
    _, (model,) = run(*DEACTIVATED, env={**env, "REBOUND_CLASSIFIER": "model"})
    assert model["source"] == "model" and not any(e.startswith("status:") for e in model["explanation"])


def test_unknown_mode_is_a_usage_error():
    result = CliRunner().invoke(main, ["classify", "--mode", "magic", "--text", "x"])
    assert result.exit_code == 2 and "magic" in result.output


def test_review_marks_in_the_output(tmp_path):
    _, (row,) = run("--text", "550 xyzzy plugh", "--reply-code", "550", env={"REBOUND_MODEL_DIR": str(tmp_path)})
    assert row["reason"] == "onhold" and row["needs_review"] and row["review_reason"] == "unknown"


def test_files_use_the_registry_active_model(tmp_path):
    texts = [f"{w} {n}" for w in ("zork", "quux") for n in ("alpha", "beta", "gamma", "delta", "eps", "zeta")]
    model = BounceModel(cv=2, min_df=1).fit([{"diagnostic": t} for t in texts],
                                            np.array(["mailboxfull"] * 6 + ["blocked"] * 6))
    reg = Registry(tmp_path / "models")
    reg.save(model, {"training_data_fingerprint": "tiny"}, activate=True)
    files = [str(FIXTURES / "postfix-userunknown.eml"), str(FIXTURES / "arf-abuse.eml")]
    _, rows = run("--jsonl", "--mode", "model", "--registry", str(reg.root), *files)
    assert [r["file"] for r in rows] == files
    assert rows[0]["source"] == "model" and rows[0]["reason"] in ("mailboxfull", "blocked")
    assert rows[1]["reason"] == "feedback"               # a report settles itself in every mode
    _, packaged = run("--jsonl", "--mode", "model", "--registry", str(tmp_path / "empty"), files[0])
    assert packaged[0]["reason"] == "userunknown"
