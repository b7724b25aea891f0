"""Turning evidence into a verdict: rules, model, or both combined.

:class:`Classifier` gathers what the decision procedure of :mod:`classifier.combine` needs:
the rule engine's result for each piece of evidence, and, only for the evidence the rules
do not settle, the model's probabilities, computed in one call per batch
(:meth:`Classifier.classify_many`). Verdicts are cached per distinct evidence (a campaign's
bounces repeat the same few diagnostics); the cache is emptied when the active model
changes, so ``rebound models activate`` takes effect in a running service.

Three modes (``REBOUND_CLASSIFIER`` for the CLI and the service):

- ``combined`` (default): the decision procedure over rules and model;
- ``rules``: the rule engine alone, the model never loaded;
- ``model``: the model alone (reports are still settled by their kind: that is parsing,
  not a rule).

The model is an :class:`~classifier.model.registry.ActiveModel` (the registry's active
model, hot-reloaded; the packaged default when the registry has none), or any fitted
:class:`~classifier.model.estimator.BounceModel`.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from classifier.combine import (
    MODES,
    REPORT_REASONS,
    THRESHOLDS,
    ModelOpinion,
    Opinion,
    Thresholds,
    decide,
    mark_review,
    settled,
)
from classifier.events import Evidence, Kind
from classifier.parse.budget import Budget, OverBudget
from classifier.rules import provider_classes
from classifier.rules.engine import RuleEngine, RuleResult, constrain_party, hardness, report_verdict
from classifier.verdict import Verdict

log = logging.getLogger(__name__)
#: Distinct pieces of evidence whose verdicts are kept ...
CACHE_SIZE = 50_000
#: ... and the bytes they may take at most (estimated; diagnostics longer than
#: classifier.events.MAX_CACHED_DIAGNOSTIC are never cached).
CACHE_BYTES = 32 * 1024 * 1024
#: How many of the model's strongest features a model-decided verdict names.
EXPLAIN_TOP = 4
#: Evidence given to the model at once: the time budget is checked between chunks.
MODEL_CHUNK = 256


def _no_check(stage: str) -> None:
    pass


class Classifier:
    """Classify failure evidence; return None for events that need no verdict (opens, ...)."""

    def __init__(self, rules: RuleEngine | None = None, model=None, mode: str = "combined",
                 thresholds: Thresholds = THRESHOLDS, cache_size: int = CACHE_SIZE,
                 cache_bytes: int = CACHE_BYTES):
        if mode not in MODES:
            raise ValueError(f"unknown classifier mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        self.rules = rules or _default_engine()
        self.thresholds = thresholds
        self._model_source = model
        self._cache = VerdictCache(cache_size, cache_bytes)
        self._cache_owner: object = None
        self._unavailable: str | None = None     # the model failure last logged (logged once)
        self._lock = threading.Lock()

    # -- the model -----------------------------------------------------------------------
    def _model(self):
        """(the fitted model now in use, its version) or (None, "") with the model off."""
        if self.mode == "rules":
            return None, ""
        source = self._model_source
        if source is None:
            source = self._model_source = _default_active()
        elif isinstance(source, RegistryModel):
            source = self._model_source = source.open()
        from classifier.model.registry import ActiveModel, LoadedModel
        if isinstance(source, ActiveModel):          # follows activations
            loaded = source.get()
            return loaded.model, loaded.version
        if isinstance(source, LoadedModel):
            return source.model, source.version
        return source, ""                           # a fitted model (predict_proba, classes_, explain)

    @property
    def model_version(self) -> str | None:
        return self._model()[1] if self.mode != "rules" else None

    def model_status(self) -> dict | None:
        """The model as operators should see it (``/readyz``): the version in use (None when
        none could be loaded) and the last activation that failed, while it stands."""
        if self.mode == "rules":
            return None
        try:
            version = self._model()[1]
        except Exception:                          # noqa: BLE001 - reported below
            version = None
        failure = getattr(self._model_source, "failure", None)
        return {"version": version, "activation_failed": failure.to_dict() if failure else None}

    def _opinions(self, model, version: str, batch: list[Evidence]) -> list[ModelOpinion]:
        """The model's opinion of each piece of evidence, from one ``predict_proba`` call.
        Reasons only a report can have are not the model's to give (see classifier.combine)."""
        import numpy as np

        proba = model.predict_proba(batch)
        classes = model.classes_
        allowed = np.array([c not in REPORT_REASONS for c in classes])
        masked = np.where(allowed, proba, -1.0)
        best = masked.argmax(axis=1)
        out = []
        for e, k, row in zip(batch, best.tolist(), proba):
            reason = str(classes[k])
            out.append(ModelOpinion(reason, float(row[k]), version,
                                    features=_explainer(model, e, reason)))
        return out

    # -- classification --------------------------------------------------------------------
    def classify(self, evidence: Evidence) -> Verdict | None:
        return self.classify_many((evidence,))[0]

    def classify_many(self, evidences: Iterable[Evidence], budget: Budget | None = None) -> list[Verdict | None]:
        """Verdicts for a batch, in order; the model runs once, for the evidence the rules do
        not settle. Equal to ``[classify(e) for e in evidences]``, only faster. With a
        ``budget`` (the message's or the request's, see :mod:`classifier.parse.budget`), it is
        checked for each piece of evidence and before each chunk the model is given:
        :class:`~classifier.parse.budget.OverBudget` as soon as it is spent, so a batch of
        thousands of unusual diagnostics stops at its budget instead of running for minutes."""
        evidences = list(evidences)
        if budget is not None:
            budget.check("rules")
        out: list[Verdict | None] = [None] * len(evidences)
        # The model is loaded only when the rules leave a verdict to it (a run of common
        # DSNs never pays for scikit-learn); once it is, it is looked at first, so that a
        # newly activated model empties the cache of the verdicts the old one decided.
        asked = self._cache_owner is not None
        model, version, cache = self._model_and_cache() if asked else (None, "", self._cache)
        pending: dict[Evidence, list[int]] = {}
        check = budget.check if budget is not None else _no_check
        for i, e in enumerate(evidences):
            if not _classifiable(e):
                continue
            check("rules")
            v = cache.get(e)
            if v is not None:
                out[i] = v
                continue
            if e in pending:
                pending[e].append(i)
                continue
            v = self._without_model(e)
            if v is None:
                pending[e] = [i]
            else:
                out[i] = cache.put(e, v)
        if pending:
            if not asked:
                model, version, cache = self._model_and_cache()
            batch = list(pending)
            opinions: list = [None] * len(batch)
            if model is not None:
                try:
                    opinions = []
                    for start in range(0, len(batch), MODEL_CHUNK):
                        check("model")
                        opinions += self._opinions(model, version, batch[start:start + MODEL_CHUNK])
                except OverBudget:
                    raise
                except Exception as exc:   # noqa: BLE001
                    self._model_unavailable(exc)
                    opinions, cache = [None] * len(batch), VerdictCache(0, 0)
            for e, opinion in zip(batch, opinions):
                check("model")
                if self.mode == "model":
                    rule = provider = None
                else:
                    provider = self.provider_opinion(e)
                    rule = _rule_opinion(self.rules.evaluate(e), provider)
                v = self._constrain(e, decide(e, rule, opinion, lambda r, e=e: hardness(r, e), provider=provider,
                                              t=self.thresholds))
                if opinion is None:
                    v = replace(v, explanation=v.explanation + ("model-unavailable",))
                v = cache.put(e, v)
                for i in pending[e]:
                    out[i] = v
        return out

    def _model_and_cache(self) -> tuple:
        """(model, version, the verdict cache that goes with it); the model None, and a cache
        that keeps nothing, when it cannot be loaded."""
        try:
            model, version = self._model()
            return model, version, self._cache_for(model)
        except Exception as exc:       # noqa: BLE001 - whatever broke, the rules still work
            return self._model_unavailable(exc), "", VerdictCache(0, 0)

    def _model_unavailable(self, exc: Exception) -> None:
        """A model that cannot be loaded or run (a file removed or damaged after activation)
        must not stop the intake: with the rules on, the rules' verdicts stand (marked
        ``model-unavailable`` and not cached) until the model is back. Model-only mode has
        nothing to fall back to."""
        if self.mode == "model":
            raise exc
        message = f"{type(exc).__name__}: {exc}"
        if message != self._unavailable:          # once, not on every request
            self._unavailable = message
            log.error("classifier model unavailable, deciding with the rules alone: %s", message)

    def _without_model(self, e: Evidence) -> Verdict | None:
        """The verdict when the model need not be asked, else None."""
        report = report_verdict(e)
        if report is not None:
            return report
        if self.mode == "model":
            return None
        result = self.rules.evaluate(e)
        provider = self.provider_opinion(e)
        if self.mode == "rules" and provider is None:
            return self._constrain(e, mark_review(result.verdict, self.thresholds))
        if self.mode == "rules" or settled(result, self.thresholds):
            return self._constrain(e, decide(e, _rule_opinion(result, provider), None, lambda r: hardness(r, e),
                                             provider=provider, t=self.thresholds))
        return None

    def provider_opinion(self, evidence: Evidence) -> Opinion | None:
        """An ESP's own classification of the failure (``evidence.provider_class``, see
        :mod:`classifier.rules.provider_classes`) as an opinion of source ``provider``,
        weighed beside the rules' (see :func:`classifier.combine.decide`). The model-only
        mode leaves it out: the model stands on its own there."""
        if self.mode == "model" or not evidence.provider_class or not evidence.kind.is_failure:
            return None
        found = provider_classes.reading(evidence.provider_class)
        if found is None:
            return None
        reason, confidence, hard, tag = found
        return Opinion("provider", reason, confidence, confidence >= provider_classes.PRECISE, (tag,), hard=hard)

    def _constrain(self, e: Evidence, v: Verdict) -> Verdict:
        """The provider's statement that a failure is temporary or sender-side, and the
        conversation's showing that the sending side was refused (``constrain_party``),
        bind the verdict, whoever decided it (not in model-only mode)."""
        if self.mode == "model" or not e.kind.is_failure:
            return v
        v = constrain_party(e, v)
        if not e.provider_class:
            return v
        return provider_classes.constrain(v, e.provider_class)

    def evaluate(self, evidence: Evidence) -> RuleResult | None:
        """The rule engine's full answer (verdict, matched rules, precision), or None."""
        if not _classifiable(evidence):
            return None
        return self.rules.evaluate(evidence)

    # -- cache -------------------------------------------------------------------------------
    def _cache_for(self, model) -> VerdictCache:
        with self._lock:
            if model is not self._cache_owner:
                # a newly activated model: forget the old one's verdicts (the first model
                # keeps what the rules alone decided before it was loaded)
                if self._cache_owner is not None:
                    self._cache = VerdictCache(self._cache.max_entries, self._cache.max_bytes)
                self._cache_owner = model
            return self._cache


