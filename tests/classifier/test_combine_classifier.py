"""The full classifier: real rule engine, real packaged model, the three modes, batches, cache,
and a model activated while the classifier runs."""
from __future__ import annotations


import numpy as np
import pytest

from classifier.combine import REPORT_REASONS
from classifier.engine import Classifier, build
from classifier.events import Evidence, Kind
from classifier.model.estimator import BounceModel
from classifier.model.registry import ActiveModel, Registry, load_default
from classifier.parse import parse_message
from classifier.rules.engine import RuleEngine

from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def default_model():
    return load_default().model


class CountingModel:
    """The packaged model, counting the batches it is asked to score."""

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_
        self.batches: list[list[Evidence]] = []

    def predict_proba(self, X):
        X = list(X)
        self.batches.append(X)
        return self.model.predict_proba(X)

    def explain(self, *args, **kwargs):
        return self.model.explain(*args, **kwargs)


def fixture_evidence() -> list[Evidence]:
    out = []
    for path in sorted(FIXTURES.glob("*.eml")):
        out.extend(r.evidence for r in parse_message(path.read_bytes()).recipients)
    return out


DEACTIVATED = Evidence(diagnostic="550 5.2.1 The mailbox you are sending to is deactivated",
                       status="5.2.1", reply_code="550")
GIBBERISH = Evidence(diagnostic="550 xyzzy plugh", reply_code="550")


def test_a_weak_rule_is_overridden_by_the_confident_model(default_model):
    rules = Classifier(mode="rules").classify(DEACTIVATED)
    assert (rules.reason, rules.source) == ("filtered", "rule")       # X.2.1's table default
    v = Classifier(model=default_model).classify(DEACTIVATED)
    assert (v.reason, v.category, v.source) == ("suspend", "account_disabled", "model")
    assert v.confidence >= 0.6 and not v.needs_review
    assert v.explanation[0].startswith("model:suspend@")
    assert any(e.startswith(("words:", "chars:", "code:")) for e in v.explanation), v.explanation
    assert "over:rule:filtered@0.55" in v.explanation


def test_a_settling_rule_is_not_second_guessed_and_the_model_not_asked(default_model):
    counting = CountingModel(default_model)
    c = Classifier(model=counting)
    v = c.classify(Evidence(diagnostic="550 5.1.1 <a@example.org>: Recipient address rejected: "
                                       "User unknown in local recipient table", status="5.1.1",
                            reply_code="550", smtp_phase="RCPT"))
    assert (v.reason, v.source) == ("userunknown", "rule") and v.confidence >= 0.9
    assert counting.batches == []


def test_agreement_raises_the_confidence(default_model):
    e = Evidence(diagnostic="421 4.7.0 Reputation too low, try again later", status="4.7.0", reply_code="421",
                 kind=Kind.DEFERRAL)
    rules = Classifier(mode="rules").classify(e)
    v = Classifier(model=default_model).classify(e)
    assert v.reason == "badreputation"
    if rules.reason == v.reason:
        assert v.source == "combined" and v.confidence > rules.confidence
    else:
        assert v.source == "model"


def test_nothing_known_is_onhold_for_review(default_model):
    v = Classifier(model=default_model).classify(GIBBERISH)
    assert (v.reason, v.category) == ("onhold", "unknown")
    assert v.needs_review and v.review == "unknown" and v.confidence <= 0.35


def test_the_model_never_turns_a_failure_into_a_report(default_model):
    ooo = Evidence(diagnostic="ただいま休暇中のため、メールを確認できません。")
    v = Classifier(model=default_model, mode="model").classify(ooo)
    assert v.reason not in REPORT_REASONS
    report = Evidence(diagnostic="ただいま休暇中のため、メールを確認できません。", provider_class="auto-reply")
    assert Classifier(model=default_model, mode="model").classify(report).reason == "vacation"


def test_model_mode_does_without_the_rules(default_model):
    c = Classifier(model=default_model, mode="model")
    verdicts = c.classify_many(fixture_evidence())
    assert verdicts
    for v in verdicts:
        if v.reason in REPORT_REASONS:
            assert v.source == "rule" and v.explanation[0].startswith(("kind:", "report:"))
            continue
        assert v.source == "model"
        assert not any(x.startswith(("phrase:", "status:", "reply:", "phase.")) for x in v.explanation)


