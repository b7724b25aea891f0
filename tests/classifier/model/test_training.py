"""Training: reproducible, the shipped model is what the corpus makes, labels change answers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from classifier.events import Evidence
from classifier.model.registry import Registry, load_default
from classifier.model.training import train
from classifier.training.dataset import DatasetError, data_files, fingerprint, load_records
from classifier.training.generate import generate
from webhook.cli import main


def _write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    """Every fourth record of the corpus: enough for every reason, fast to fit."""
    d = tmp_path_factory.mktemp("small")
    _write(d / "subset.jsonl", load_records(data_files())[::4])
    return d


def test_training_is_reproducible(small_dir):
    files = data_files(small_dir)
    m1, meta1 = train(files, seed=3, holdout=0.2)
    m2, meta2 = train(files, seed=3, holdout=0.2)
    assert meta1["metrics"] == meta2["metrics"]
    assert meta1["training_data_fingerprint"] == meta2["training_data_fingerprint"]
    probe = load_records(files)[:200]
    np.testing.assert_array_equal(m1.predict_proba(probe), m2.predict_proba(probe))
    _, meta3 = train(files, seed=4, holdout=0.2)
    assert meta3["metrics"] != meta1["metrics"]      # the seed matters: the test can fail


def test_packaged_default_model_is_what_train_makes():
    """`rebound train` on the shipped corpus with the shipped seed gives the shipped metrics."""
    shipped = load_default()
    meta = shipped.metadata
    files = data_files()
    assert fingerprint(files) == meta["training_data_fingerprint"], \
        "the corpus changed since the default model was built: run `rebound train --output classifier/model/default`"
    model, new_meta = train(files, seed=meta["seed"], holdout=meta["holdout"])
    assert new_meta["metrics"] == meta["metrics"]
    probe = load_records(files)[::50]
    np.testing.assert_allclose(model.predict_proba(probe), shipped.model.predict_proba(probe), atol=1e-6)


def test_generated_corpus_is_reproducible_from_templates():
    """The committed JSONL is exactly what the generator makes from the committed templates."""
    data = generate()
    for lang, records in data.items():
        committed = load_records([data_files()[0].parent / f"generated-{lang}.jsonl"])
        assert [r["id"] for r in committed] == [r["id"] for r in records], lang


def test_an_extra_labelled_record_changes_the_answer(small_dir, tmp_path):
    probe = Evidence(diagnostic="554 Delivery refused by Wibblecorp gateway rule 77 (quux policy)",
                     reply_code="554")
    before, _ = train(data_files(small_dir), seed=2, holdout=0)
    old = before.predict([probe])[0]
    target = "policyviolation" if old != "policyviolation" else "contenterror"
    labels = _write(tmp_path / "labels.jsonl", [
        {"reason": target, "diagnostic": probe.diagnostic, "reply_code": "554", "source": "analyst"}])
    after, meta = train(data_files(small_dir), seed=2, holdout=0, extra=[labels])
    assert after.predict([probe])[0] == target
    assert meta["extra_files"] == ["labels.jsonl"]


def test_bad_training_records_are_refused_with_their_place(tmp_path):
    bad = _write(tmp_path / "bad.jsonl", [{"reason": "userunknown", "diagnostic": "x"},
                                          {"reason": "nosuchreason", "diagnostic": "y"}])
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: unknown reason 'nosuchreason'"):
        load_records([bad])
    (tmp_path / "notjson.jsonl").write_text("{nope\n")
    with pytest.raises(DatasetError, match="notjson.jsonl:1: not JSON"):
        load_records([tmp_path / "notjson.jsonl"])


def test_train_and_evaluate_commands(small_dir, tmp_path):
    run = CliRunner().invoke
    reg = tmp_path / "reg"
    out = run(main, ["train", "--data-dir", str(small_dir), "--registry", str(reg), "--activate",
                     "--seed", "5"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["records"] > 2000 and summary["reason_accuracy"] > 0.6
    assert "held-out" in out.stderr and "fitting the final model" in out.stderr   # progress shown
    version = Registry(reg).active_version()
    assert version == summary["model"]

    labelled = _write(tmp_path / "eval.jsonl", load_records(data_files())[1::40])
    png = tmp_path / "cm.png"
    out = run(main, ["evaluate", "--registry", str(reg), "--model", version, "--model", "default",
                     "--data", str(labelled), "--png", str(png)])
    assert out.exit_code == 0, out.output
    assert "[1] " + version in out.stdout and "[2] default" in out.stdout
    assert "userunknown" in out.stdout and "nonexistent_account" in out.stdout
    for i in (1, 2):
        assert (tmp_path / f"cm-{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = run(main, ["evaluate", "--registry", str(reg), "--data", str(labelled), "--json"])
    scored = json.loads(out.stdout)
    assert scored[0]["model"] == version and 0 < scored[0]["category_accuracy"] <= 1
    assert set(scored[0]["per_category"]) <= {"nonexistent_account", "account_disabled", "mailbox_full",
                                             "domain_misconfigured", "recipient_filtered", "spam_flagged",
                                             "sender_blocked", "auth_failure", "policy_rejected",
                                             "message_too_large", "rate_limited", "mta_failure",
                                             "complaint", "auto_reply", "delivered", "unknown"}
