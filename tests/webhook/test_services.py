"""The service's classifier: POST /v1/classify, ingest through classify_many, and a model
activated with `rebound models activate` taking effect in the running service (real HTTP,
real Redis, real skops files)."""
from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest
import skops.io as sio
from click.testing import CliRunner

from classifier.engine import Classifier
from classifier.events import Event, Kind
from classifier.model.registry import Registry
from classifier.model.training import fit
from classifier.training.dataset import data_files, load_records, to_evidence
from tests.conftest import LiveServer
from webhook.cli import main

#: Evidence neither the rules nor the packaged model can place: the default answer is onhold.
PROBE = {"diagnostic": "Grault garply waldo fred", "reply_code": "550"}


def _models():
    base = load_records(data_files())[::6]
    out = {}
    for reason in ("mailboxfull", "suspend"):
        out[reason] = fit(base + [{"reason": reason, **PROBE, "weight": 20}], seed=1, cv=2)
    return out


@pytest.fixture(scope="module")
def two_models():
    """Two small models (a few seconds to train) that learnt PROBE as different reasons."""
    return _models()


@pytest.fixture
def registry(tmp_path):
    return tmp_path / "registry"


@pytest.fixture
def service(make_settings, redis_url, registry, make_tenant_factory):
    """A service that looks for newly activated models on every request."""
    from webhook import create_app

    app = create_app(make_settings(redis_url, model_dir=registry, model_check_seconds=0))
    server = LiveServer(app)
    yield make_tenant_factory(app, server)
    server.stop()


@pytest.fixture
def make_tenant_factory():
    from tests.conftest import Api

    def make(app, server):
        tenant, key = app.extensions["rebound"].store.tenants.create("Analysts Inc")
        return Api(server.url, tenant, key)
    return make


