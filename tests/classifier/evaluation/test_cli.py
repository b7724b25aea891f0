"""`rebound evaluate --sets`: per set, per family, rules/model/combined with harm."""
from __future__ import annotations

import json

from click.testing import CliRunner

from webhook.cli import main


def test_evaluate_sets_reports_each_mode_per_set_and_family_and_says_what_it_skipped(tmp_path):
    out = CliRunner().invoke(main, ["evaluate", "--sets", "--shared", str(tmp_path / "absent"),
                                    "--registry", str(tmp_path / "reg"), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert "corpus" in result["skipped"] and "flufl.bounce" in result["skipped"]   # need ../shared
    replies = result["sets"]["zonemta"]                                          # carry their text
    assert set(replies) == {"rules", "model", "combined"}
    for figs in replies.values():
        assert figs["n"] == 107 and 0 < figs["category"] <= 1
        assert {"missed", "false", "reason", "recipient_exact"} <= set(figs)
    assert set(result["families"]["zonemta"]) == {"zonemta"}
    assert result["leave_one_out"] is None


def test_evaluate_sets_as_text_and_refusing_a_second_model(tmp_path):
    run = CliRunner().invoke
    out = run(main, ["evaluate", "--sets", "--set", "zonemta", "--registry", str(tmp_path / "reg")])
    assert out.exit_code == 0, out.output
    assert "in-sample" in out.stdout and "zonemta by family" in out.stdout and "miss/false" in out.stdout
    out = run(main, ["evaluate", "--folds", "3", "--model", "default", "--model", "default",
                     "--registry", str(tmp_path / "reg")])
    assert out.exit_code == 2 and "one model" in out.output
