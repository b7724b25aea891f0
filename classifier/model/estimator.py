"""The bounce-reason model: a scikit-learn estimator over evidence.

``BounceModel`` is a classifier in the scikit-learn sense (fit/predict/predict_proba,
get_params/set_params, clone-able) whose X is a list of :class:`classifier.events.Evidence`
or of training records (dicts), and whose ``classes_`` are fine reasons from the taxonomy.
Inside it is a ``Pipeline``: :class:`EvidenceFeatures` then a linear SVM whose scores are
turned into probabilities by sigmoid calibration on out-of-fold predictions.

Why this shape: a linear model over n-grams is fast (tens of thousands of predictions per
second on two cores), explains itself (a weight per n-gram), and does well on short,
formulaic texts. Calibration matters because the combination with the rules and the review
queue act on the probability: "0.6" must mean right about six times in ten. The folds used
for calibration keep records of one template together (``groups``); with near-duplicates on
both sides the out-of-fold scores would be too good and the probabilities overconfident.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from classifier.model.features import EvidenceFeatures


class BounceModel(ClassifierMixin, BaseEstimator):
    """Fine bounce reason from evidence, with calibrated probabilities."""

    def __init__(self, C=0.3, cv=3, calibration="sigmoid", class_weight="balanced", seed=0,
                 char_ngram_range=(2, 4), n_char_features=2 ** 19, word_ngram_range=(1, 2),
                 n_word_features=2 ** 18, min_df=2, char_weight=1.0, word_weight=0.7,
                 code_weight=0.8, max_chars=1000, phase_word_weight=0.7, context_weight=0.5):
        self.C = C
        self.cv = cv
        self.calibration = calibration
        self.class_weight = class_weight
        self.seed = seed
        self.char_ngram_range = char_ngram_range
        self.n_char_features = n_char_features
        self.word_ngram_range = word_ngram_range
        self.n_word_features = n_word_features
        self.min_df = min_df
        self.char_weight = char_weight
        self.word_weight = word_weight
        self.code_weight = code_weight
        self.max_chars = max_chars
        self.phase_word_weight = phase_word_weight
        self.context_weight = context_weight

    #: Models saved before the phase-word (context-word) features existed load with this value (no block).
    phase_word_weight = 0.0
    context_weight = 0.0

    def _splits(self, y: np.ndarray, groups: Sequence | None):
        if groups is None:
            return StratifiedKFold(self.cv, shuffle=True, random_state=self.seed)
        gkf = GroupKFold(self.cv, shuffle=True, random_state=self.seed)
        return list(gkf.split(np.zeros(len(y)), y, groups))

    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit on evidence ``X`` with fine reasons ``y``; ``groups`` (e.g. the template a
        record came from) keeps related records in one calibration fold; ``sample_weight``
        lets a verified real example (an analyst's label) count for more than a generated one."""
        X = list(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        features = EvidenceFeatures(
            char_ngram_range=self.char_ngram_range, n_char_features=self.n_char_features,
            word_ngram_range=self.word_ngram_range, n_word_features=self.n_word_features,
            min_df=self.min_df, char_weight=self.char_weight,
            word_weight=self.word_weight, code_weight=self.code_weight, max_chars=self.max_chars,
            phase_word_weight=self.phase_word_weight, context_weight=self.context_weight)
        svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed,
                        max_iter=5000)
        clf = CalibratedClassifierCV(svm, method=self.calibration, cv=self._splits(y, groups),
                                     ensemble=False)
        fit_params = {} if sample_weight is None else {"clf__sample_weight": np.asarray(sample_weight, float)}
        self.pipeline_ = Pipeline([("features", features), ("clf", clf)]).fit(X, y, **fit_params)
        self.classes_ = self.pipeline_.classes_
        svm = self._svm()
        svm.coef_ = svm.coef_.astype(np.float32)   # half the size on disk, same decisions
        svm.intercept_ = svm.intercept_.astype(np.float32)
        self._set_fast_path()
        return self

    def _set_fast_path(self) -> None:
        """Keep what :meth:`predict_proba` needs as plain arrays.

        The calibrated classifier validates its input once per class on every call (35
        times), which costs milliseconds for one piece of evidence; the arithmetic is a
        sparse product, one sigmoid per class and a normalisation, done here directly. The
        result equals the pipeline's to float precision (tested)."""
        calibrated = self.pipeline_.named_steps["clf"].calibrated_classifiers_[0]
        if self.calibration != "sigmoid" or len(self.classes_) < 3:
            self.sigmoid_ = None
            return
        order = np.searchsorted(self.classes_, calibrated.estimator.classes_)
        a = np.zeros(len(self.classes_))
        b = np.zeros(len(self.classes_))
        a[order] = [c.a_ for c in calibrated.calibrators]
        b[order] = [c.b_ for c in calibrated.calibrators]
        self.sigmoid_ = np.vstack([a, b])

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each fine reason (columns in the order of ``classes_``)."""
        check_is_fitted(self, "pipeline_")
        X = list(X)
        if getattr(self, "sigmoid_", None) is None:
            return self.pipeline_.predict_proba(X)
        features = self.pipeline_.named_steps["features"]
        rows, cols, vals, n, where = features.entries(X)
        coo = sp.coo_matrix((vals, (rows, cols)), shape=(n, features.n_features_out_))
        return self.proba_from_features(coo)[where]          # distinct rows scored once

    def proba_from_features(self, features) -> np.ndarray:
        """The classifier stage alone, on a matrix of :class:`EvidenceFeatures`."""
        return self._calibrated(self._scores(features))

    def _scores(self, features) -> np.ndarray:
        svm = self._svm()
        return features @ svm.coef_.T + svm.intercept_

    def _calibrated(self, scores: np.ndarray) -> np.ndarray:
        proba = expit(-(self.sigmoid_[0] * scores + self.sigmoid_[1]))
        total = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, total, out=np.full_like(proba, 1 / proba.shape[1]), where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        feats = self.pipeline_.named_steps["features"].matrix(list(X))
        return self._svm().decision_function(feats)

    def _svm(self) -> LinearSVC:
        return self.pipeline_.named_steps["clf"].calibrated_classifiers_[0].estimator

    def explain(self, x, reason: str | None = None, top: int = 5) -> list[tuple[str, float]]:
        """The features that pushed ``x`` towards ``reason`` (default: the predicted one), as
        (readable name, contribution to the score), strongest first. For analysts and for the
        verdict's explanation; slow path, one piece of evidence at a time."""
        check_is_fitted(self, "pipeline_")
        features: EvidenceFeatures = self.pipeline_.named_steps["features"]
        row = features.transform([x])
        if reason is None:
            reason = self.predict([x])[0]
        k = int(np.flatnonzero(self.classes_ == reason)[0])
        coef = self._svm().coef_
        if coef.shape[0] == 1:          # two classes: one score, positive for the second
            weights = coef[0, row.indices] * (1.0 if k == 1 else -1.0)
        else:
            weights = coef[k, row.indices]
        contrib = row.data * weights
        names = features.feature_names_of(x)
        order = np.argsort(-contrib)[:top]
        return [(names.get(int(row.indices[i]), f"feature:{int(row.indices[i])}"),
                 round(float(contrib[i]), 4)) for i in order if contrib[i] > 0]
