"""The analysts' loop end to end, as a team would run it against a live service:
unsure bounces are queued, an analyst labels one over the API, the labels are exported,
a model is trained with them and activated, the running service answers differently, and
`rebound reclassify` shows and then applies what that changes for stored addresses."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest
from click.testing import CliRunner

from classifier.events import Evidence
from classifier.model.registry import Registry
from classifier.training.dataset import data_files, load_records
from tests.conftest import Api, LiveServer
from webhook.cli import main

#: What no rule and no packaged model can place (the service says onhold and queues it).
TEXT = "Grault garply waldo fred"
PROBE = Evidence(diagnostic=TEXT, reply_code="550")


@pytest.fixture
def env(redis_url, tmp_path):
    return {"REBOUND_REDIS_URL": redis_url, "REBOUND_MODEL_DIR": str(tmp_path / "registry"),
            "REBOUND_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def service(make_settings, redis_url, tmp_path):
    from webhook import create_app

    app = create_app(make_settings(redis_url, model_dir=tmp_path / "registry", model_check_seconds=0))
    server = LiveServer(app)
    tenant, key = app.extensions["rebound"].store.tenants.create("Analysts Inc")
    yield Api(server.url, tenant, key)
    server.stop()


def rebound(env, *args) -> str:
    out = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.stdout


@pytest.fixture
def small_corpus(tmp_path):
    """A sixth of the project's corpus: enough to learn from, quick to train on."""
    d = tmp_path / "corpus"
    d.mkdir()
    with (d / "sample.jsonl").open("wb") as fh:
        for rec in load_records(data_files())[::6]:
            rec.pop("source", None)
            fh.write(orjson.dumps(rec) + b"\n")
    return d


def bounces(tag: str, n: int, address: str | None = None) -> list[dict]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [{"id": f"{tag}-{i}", "type": "bounce", "recipient": address or f"{tag}{i}@example.org",
             "time": now.isoformat().replace("+00:00", "Z"), "diagnostic": TEXT, "reply_code": "550"}
            for i in range(n)]


def test_label_export_train_activate_reclassify(service, env, small_corpus, tmp_path):
    api = service
    # 1. the service does not know this wording: onhold, queued for review, nothing suppressed
    assert api.post("/v1/events", json=bounces("m", 3, "full@example.org") + bounces("x", 4)).status_code == 200
    [item] = api.get("/v1/review").json()["items"]
    assert item["count"] == 7 and item["verdict"]["reason"] == "onhold"
    assert api.get("/v1/recipients/full@example.org").json()["sendable"] is True

    # 2. an analyst knows it: this provider's way of saying the mailbox is full
    r = api.post(f"/v1/review/{item['id']}", json={"reason": "mailboxfull", "note": "their support confirmed"})
    assert r.status_code == 200, r.text

    # 3. export: the CLI and the API give the same training records
    labels = tmp_path / "labels.jsonl"
    rebound(env, "review", "export", "--tenant", api.tenant, "-o", str(labels))
    assert labels.read_bytes() == api.get("/v1/review/labels").content
    [record] = [json.loads(line) for line in labels.read_text().splitlines()]
    assert record["reason"] == "mailboxfull" and record["diagnostic"] == TEXT

    # 4. train with and without the label: the label is what changes the model's answer
    train = ["train", "--data-dir", str(small_corpus), "--holdout", "0", "--seed", "1"]
    without = json.loads(rebound(env, *train))["model"]
    with_label = json.loads(rebound(env, *train, "--extra", str(labels), "--extra-weight", "20"))["model"]
    reg = Registry(env["REBOUND_MODEL_DIR"])
    assert reg.load(without).model.predict([PROBE])[0] != "mailboxfull"
    assert reg.load(with_label).model.predict([PROBE])[0] == "mailboxfull"
    assert reg.metadata(with_label)["extra_files"] == ["labels.jsonl"]

    # 5. activate: the running service answers with the new model, no restart
    assert api.post("/v1/classify", json={"diagnostic": TEXT, "reply_code": "550"}).json()["results"][0][
        "reason"] == "onhold"
    rebound(env, "models", "activate", with_label)
    answer = api.post("/v1/classify", json={"diagnostic": TEXT, "reply_code": "550"}).json()
    assert answer["model"] == with_label and answer["results"][0]["reason"] == "mailboxfull"

    # 6. reclassify the stored history: a dry run shows what changes, and changes nothing
    before = api.get("/v1/recipients/full@example.org/history").json()
    lines = [json.loads(x) for x in rebound(env, "reclassify", api.tenant).splitlines()]
    *changes, summary = lines
    by_address = {c["address"]: c for c in changes}
    assert set(by_address) == {"full@example.org"} | {f"x{i}@example.org" for i in range(4)}
    full = by_address["full@example.org"]
    assert [(e["old"]["reason"], e["new"]["reason"]) for e in full["events"]] == [("onhold", "mailboxfull")] * 3
    assert full["add"] == ["mailbox_full"]                # three within a week, as the policy says
    assert by_address["x0@example.org"]["add"] == []     # one full mailbox is not enough
    assert summary["summary"]["classifier"] == f"combined:{with_label}" and summary["summary"]["add"] == 1
    assert summary["summary"]["applied"] is False
    assert api.get("/v1/recipients/full@example.org/history").json() == before
    assert api.get("/v1/recipients/full@example.org").json()["sendable"] is True

    # 7. apply, through the policy; audited; a second run finds nothing left to do
    *_, applied = [json.loads(x) for x in rebound(env, "reclassify", api.tenant, "--apply").splitlines()]
    assert applied["summary"]["added"] == 1 and applied["summary"]["lifted"] == 0
    answer = api.get("/v1/recipients/full@example.org").json()
    assert [r["code"] for r in answer["reasons"]] == ["mailbox_full"]
    audit = api.get("/v1/suppressions/audit").json()["entries"]
    assert [(a["action"], a["address"], a["added"]) for a in audit if a["action"] == "reclassify"] == [
        ("reclassify", "full@example.org", ["mailbox_full"])]
    [again] = [json.loads(x) for x in rebound(env, "reclassify", api.tenant, "--apply").splitlines()]
    assert again["summary"]["changed_events"] == 0

    # 8. rolling the model back and reclassifying again undoes it
    rebound(env, "models", "rollback")
    assert api.post("/v1/classify", json={"diagnostic": TEXT, "reply_code": "550"}).json()["model"] == "default"
    *_, back = [json.loads(x) for x in rebound(env, "reclassify", api.tenant, "--apply").splitlines()]
    assert back["summary"]["lifted"] == 1
    assert api.get("/v1/recipients/full@example.org").json()["sendable"] is True
