"""Training records from labelled real mail: evidence and provenance, never the message."""
from __future__ import annotations

import json

from classifier.evaluation import sets as labelled
from classifier.training import real
from classifier.training.dataset import data_files, load_records
from tests.classifier.evaluation.conftest import write_sets


def test_records_carry_the_parsed_evidence_the_label_and_where_they_came_from(tmp_path):
    shared, labels = write_sets(tmp_path, {
        "lhost-test": [("ann@example.org", "5.2.2", "552 5.2.2 <ann@example.org>: mailbox over quota", "mailboxfull",
                        False)],
        "lhost-other": [("bob@example.net", "5.1.1", "550 5.1.1 no such user bob@example.net", "userunknown", True)],
    })
    data, skipped = real.records(shared, labels)
    assert skipped == {"corpus": f"{shared / 'corpus' / 'labels.jsonl'} is absent"}
    recs = {r["family"]: r for r in data["tiny"]}
    full = recs["lhost-test"]
    assert (full["reason"], full["status"], full["weight"], full["template"]) == \
        ("mailboxfull", "5.2.2", real.WEIGHT, "real:lhost-test")
    assert full["file"] == "tiny/messages/m01.eml" and full["license"] == "test"
    assert "over quota" in full["diagnostic"]
    assert "ann@example.org" not in full["diagnostic"] and real.PLACEHOLDER in full["diagnostic"]
    assert recs["lhost-other"]["reason"] == "userunknown"
    paths = real.write(data, tmp_path / "out")
    assert [p.name for p in paths] == ["real-tiny.jsonl"]
    assert len(load_records(paths)) == 2                  # valid training records


def test_committed_real_records_name_labelled_files_with_their_license_and_no_address():
    labelled_refs = {(e.set, e.ref) for e in labelled.load(only=None).entries}
    replies = {json.loads(line)["ref"] for line in
               (labelled.LABELS_DIR / "responses" / "zonemta.jsonl").read_text().splitlines() if line.strip()}
    files = [p for p in data_files() if p.name.startswith("real-")]
    assert files
    for rec in load_records(files):
        name = rec["source"].removeprefix("real:")
        assert rec["license"] and rec["family"] and rec["template"] == f"real:{rec['family']}"
        assert rec["file"] in replies or (name, rec["file"]) in labelled_refs or not labelled_refs
        assert len(rec["diagnostic"]) <= real.MAX_CHARS
        assert "@" not in rec["diagnostic"].replace(real.PLACEHOLDER, "")
