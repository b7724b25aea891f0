"""How the rule engine's answer and the model's probabilities become one verdict.

Rules are precise but brittle: a phrase they know settles a reason, a phrasing they have
never seen falls through to a generic status-code default or to nothing. The model
generalises to unseen phrasings, translations and odd codes, but it is a statistical guess.
The decision procedure below lets each cover the other's weakness. It is a pure function of
its inputs (:func:`decide`); :class:`classifier.engine.Classifier` gathers the inputs, calls
the model once per batch, and caches verdicts.

Inputs, each an :class:`Opinion` (a fine reason, a confidence, and whether it is *precise*):

- the rule engine's result (:class:`classifier.rules.engine.RuleResult`). It is precise when
  a phrase or vendor rule or a specific status code decided; weak when only a default did
  (a generic status/reply code, the SMTP phase, a deferral's "still pending", a final
  failure with only a 4xx code) or nothing matched at all (``onhold``/``undefined``);
- optionally an ESP's own classification (``provider``; see :func:`decide`), evidence of the
  same standing as a rule;
- the model's calibrated probabilities (:class:`ModelOpinion`): its top reason and ``p``.

The procedure, in order (thresholds in :data:`THRESHOLDS`):

1. **Reports settle themselves.** A complaint (ARF) is ``feedback``, a success DSN
   ``delivered``, an RFC 3834 auto-reply ``vacation``: the parser recognised the report and
   no text needs reading (:func:`classifier.rules.engine.report_reason`, shared with the rule engine, which
   answers reports the same way). The model is not asked, and it may never
   propose one of these three for a failure: only the parser decides what a report is, and an
   unknown phrasing that merely *looks* like an out-of-office text is still a failure.
2. **A precise rule at least ``settle`` confident decides alone** (source ``rule``). The
   model is not asked: this is most real bounces, and it keeps the batch path fast.
3. Otherwise the model is asked, and its top reason compared with the rule's:

   a. **agreement** (same reason): source ``combined``, confidence ``1 - (1-c)(1-p)`` (two
      independent witnesses), at most ``agree_cap``;
   b. **firm rule (precise and at least ``firm`` confident), model disagrees**: the rule
      wins. If the model is at least ``conflict`` sure of a reason in *another category*,
      the verdict is marked ``conflict`` for review and its confidence multiplied by
      ``1 - conflict_penalty * p``, so a strong disagreement can hold back a suppression
      until an analyst looks;
   c. **weak rule (a default, or a precise one below ``firm``; or none), model at least
      ``decide`` sure** of a real reason, and surer than the rule: the model decides
      (source ``model``; explanation: its strongest features). The model saying
      ``onhold``/``undefined`` is an abstention, never an override;
   d. otherwise the rule's verdict stands, however weak; with no rule at all, the model's
      best guess (step 4 decides whether it is worth giving).
   e. a *hard* reason suppresses for good on one bounce: the model decides one (in c, or
      as the only opinion in d) only when at least ``suppress`` sure; below that, unless a
      rule gave a real reading, the verdict is undecided (``onhold``, for review). Text in
      which no rule finds anything ("unknown", "Could not deliver") is no ground for a
      suppression.
4. **Too little confidence is no verdict.** A final confidence below ``abstain`` becomes
   ``onhold`` (a failure whose cause is undecided; ``undefined`` when the evidence is empty):
   category ``unknown``, which the policy never acts on. Undecided verdicts carry at most
   ``abstain`` confidence, whoever proposed them. A ``conflict`` (3b) keeps the precise
   rule's reason however low its lowered confidence: the analyst sees both sides.
5. **Review.** ``unknown`` for category-unknown verdicts, ``conflict`` from 3b,
   ``low-confidence`` for anything else below ``review``. The store queues these.

With the rules switched off (``mode="model"``) steps 1 and 4-5 still apply: the report kind
is a fact the parser established, not a rule. With the model switched off (``mode="rules"``)
the rule engine's verdict is returned as it is, with the review marks of step 5.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from classifier.events import Evidence
from classifier.rules.engine import RuleResult
from classifier.taxonomy import CATEGORY_OF, REASONS
from classifier.verdict import Verdict

MODES = ("combined", "rules", "model")
#: Reasons only the parser may give (step 1): the kind of report, not its wording, decides.
REPORT_REASONS = frozenset({"feedback", "delivered", "vacation"})
#: Reasons that mean "undecided": a model proposing one abstains.
UNDECIDED = frozenset({"onhold", "undefined"})


@dataclass(frozen=True)
class Thresholds:
    """The numbers of the decision procedure, in one place (see the module docstring)."""

    #: A precise rule at least this confident decides without asking the model.
    settle: float = 0.85
    #: The model decides over a weak rule (or none) from this probability on.
    decide: float = 0.60
    #: A precise rule below this confidence is weak all the same: a confident model may
    #: overrule it (3c). Rules written from one corpus read other mail systems' words less
    #: surely than their confidence says (issue 12).
    firm: float = 0.80
    #: A model at least this sure of another category than a precise rule's: ``conflict``.
    conflict: float = 0.80
    #: How much a conflicting model lowers the rule's confidence: ``c * (1 - penalty * p)``.
    conflict_penalty: float = 0.5
    #: Agreeing rule and model: confidence ``1 - (1-c)(1-p)``, at most this.
    agree_cap: float = 0.99
    #: The model alone decides a *hard* reason (one bounce suppresses for good) only from this
    #: probability on; below it, with no rule reading, the verdict is undecided and reviewed.
    #: ESP payloads whose text says nothing ("unknown", "server output") drew guesses of
    #: userunknown at 0.53-0.65 from the model, which would have suppressed good addresses.
    suppress: float = 0.70
    #: A final confidence below this is no verdict: ``onhold``/``undefined``.
    abstain: float = 0.35
    #: A final confidence below this goes to the review queue (``low-confidence``).
    review: float = 0.50


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Opinion:
    """One source's proposal: a fine reason, how sure, and whether it is precise."""

    source: str                        # "rule" or "provider"
    reason: str
    confidence: float
    precise: bool
    explanation: tuple[str, ...] = ()
    hard: bool | None = None           # None: the taxonomy's default for the reason

    @classmethod
    def of_rules(cls, result: RuleResult) -> Opinion:
        v = result.verdict
        return cls("rule", v.reason, v.confidence, result.precise, v.explanation, v.hard)


