"""Model registry: skops files only, trusted types only, activation seen by a live handle."""
from __future__ import annotations

import pickle
import zipfile

import pytest
import skops.io as sio
from click.testing import CliRunner

from classifier.events import Evidence
from classifier.model.registry import (
    DEFAULT_VERSION, ActiveModel, ModelFileError, Registry, RegistryError, load_model, save_model,
)
from classifier.model.training import fit
from classifier.training.dataset import data_files, load_records
from webhook.cli import main

PROBE = Evidence(diagnostic="550 Quux-frobnication gateway refused the zorblat token", reply_code="550")


def _probe_record(reason: str) -> dict:
    return {"reason": reason, "diagnostic": PROBE.diagnostic, "reply_code": "550", "weight": 20}


@pytest.fixture(scope="module")
def two_models():
    """Two small models that disagree on PROBE: one learnt it as a block, one as a full mailbox."""
    base = load_records(data_files())[::6]
    a = fit(base + [_probe_record("blocked")], seed=1, cv=2)
    b = fit(base + [_probe_record("mailboxfull")], seed=1, cv=2)
    assert a.predict([PROBE])[0] == "blocked" and b.predict([PROBE])[0] == "mailboxfull"
    return a, b


class Evil:
    """A type nobody trusted: loading it could run arbitrary code."""


def test_save_list_activate_rollback(tmp_path, two_models):
    a, b = two_models
    reg = Registry(tmp_path)
    assert reg.list() == [] and reg.active_version() is None
    va = reg.save(a, {"created": "2026-01-01T00:00:00Z", "training_data_fingerprint": "aa" * 32})
    vb = reg.save(b, {"created": "2026-01-02T00:00:00Z", "training_data_fingerprint": "bb" * 32},
                  activate=True)
    assert [m["version"] for m in reg.list()] == [va, vb]
    assert [m["active"] for m in reg.list()] == [False, True]
    reg.activate(va)
    assert reg.active_version() == va
    assert reg.rollback() == vb
    assert reg.rollback() == DEFAULT_VERSION and reg.active_version() is None    # the packaged model again
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()
    reg.activate(DEFAULT_VERSION)
    assert reg.active_version() is None
    with pytest.raises(RegistryError, match="no model 'nope'"):
        reg.activate("nope")
    assert reg.load(vb).model.predict([PROBE])[0] == "mailboxfull"


def test_active_model_follows_activation_without_being_recreated(tmp_path, two_models):
    a, b = two_models
    reg = Registry(tmp_path)
    va, vb = reg.save(a, {}), reg.save(b, {})
    live = ActiveModel(tmp_path, check_every=0)
    assert live.version == DEFAULT_VERSION          # nothing active yet: the packaged model
    reg.activate(va)
    assert live.get().model.predict([PROBE])[0] == "blocked"
    reg.activate(vb)
    assert live.get().model.predict([PROBE])[0] == "mailboxfull"
    reg.rollback()
    assert live.version == va and live.get().model.predict([PROBE])[0] == "blocked"


def test_active_model_checks_at_most_once_per_interval(tmp_path, two_models):
    a, b = two_models
    reg = Registry(tmp_path)
    va, vb = reg.save(a, {}, activate=True), reg.save(b, {})
    now = [100.0]
    live = ActiveModel(tmp_path, check_every=5, clock=lambda: now[0])
    assert live.version == va
    reg.activate(vb)
    now[0] += 4.9
    assert live.version == va                        # not looked at yet
    now[0] += 0.2
    assert live.version == vb


def test_non_skops_files_are_refused(tmp_path):
    text = tmp_path / "model.skops"
    text.write_text("definitely not a model")
    with pytest.raises(ModelFileError, match="not a skops model file"):
        load_model(text)
    pickled = tmp_path / "pickled.skops"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="never with pickle"):
        load_model(pickled)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.skops")
    broken = tmp_path / "zip.skops"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("hello.txt", "a zip, but no skops schema")
    with pytest.raises(ModelFileError):
        load_model(broken)


def test_untrusted_types_are_refused_before_loading(tmp_path, two_models):
    a, _ = two_models
    path = tmp_path / "evil.skops"
    sio.dump({"payload": Evil()}, path)
    with pytest.raises(ModelFileError, match=r"outside the trusted list: .*Evil"):
        load_model(path)
    # the same inside a real model object
    a.smuggled_ = Evil()
    try:
        save_model(a, tmp_path / "smuggled.skops")
    finally:
        del a.smuggled_
    with pytest.raises(ModelFileError, match=r"outside the trusted list: .*Evil"):
        load_model(tmp_path / "smuggled.skops")
    # a model that is not a BounceModel at all
    sio.dump([1, 2, 3], tmp_path / "list.skops")
    with pytest.raises(ModelFileError, match="not a BounceModel"):
        load_model(tmp_path / "list.skops")


def test_models_commands(tmp_path, two_models):
    a, b = two_models
    reg = Registry(tmp_path)
    va, vb = reg.save(a, {"created": "2026-01-01T00:00:00Z"}), reg.save(b, {"created": "2026-01-02T00:00:00Z"})
    run = CliRunner().invoke
    out = run(main, ["models", "list", "--registry", str(tmp_path)])
    assert out.exit_code == 0 and va in out.output and "packaged default model is in use" in out.output
    out = run(main, ["models", "activate", vb, "--registry", str(tmp_path)])
    assert out.exit_code == 0 and reg.active_version() == vb
    out = run(main, ["models", "activate", "no-such", "--registry", str(tmp_path)])
    assert out.exit_code == 1 and "no model 'no-such'" in out.output
    run(main, ["models", "activate", va], env={"REBOUND_MODEL_DIR": str(tmp_path)})
    out = run(main, ["models", "rollback", "--registry", str(tmp_path)])
    assert out.exit_code == 0 and reg.active_version() == vb
    (tmp_path / "models" / va / "model.skops").write_bytes(b"garbage")
    out = run(main, ["models", "activate", va, "--registry", str(tmp_path)])
    assert out.exit_code == 1 and "not a skops model file" in out.output
    assert reg.active_version() == vb
