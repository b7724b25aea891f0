"""The model as a scikit-learn estimator: shapes, probabilities, calibration, explanations."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from classifier.events import Evidence, Kind
from classifier.model.estimator import BounceModel
from classifier.model.normalise import normalise, normalise_batch
from classifier.model.registry import load_default
from classifier.model.training import fit, holdout_split
from classifier.taxonomy import REASONS
from classifier.training.dataset import data_files, load_records, to_evidence


@pytest.fixture(scope="module")
def records():
    return load_records(data_files())


@pytest.fixture(scope="module")
def split_model(records):
    """A model fitted on the training split; its held-out records were never seen."""
    tr, te = holdout_split(records, seed=7, holdout=0.25)
    model = fit([records[i] for i in tr[::2]], seed=7)
    return model, [records[i] for i in te]


@pytest.fixture(scope="module")
def default():
    return load_default().model


def test_predict_proba_shape_and_classes(split_model):
    model, held = split_model
    X = held[:300]
    proba = model.predict_proba(X)
    assert proba.shape == (300, len(model.classes_))
    assert set(model.classes_) <= set(REASONS)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (proba >= 0).all()
    assert list(model.predict(X)) == list(model.classes_[proba.argmax(axis=1)])


def test_evidence_and_records_are_the_same_input(split_model):
    model, held = split_model
    X = held[:50]
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba([to_evidence(r) for r in X]),
                               rtol=1e-6)


def test_repeated_evidence_in_a_batch_gets_the_same_answer_as_alone(split_model):
    model, held = split_model
    batch = [held[0], held[1], held[0], held[2], held[0]]
    together = model.predict_proba(batch)
    for i, r in enumerate(batch):
        np.testing.assert_allclose(together[i], model.predict_proba([r])[0], rtol=1e-5)


def test_calibration_confidence_tracks_accuracy_on_unseen_phrasings(split_model):
    model, held = split_model
    proba = model.predict_proba(held)
    pred = model.classes_[proba.argmax(axis=1)]
    conf = proba.max(axis=1)
    right = pred == np.array([r["reason"] for r in held])
    # confident answers are right more often than hesitant ones ...
    assert right[conf >= 0.8].mean() > right[conf < 0.5].mean() + 0.2
    assert right[conf >= 0.8].mean() >= 0.9
    # ... and the mean confidence is near the accuracy (no gross over/under-confidence)
    assert abs(conf.mean() - right.mean()) < 0.12


def test_estimator_api(split_model):
    model, _ = split_model
    params = model.get_params()
    assert params["seed"] == 7 and "C" in params
    fresh = clone(model)
    assert not hasattr(fresh, "pipeline_")
    assert fresh.get_params() == params


def test_fit_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="rows but y has"):
        BounceModel().fit([{"diagnostic": "x", "reason": "undefined"}], ["undefined", "undefined"])


def test_explanation_names_the_words_that_decided(default):
    ev = Evidence(diagnostic="550 5.2.2 <a@example.org>: mailbox is full", status="5.2.2", reply_code="550")
    assert default.predict([ev])[0] == "mailboxfull"
    top = default.explain(ev, top=8)
    assert top and all(weight > 0 for _, weight in top)
    names = " ".join(name for name, _ in top)
    assert "full" in names or "sd=2.2" in names


@pytest.mark.parametrize("evidence, reason", [
    # the code says one thing, the text another: the text is what happened
    (Evidence(diagnostic="550 5.1.1 Too many recipients this hour, slow down", status="5.1.1",
              reply_code="550"), "speeding"),
    (Evidence(diagnostic="550 5.7.1 <bob@example.org>: Recipient address rejected: User unknown",
              status="5.7.1", reply_code="550", smtp_phase="RCPT"), "userunknown"),
    # the same words after DATA: the envelope was accepted, a filter refused the message
    (Evidence(diagnostic="550 5.7.1 <bob@example.org>: Recipient address rejected: User unknown",
              status="5.7.1", reply_code="550", smtp_phase="DATA"), "filtered"),
    # ... unless the code says the mailbox itself is bad
    (Evidence(diagnostic="550 5.1.1 <bob@example.org>: User unknown", status="5.1.1", reply_code="550",
              smtp_phase="DATA"), "userunknown"),
    # at MAIL FROM, "unknown" is about the sender
    (Evidence(diagnostic="553 5.1.8 <news@example.com>: Sender address rejected: Domain not found",
              status="5.1.8", reply_code="553", smtp_phase="MAIL"), "rejected"),
    (Evidence(diagnostic="550 5.7.1 Unfortunately, messages from [192.0.2.7] weren't sent. Please contact "
                         "your Internet service provider since part of their network is on our block "
                         "list (S3150).", status="5.7.1", reply_code="550"), "blocked"),
    (Evidence(diagnostic="Benutzer unbekannt", status="5.1.1", reply_code="550"), "userunknown"),
    (Evidence(diagnostic="Почтовый ящик переполнен", kind=Kind.DEFERRAL), "mailboxfull"),
    (Evidence(diagnostic="宛先のメールアドレスが存在しません"), "userunknown"),
    (Evidence(diagnostic="connect to mx.example.net[192.0.2.1]:25: Connection timed out",
              kind=Kind.DEFERRAL), "networkerror"),
])
def test_default_model_reads_text_over_misleading_codes_and_languages(default, evidence, reason):
    assert default.predict([evidence])[0] == reason


def test_normalisation_masks_what_varies_and_keeps_codes():
    text = ("host mx1.example.com[192.0.2.1] said: 550-5.1.1 <john.doe@example.org>... see "
            "https://support.example.com/x?y=1 id=3F2A1B4C5D9E RESOLVER.ADR.RecipientNotFound (S3150) "
            "size 12345 2001:db8::1")
    out = normalise(text)
    for gone in ("example", "192.0.2.1", "john", "https", "3f2a1b4c5d9e", "12345", "db8"):
        assert gone not in out, (gone, out)
    for kept in ("hosttok", "iptok", "addrtok", "urltok", "idtok", "rc550", "st5_1_1",
                 "resolver_adr_recipientnotfound", "s3150"):
        assert kept in out, (kept, out)
    assert normalise_batch(["a", "", "b\x1ec"]) == ["a", "", "b c"]


def test_lean_prediction_path_equals_the_pipeline(split_model):
    """predict_proba skips scikit-learn's per-call validation; the numbers must not change."""
    model, held = split_model
    X = held[:400] + held[:50]                       # with repeats, scored once each
    np.testing.assert_allclose(model.predict_proba(X), model.pipeline_.predict_proba(X), atol=1e-6)