@dataclass(frozen=True)
class ModelOpinion:
    """The model's top reason among those allowed for the evidence, and its probability."""

    reason: str
    p: float
    version: str = ""
    #: The features that pushed the model towards ``reason`` (readable names), computed
    #: only when the model decides: explaining costs more than predicting.
    features: Callable[[], tuple[str, ...]] = field(default=lambda: (), compare=False)

    def label(self) -> str:
        return f"model:{self.reason}@{self.p:.2f}"


def settled(result: RuleResult | None, t: Thresholds = THRESHOLDS) -> bool:
    """Whether the rules alone decide (steps 1-2): then the model need not be asked."""
    if result is None:
        return True
    return result.precise and result.verdict.confidence >= t.settle


def _undecided(evidence: Evidence, confidence: float, source: str, explanation: tuple[str, ...]) -> Verdict:
    has_evidence = bool(evidence.diagnostic.strip() or evidence.status or evidence.reply_code)
    return Verdict.of("onhold" if has_evidence else "undefined", confidence=confidence, source=source,
                      explanation=explanation, review="unknown")


def mark_review(v: Verdict, t: Thresholds = THRESHOLDS) -> Verdict:
    """Step 5 for a verdict that has no review mark yet."""
    if v.review is not None or v.reason in REPORT_REASONS:
        return v
    if v.reason in UNDECIDED:
        return replace(v, review="unknown")
    if v.confidence < t.review:
        return replace(v, review="low-confidence")
    return v