def test_rules_mode_never_loads_a_model():
    c = Classifier(mode="rules")
    verdicts = c.classify_many(fixture_evidence())
    assert verdicts and all(v.source == "rule" for v in verdicts)
    assert c._model_source is None and c.model_version is None


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown classifier mode"):
        Classifier(mode="both")
    with pytest.raises(ValueError, match="unknown classifier mode"):
        build("neural")


@pytest.mark.parametrize("mode", ["combined", "model", "rules"])
def test_classify_many_equals_classify_element_wise(default_model, mode):
    evidences = fixture_evidence()
    evidences += [DEACTIVATED, GIBBERISH, DEACTIVATED, Evidence(kind=Kind.OPEN), evidences[0],
                  Evidence(kind=Kind.COMPLAINT), Evidence()]
    batch = Classifier(model=default_model, mode=mode).classify_many(evidences)
    one_by_one = [Classifier(model=default_model, mode=mode).classify(e) for e in evidences]
    assert batch == one_by_one
    assert batch[-4] is None                          # an open needs no verdict


def test_one_model_call_per_batch_for_the_unsettled_distinct_evidence(default_model):
    counting = CountingModel(default_model)
    c = Classifier(model=counting)
    evidences = fixture_evidence() + [DEACTIVATED] * 50 + [GIBBERISH] * 3
    c.classify_many(evidences)
    assert len(counting.batches) == 1
    asked = counting.batches[0]
    assert len(asked) == len(set(asked)) and DEACTIVATED in asked and GIBBERISH in asked
    c.classify_many(evidences)                        # cached: the model is not asked again
    assert len(counting.batches) == 1


def _tiny_model(word_a: str, word_b: str) -> BounceModel:
    """A model that reads ``word_a`` as a full mailbox and ``word_b`` as a block."""
    texts = [f"{w} {n}" for w in (word_a, word_b) for n in ("alpha", "beta", "gamma", "delta", "eps", "zeta")]
    y = ["mailboxfull"] * 6 + ["blocked"] * 6
    return BounceModel(cv=2, min_df=1).fit([{"diagnostic": t} for t in texts], np.array(y))


def test_activating_a_model_changes_the_answers_of_a_running_classifier(tmp_path):
    reg = Registry(tmp_path / "models")
    first = reg.save(_tiny_model("zork", "quux"), {"training_data_fingerprint": "first"})
    second = reg.save(_tiny_model("quux", "zork"), {"training_data_fingerprint": "second"})
    reg.activate(first)
    c = Classifier(model=ActiveModel(reg.root, check_every=0), mode="model")
    e = Evidence(diagnostic="zork gamma", reply_code="550")
    assert c.classify(e).reason == "mailboxfull" and c.model_version == first
    reg.activate(second)
    assert c.classify(e).reason == "blocked" and c.model_version == second
    reg.rollback()
    assert c.classify(e).reason == "mailboxfull"


def test_build_uses_the_registry_active_model_else_the_packaged_one(tmp_path):
    assert build("combined", tmp_path / "empty").model_version == "default"
    reg = Registry(tmp_path / "models")
    version = reg.save(_tiny_model("zork", "quux"), {"training_data_fingerprint": "x"}, activate=True)
    c = build("model", reg.root)
    assert c.model_version == version
    assert c.classify(Evidence(diagnostic="quux beta")).reason == "blocked"
    assert build("rules", reg.root).model_version is None


