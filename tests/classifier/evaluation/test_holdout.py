"""Leave-one-family-out: a family is scored by a model that never saw it."""
from __future__ import annotations

import pytest

import classifier.model.training as training
from classifier.evaluation.holdout import folds
from classifier.evaluation.report import evaluate
from classifier.training.dataset import data_files, load_records

from .conftest import write_sets

ODD = "550 zorblax quux gadget overflow"


def test_folds_put_every_family_in_exactly_one_fold_of_about_equal_size():
    sizes = {"a": 50, "b": 40, "c": 30, "d": 10, "e": 10, "f": 5, "g": 1}
    groups = folds(sizes, 3)
    assert len(groups) == 3
    assert sorted(f for g in groups for f in g) == sorted(sizes)
    loads = sorted(sum(sizes[f] for f in g) for g in groups)
    assert loads[-1] - loads[0] <= 10
    assert folds(sizes, None) == [[f] for f in sorted(sizes)]
    assert folds(sizes, 3) == groups                      # deterministic


@pytest.fixture(scope="module")
def records():
    """A slice of the packaged corpus, plus real records of two families: one teaches a
    wording no generated record has (``fam-odd``), one an ordinary missing mailbox."""
    base = [r for r in load_records(data_files()) if not r.get("family")][::6]
    real = [{"reason": "mailboxfull", "diagnostic": ODD + f" (ref {i})", "status": "5.0.0", "reply_code": "550",
             "family": "fam-odd", "template": "real:fam-odd", "weight": 3.0} for i in range(12)]
    real += [{"reason": "userunknown", "diagnostic": "550 5.1.1 <x@example.org>: user unknown", "status": "5.1.1",
              "family": "fam-plain", "template": "real:fam-plain", "weight": 3.0}]
    return base + real


def test_leave_one_out_never_trains_on_the_held_out_family(tmp_path, records, monkeypatch):
    shared, labels = write_sets(tmp_path, {
        "fam-odd": [("a@example.org", "5.0.0", ODD, "mailboxfull", False),
                    ("b@example.org", "5.0.0", ODD, "mailboxfull", False)],
        "fam-plain": [("c@example.org", "5.1.1", "550 5.1.1 <c@example.org>: user unknown", "userunknown", True)],
    })
    in_sample = training.fit(records, 0, min_df=1)
    seen: list[set] = []
    real_fit = training.fit

    def spying_fit(recs, seed=0, **params):
        seen.append({r.get("family") for r in recs})
        return real_fit(recs, seed, **params)

    monkeypatch.setattr(training, "fit", spying_fit)
    result = evaluate(in_sample, "in-sample", shared=shared, labels_dir=labels, leave_one_out=True,
                      records=records, params={"min_df": 1})
    # one fit per family, each without it (and with the other)
    assert len(seen) == 2 and {frozenset(s) - {None} for s in seen} == {frozenset({"fam-plain"}), frozenset({"fam-odd"})}
    # the wording only fam-odd's records teach is known in-sample, unknown when held out
    assert result["families"]["tiny"]["fam-odd"]["model"]["reason"] == 1.0
    assert result["leave_one_out"]["families"]["tiny"]["fam-odd"]["model"]["reason"] == 0.0
    # per family and per set, both modes a held-out model changes
    lo = result["leave_one_out"]
    assert set(lo["families"]["tiny"]) == {"fam-odd", "fam-plain"}
    assert set(lo["sets"]["tiny"]) == {"model", "combined"} and lo["sets"]["tiny"]["model"]["n"] == 3
    assert set(result["sets"]["tiny"]) == {"rules", "model", "combined"}