def decide(evidence: Evidence, rule: Opinion | None, model: ModelOpinion | None,
           hardness: Callable[[str], bool | None], provider: Opinion | None = None,
           t: Thresholds = THRESHOLDS) -> Verdict:
    """Steps 2-5 for one failure (reports are settled before, see :func:`report_verdict`).

    ``rule`` is the rule engine's opinion (None with the rules switched off), ``model`` the
    model's (None with the model off, or when the rules settled), ``provider`` an ESP's own
    classification turned into an opinion: it stands beside the rule's, and the precise one
    of the two (else the more confident) is the evidence side that the model is weighed
    against. ``hardness(reason)`` says whether a reason is hard for this evidence.
    """
    side = _evidence_side(rule, provider, t)
    if side is None and model is None:
        return _undecided(evidence, 0.1, "rule", ("no-evidence",))
    if side is not None and (model is None or (side.precise and side.confidence >= t.settle)):
        verdict = _from_opinion(side, side.confidence, hardness)
    elif side is not None and model.reason == side.reason:
        confidence = min(t.agree_cap, 1 - (1 - side.confidence) * (1 - model.p))
        verdict = Verdict.of(side.reason, confidence=confidence, source="combined",
                             explanation=side.explanation + (model.label(),),
                             hard=side.hard if side.hard is not None else hardness(side.reason))
    elif side is not None and side.precise and side.confidence >= t.firm:
        if model.p >= t.conflict and CATEGORY_OF[model.reason] != CATEGORY_OF[side.reason] \
                and model.reason not in UNDECIDED:
            verdict = _from_opinion(side, side.confidence * (1 - t.conflict_penalty * model.p), hardness,
                                    extra=(f"conflict:{model.label()}",), review="conflict")
        else:
            verdict = _from_opinion(side, side.confidence, hardness, extra=(f"over:{model.label()}",))
    elif model.p >= t.decide and model.reason not in UNDECIDED and (side is None or model.p > side.confidence) \
            and (model.p >= t.suppress or not _is_hard(model.reason, hardness)):
        if side is not None:
            over = (f"over:{side.source}:{side.reason}@{side.confidence:.2f}",)
        else:
            over = (f"rules:{rule.reason}",) if rule is not None else ()
        verdict = Verdict.of(model.reason, confidence=model.p, source="model",
                             explanation=(model.label(),) + model.features() + over,
                             hard=hardness(model.reason))
    elif side is not None:
        verdict = _from_opinion(side, side.confidence, hardness, extra=(f"unsure:{model.label()}",))
    elif _is_hard(model.reason, hardness):   # the model alone, not ``suppress`` sure of a hard reason: no verdict
        verdict = _undecided(evidence, min(model.p, t.abstain), "model",
                             (f"abstained:{model.label()}",) + model.features())
    else:   # nothing but the model, unsure: its guess stands if above ``abstain`` (step 4)
        verdict = Verdict.of(model.reason, confidence=model.p, source="model",
                             explanation=(model.label(),) + model.features(), hard=hardness(model.reason))
    if verdict.reason in UNDECIDED:
        verdict = _undecided(evidence, min(verdict.confidence, t.abstain), verdict.source, verdict.explanation)
    elif verdict.confidence < t.abstain and verdict.review != "conflict":
        verdict = _undecided(evidence, verdict.confidence, verdict.source,
                             (f"abstained:{verdict.reason}@{verdict.confidence:.2f}",) + verdict.explanation)
    return mark_review(verdict, t)


def _is_hard(reason: str, hardness: Callable[[str], bool | None]) -> bool:
    """Whether a verdict of ``reason`` would be hard, as :meth:`Verdict.of` decides it."""
    said = hardness(reason)
    return bool(REASONS[reason].hard) if said is None else bool(said and REASONS[reason].hard is not None)


def _evidence_side(rule: Opinion | None, provider: Opinion | None, t: Thresholds) -> Opinion | None:
    """The rules' and the provider's opinions as one: agreeing, two witnesses (source
    ``combined``); otherwise the precise one, else the more confident."""
    options = [o for o in (rule, provider) if o is not None and o.reason not in UNDECIDED]
    if not options:
        return None
    if len(options) == 2 and rule.reason == provider.reason:
        confidence = min(t.agree_cap, 1 - (1 - rule.confidence) * (1 - provider.confidence))
        return Opinion("combined", rule.reason, confidence, rule.precise or provider.precise,
                       rule.explanation + provider.explanation, rule.hard)
    return max(options, key=lambda o: (o.precise, o.confidence, o.source == "rule"))


def _from_opinion(o: Opinion, confidence: float, hardness, extra: tuple[str, ...] = (),
                  review: str | None = None) -> Verdict:
    return Verdict.of(o.reason, confidence=confidence, source=o.source, explanation=o.explanation + extra,
                      hard=o.hard if o.hard is not None else hardness(o.reason), review=review)