class VerdictCache:
    """Verdicts by evidence, bounded in entries and in estimated bytes, and emptied when
    either bound is reached (what repeats comes back within seconds). Evidence that is not
    :attr:`~classifier.events.Evidence.cacheable` is never stored."""

    #: Bytes of one entry beyond its strings: the evidence, the verdict and the dict slot.
    ENTRY_BYTES = 600

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._verdicts: dict[Evidence, Verdict] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, e: Evidence) -> Verdict | None:
        return self._verdicts.get(e)

    def put(self, e: Evidence, v: Verdict) -> Verdict:
        """Remember ``v`` for ``e`` when it fits; return ``v``."""
        if not e.cacheable:
            return v
        size = self.ENTRY_BYTES + len(e.diagnostic) + len(e.remote_mta or "") + len(e.provider_class or "")
        if len(self._verdicts) >= self.max_entries or self.bytes + size > self.max_bytes:
            self._verdicts.clear()
            self.bytes = 0
            if size > self.max_bytes:
                return v
        self._verdicts[e] = v
        self.bytes += size
        return v


def _rule_opinion(result: RuleResult, provider: Opinion | None) -> Opinion:
    """The rules' opinion; when the rules turned "user unknown" into ``filtered`` only for
    want of a stated SMTP phase, a provider naming the unrefined reason settles the doubt."""
    opinion = Opinion.of_rules(result)
    if provider is not None and result.unrefined is not None and result.unrefined == provider.reason:
        opinion = replace(opinion, reason=result.unrefined, hard=None,
                          explanation=opinion.explanation + (f"phase-doubt-settled-by:{provider.explanation[0]}",))
    return opinion