def test_control_characters_in_a_diagnostic_do_not_break_a_batch(default):
    """A NUL (the hashed features' record separator) or another control character in one
    diagnostic broke the prediction of the whole batch; they now count as spaces, in a batch
    and alone alike."""
    dirty = ["550 5.1.1 user\x00unknown <a@example.org>", "552 mailbox\x07full\x1e\x1f\x7f\x85",
             "\x00", "421 4.7.0 try\x1b again later\x0b\x0c"]
    clean = ["550 5.1.1 user unknown <a@example.org>", "552 mailbox full", "", "421 4.7.0 try again later"]
    assert normalise_batch(dirty) == normalise_batch(clean) == [normalise(t) for t in dirty]
    batch = [Evidence(diagnostic=t) for t in dirty] + [Evidence(diagnostic="550 5.2.2 mailbox full")]
    proba = default.predict_proba(batch)
    assert proba.shape == (5, len(default.classes_))
    alone = np.vstack([default.predict_proba([e]) for e in batch])
    assert np.allclose(proba, alone)
    assert np.allclose(proba[:4], default.predict_proba([Evidence(diagnostic=t) for t in clean]))
    assert default.explain(batch[0], "userunknown", top=3)


def test_context_words_are_shared_by_phrasings_in_another_word_order():
    """"no such user" and "the user ... does not exist" share the anchor's negation and the
    words near it, which adjacent n-grams of either do not give the other (issue 12)."""
    from classifier.model.features import context_tokens
    from classifier.model.normalise import normalise_batch

    a, b, c = (set(context_tokens(t)) for t in normalise_batch(
        ["550 No such user here", "The user you addressed does not exist here", "User mailbox is over quota"]))
    assert "user!" in a & b and "user~no" in a and "user~not" in b
    assert "user!" not in c and "mailbox~quota" in c