def test_a_broken_activation_keeps_the_last_good_model_logs_once_and_settles(tmp_path, caplog):
    """A model activated behind the CLI's back that cannot be loaded does not replace the one
    in use, is logged once (not on every request or poll) and reported; the classifier does
    not go back and forth between the model and the rules. Repaired, it is taken up."""
    reg = Registry(tmp_path / "models")
    good = reg.save(_tiny_model("zork", "quux"), {"training_data_fingerprint": "good"}, activate=True)
    fine = _tiny_model("quux", "zork")
    broken = reg.save(fine, {"training_data_fingerprint": "broken"})
    active = ActiveModel(reg.root, check_every=0)
    c = Classifier(model=active, mode="model")
    e = Evidence(diagnostic="zork gamma", reply_code="550")
    before = c.classify(e)
    assert before.reason == "mailboxfull" and c.model_status() == {"version": good, "activation_failed": None}

    reg.activate(broken)
    (reg.models / broken / "model.skops").write_bytes(b"not a zip file at all")
    caplog.clear()
    answers = [c.classify(Evidence(diagnostic="zork gamma", reply_code="550", remote_mta=f"mx{i}")) for i in range(20)]
    assert {(v.reason, v.source) for v in answers} == {("mailboxfull", "model")}
    assert c.model_version == good
    failure = active.failure
    assert failure.version == broken and "not a skops model file" in failure.error
    assert c.model_status() == {"version": good, "activation_failed": failure.to_dict()}
    assert [r.message.count("could not be activated") for r in caplog.records] == [1]
    assert active.failure is failure                 # not tried again while nothing changed on disk

    from classifier.model.registry import save_model
    save_model(fine, reg.models / broken / "model.skops")     # repaired in place
    assert c.classify(e).reason == "blocked" and c.model_version == broken
    assert active.failure is None and c.model_status()["activation_failed"] is None


def test_with_no_good_model_loaded_yet_the_rules_decide_and_it_is_logged_once(tmp_path, caplog):
    reg = Registry(tmp_path / "models")
    broken = reg.save(_tiny_model("quux", "zork"), {"training_data_fingerprint": "broken"}, activate=True)
    (reg.models / broken / "model.skops").write_bytes(b"not a zip file at all")
    c = Classifier(model=ActiveModel(reg.root, check_every=0))
    verdicts = [c.classify(DEACTIVATED) for _ in range(5)]
    rules = Classifier(mode="rules").classify(DEACTIVATED)
    assert {(v.reason, v.source, v.explanation[-1]) for v in verdicts} == {(rules.reason, "rule", "model-unavailable")}
    assert sum("model unavailable" in r.message for r in caplog.records) == 1
    assert sum("could not be activated" in r.message for r in caplog.records) == 1
    assert c.model_status()["version"] is None and c.model_status()["activation_failed"]["version"] == broken
    with pytest.raises(Exception, match="skops"):
        Classifier(model=ActiveModel(reg.root, check_every=0), mode="model").classify(DEACTIVATED)


def test_huge_diagnostics_leave_the_verdict_caches_small():
    """Verdicts are cached per evidence; a cache bounded only by its number of entries held
    50,000 diagnostics of any length. Long diagnostics are not cached at all, and the total
    is bounded in bytes."""
    c = Classifier(rules=RuleEngine(), mode="rules", cache_bytes=200_000)
    huge = [Evidence(diagnostic=f"550 5.1.1 user {i} unknown " + "x" * 100_000, status="5.1.1") for i in range(300)]
    verdicts = c.classify_many(huge)
    assert {v.reason for v in verdicts} == {"userunknown"}
    assert len(c._cache) == 0 and c.rules._cached.cache_info().currsize == 0

    long = [Evidence(diagnostic=f"550 5.1.1 user {i} unknown " + "y" * 1_500) for i in range(1_000)]
    c.classify_many(long)
    assert 0 < len(c._cache) < 200 and c._cache.bytes <= 200_000

    short = Evidence(diagnostic="552 5.2.2 mailbox full", status="5.2.2")
    first = c.classify(short)
    assert c.classify(short) is first                # what repeats is still served from the cache


@pytest.mark.parametrize("readings,stage,batches", [
    ((0.0, 2.5), "rules", 0),                 # parse and extraction spent the budget
    ((0.0, 1.0, 2.5), "rules", 0),            # the rules of the evidence before this one did
    ((0.0, 1.0, 1.0, 2.5), "model", 0),       # the rules did (readings: start, batch, evidence, model chunk)
    ((0.0, 1.0, 1.0, 1.5, 1.5), None, 1),     # in time (and the verdict after the model)
])
def test_the_budget_is_checked_before_the_rules_and_before_the_model(default_model, readings, stage, batches):
    from classifier.parse import Budget, OverBudget

    it = iter(readings)
    model = CountingModel(default_model)
    c = Classifier(model=model)
    budget = Budget(2.0, clock=lambda: next(it))
    if stage is None:
        assert c.classify_many([GIBBERISH], budget)[0].reason
    else:
        with pytest.raises(OverBudget, match=f"stopped before {stage}"):
            c.classify_many([GIBBERISH], budget)
    assert len(model.batches) == batches       # an over-budget message never reaches the model