def _classifiable(e: Evidence) -> bool:
    return e.kind.is_failure or e.kind in (Kind.COMPLAINT, Kind.DELIVERED)


def _explainer(model, e: Evidence, reason: str):
    def features() -> tuple[str, ...]:
        return tuple(f"{name} {w:+.2f}" for name, w in model.explain(e, reason, top=EXPLAIN_TOP))
    return features


def build(mode: str = "combined", model_dir: Path | str | None = None, check_every: float = 5.0) -> Classifier:
    """A classifier in ``mode`` whose model is the active one of the registry at
    ``model_dir`` (the packaged default when it has none, or when ``model_dir`` is None)."""
    if mode not in MODES:
        raise ValueError(f"unknown classifier mode {mode!r}; one of {', '.join(MODES)}")
    model = None if mode == "rules" or model_dir is None else RegistryModel(model_dir, check_every)
    return Classifier(model=model, mode=mode)


class RegistryModel:
    """The active model of the registry at ``root``, opened (an
    :class:`~classifier.model.registry.ActiveModel`) when the classifier first needs a
    model: importing the registry loads skops and scikit-learn, which a run that the rules
    settle alone never needs."""

    def __init__(self, root: Path | str, check_every: float = 5.0):
        self.root, self.check_every = root, check_every

    def open(self):
        from classifier.model.registry import ActiveModel

        return ActiveModel(self.root, check_every=self.check_every)


_ENGINE: RuleEngine | None = None
_ACTIVE = None


def _default_engine() -> RuleEngine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = RuleEngine()
    return _ENGINE


def _default_active():
    """The packaged default model, loaded once per process on first use."""
    global _ACTIVE
    if _ACTIVE is None:
        from classifier.model.registry import ActiveModel
        _ACTIVE = ActiveModel(None)
    return _ACTIVE


__all__ = ["MODES", "Classifier", "VerdictCache", "build"]