def classify(api, body) -> dict:
    r = api.post("/v1/classify", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def activate(registry, version) -> object:
    return CliRunner().invoke(main, ["models", "activate", version], env={"REBOUND_MODEL_DIR": str(registry)})


def test_classify_one_or_many_without_storing_anything(api, redis_client):
    before = sorted(redis_client.scan_iter("*"))
    one = classify(api, {"diagnostic": "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown",
                         "status": "5.1.1", "reply_code": "550", "smtp_phase": "rcpt"})
    assert one["mode"] == "combined" and one["model"] == "default"
    [v] = one["results"]
    assert v["reason"] == "userunknown" and v["category"] == "nonexistent_account" and v["hard"] is True
    assert v["source"] in ("rule", "combined") and v["explanation"] and v["needs_review"] is False

    many = classify(api, [PROBE, {"diagnostic": "452 4.2.2 Mailbox full", "kind": "deferral"},
                          {"kind": "complaint"}, {"provider_class": "sendgrid:blocked/Reputation"}])
    reasons = [r["reason"] for r in many["results"]]
    assert reasons[0] == "onhold" and many["results"][0]["review_reason"] == "unknown"
    assert reasons[1] == "mailboxfull" and reasons[2] == "feedback"
    assert many["results"][3]["category"] == "sender_blocked"
    # nothing stored, nothing queued (the tenant's request rate is counted: webhook.ratelimit)
    assert sorted(k for k in redis_client.scan_iter("*") if not k.startswith(b"rb:limits:")) == before
    assert api.get("/v1/review").json()["stats"]["open"] == 0


@pytest.mark.parametrize("body, field", [
    ({"diagnostic": "x", "status": "5.1"}, "status"),
    ({"diagnostic": "x", "kind": "open"}, "kind"),
    ({"diagnostic": "x", "colour": "red"}, "colour"),
    ([{"diagnostic": 5}], "diagnostic"),
])
def test_bad_evidence_is_a_400_naming_the_field(api, body, field):
    r = api.post("/v1/classify", json=body)
    assert r.status_code == 400 and field in r.text


def test_classify_needs_a_tenant_key(live_server):
    import requests

    assert requests.post(live_server.url + "/v1/classify", json=PROBE, timeout=10).status_code == 401


def test_an_activated_model_changes_the_running_service_without_a_restart(service, registry, two_models):
    api = service
    assert classify(api, PROBE)["results"][0]["reason"] == "onhold"          # the packaged model
    reg = Registry(registry)
    full = reg.save(two_models["mailboxfull"], {"training_data_fingerprint": "aa" * 32})
    suspend = reg.save(two_models["suspend"], {"training_data_fingerprint": "bb" * 32})

    assert activate(registry, full).exit_code == 0
    answer = classify(api, PROBE)
    assert answer["model"] == full
    assert (answer["results"][0]["reason"], answer["results"][0]["source"]) == ("mailboxfull", "model")
    # ingest uses it too: the stored verdict is the new model's
    event = {"id": "e1", "type": "bounce", "recipient": "a@example.org", **PROBE}
    assert api.post("/v1/events", json=event).status_code == 200
    [stored] = api.get("/v1/recipients/a@example.org/history").json()["events"]
    assert stored["verdict"]["reason"] == "mailboxfull"

    assert activate(registry, suspend).exit_code == 0
    assert classify(api, PROBE)["results"][0]["reason"] == "suspend"
    out = CliRunner().invoke(main, ["models", "rollback"], env={"REBOUND_MODEL_DIR": str(registry)})
    assert out.exit_code == 0, out.output
    assert classify(api, PROBE)["results"][0]["reason"] == "mailboxfull"


class Evil:
    """A type nobody trusted."""


def test_model_files_that_are_not_safe_skops_files_are_refused_and_the_service_keeps_its_model(
        service, registry, two_models, tmp_path):
    api = service
    reg = Registry(registry)
    good = reg.save(two_models["mailboxfull"], {}, activate=True)
    assert classify(api, PROBE)["results"][0]["reason"] == "mailboxfull"

    pickled = reg.save(two_models["suspend"], {})
    (registry / "models" / pickled / "model.skops").write_bytes(pickle.dumps(two_models["suspend"]))
    out = activate(registry, pickled)
    assert out.exit_code == 1 and "not a skops model file" in out.output and "never with pickle" in out.output

    smuggled = reg.save(two_models["suspend"], {})
    sio.dump({"model": Evil()}, registry / "models" / smuggled / "model.skops")
    out = activate(registry, smuggled)
    assert out.exit_code == 1 and "outside the trusted list" in out.output and "Evil" in out.output

    assert reg.active_version() == good
    assert classify(api, PROBE)["results"][0]["reason"] == "mailboxfull"


def test_a_model_broken_behind_the_registry_s_back_leaves_the_last_good_model_in_charge(service, registry, two_models):
    """Activated by hand, a model file that cannot be loaded does not replace the model the
    service uses (not even when that one's own file breaks: it is in memory); /readyz says
    which activation failed and why, and the answers stay the same request after request."""
    import requests

    api = service
    reg = Registry(registry)
    version = reg.save(two_models["mailboxfull"], {}, activate=True)
    assert classify(api, PROBE)["model"] == version
    ready = requests.get(api.base + "/readyz", timeout=10).json()
    assert ready["model"] == {"version": version, "activation_failed": None}

    (registry / "models" / version / "model.skops").write_bytes(b"not a model any more")
    other = reg.save(two_models["suspend"], {})
    (registry / "models" / other / "model.skops").write_bytes(b"nor this")
    reg.activate(other)                    # by hand, without the CLI's check
    for _ in range(5):
        answer = classify(api, [PROBE, {"diagnostic": "550 5.1.1 user unknown", "smtp_phase": "RCPT"}])
        assert answer["model"] == version
        assert [r["reason"] for r in answer["results"]] == ["mailboxfull", "userunknown"]
        assert "model-unavailable" not in answer["results"][0]["explanation"]
    ready = requests.get(api.base + "/readyz", timeout=10)
    assert ready.status_code == 200
    failed = ready.json()["model"]["activation_failed"]
    assert failed["version"] == other and "not a skops model file" in failed["error"] and failed["since"]
    assert ready.json()["model"]["version"] == version

    assert activate(registry, version).exit_code == 1          # the CLI refuses the broken file
    good = reg.save(two_models["suspend"], {})
    assert activate(registry, good).exit_code == 0
    assert classify(api, PROBE)["results"][0]["reason"] == "suspend"
    assert requests.get(api.base + "/readyz", timeout=10).json()["model"] == {"version": good,
                                                                             "activation_failed": None}


def _varied_events(tenant: str) -> list[Event]:
    """Evidence of every kind and reason from the training corpus, each twice, to two recipients."""
    records = load_records(data_files())[::40]
    when = datetime(2026, 11, 26, tzinfo=UTC)
    events = []
    for i, rec in enumerate(records + records[:50]):
        e = to_evidence(rec)
        events.append(Event(tenant=tenant, recipient=f"r{i}@example.org", kind=e.kind, provider="api",
                            event_id=f"v{i}", time=when, status=e.status, reply_code=e.reply_code,
                            diagnostic=e.diagnostic or None, smtp_phase=e.smtp_phase, remote_mta=e.remote_mta,
                            reporter=e.provider, provider_class=e.provider_class))
    events.append(Event(tenant=tenant, recipient="o@example.org", kind=Kind.OPEN, provider="api",
                        event_id="open", time=when))
    return events


def test_the_pipeline_s_batch_classification_equals_classifying_each_event(app, api):
    from webhook.pipeline import ingest

    events = _varied_events(api.tenant)
    with app.app_context():
        result = ingest(api.tenant, events)
    assert result.accepted == len(events)
    one_by_one = Classifier()                       # a fresh classifier: no shared cache
    expected = [one_by_one.classify(e.evidence()) for e in events]
    got = [{k: v for k, v in d.items() if k not in ("duplicate", "effects")} for d in result.verdicts]
    assert got == [v.to_dict() if v else {} for v in expected]
    assert len({v.reason for v in expected if v}) > 20 and expected[-1] is None


def test_the_classifier_setting_is_validated_and_rules_mode_never_loads_a_model(make_settings, redis_url):
    from webhook import create_app
    from webhook.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="REBOUND_CLASSIFIER"):
        Settings.from_env({"REBOUND_CLASSIFIER": "magic"})
    assert Settings.from_env({"REBOUND_DATA_DIR": "/srv/rb"}).effective_model_dir.as_posix() == "/srv/rb/models"
    app = create_app(make_settings(redis_url, classifier="rules"))
    tenant, key = app.extensions["rebound"].store.tenants.create("Rules Only")
    r = app.test_client().post("/v1/classify", json=PROBE, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert (r.json["mode"], r.json["model"]) == ("rules", None)
    assert "model" not in " ".join(r.json["results"][0]["explanation"])


def test_a_model_only_service_will_not_start_without_a_model(make_settings, redis_url, registry, two_models):
    from classifier.model.registry import ModelFileError
    from webhook import create_app

    reg = Registry(registry)
    version = reg.save(two_models["suspend"], {}, activate=True)
    (registry / "models" / version / "model.skops").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="not a skops model file"):
        create_app(make_settings(redis_url, model_dir=registry, classifier="model"))
    create_app(make_settings(redis_url, model_dir=registry))     # with the rules, it starts (and logs)
