"""The rule engine: status-code tables, phrase rules and SMTP-phase defaults, combined.

Precedence, in one place:

1. The kind of report settles some verdicts outright: a complaint is ``feedback``, a
   delivery ``delivered``, an RFC 3834 auto-reply ``vacation``.
2. Every other source proposes a candidate with a confidence: phrase rules (vendor rules
   marked as such; they read the diagnostic with the local part of every address masked,
   so that "spam-desk@" or "mailbox.full@" states nothing), the enhanced status code, the
   basic reply code, the SMTP phase, and for deferrals (and final failures with only a 4xx
   code) the fact that delivery did not complete in time, ``expired``. The most confident candidate wins;
   on equal confidence vendor > phrase > status > reply > phase > deferral.
3. The confidences are written so that a *specific* phrase beats a *generic* code
   (``5.1.1`` + "too many recipients" is ``speeding``; Microsoft's ``5.7.1 ... S3150`` is
   ``blocked``), while a vague word ("mailbox unavailable", "blocked") loses to a specific
   code. Candidates that agree with the winner raise its confidence a little.
4. Where the conversation failed refines a recipient-level reading (see :data:`PHASE_REFINE`):
   a "user unknown" *text* (not a ``X.1.x`` code, not a vendor rule) given after the
   envelope was accepted (DATA) is ``filtered``: the server took the recipient at RCPT and
   refused the message later, the classic filter that answers "user unknown" (unless a
   local delivery agent wrote it: no SMTP conversation, no filter). Only a *stated* phase
   does this (a transcript's "after end of data", a report field naming the command): with
   no phase stated, "user unknown" means what it says, a missing mailbox, except when the
   report comes from a documented filter gateway (the phrase book's ``filter_gateways``,
   products that answer "user unknown" for what their filter refused; Sisimai reads those
   vendors the same way). Reading every unstated phase as a filter was one parser's
   convention for a few vendors; on everybody's mail it left dead addresses sendable.
   A recipient-level reason given at MAIL FROM is about the envelope sender (``rejected``),
   and one given at connection/HELO is about the sending host (``blocked``).
   The same holds whatever the phase when the evidence itself says the *sender* was
   refused (:func:`refused_party`): an ``X.1.7``/``X.1.8`` status (bad sender mailbox, bad
   sender's system address) or a sender-refusal rule ("sender verify failed", "callout
   verification failure", "sender address rejected"): "user unknown" or "domain not found"
   there is about the sender's own address, which must never suppress a recipient.
5. Nothing proposes anything: ``undefined`` with low confidence when there is nothing to
   read, ``onhold`` (failure known, cause undecided) when there is a diagnostic or a code.

Hardness: ``userunknown``/``hasmoved``/``hostunknown``/``notaccept``/``norelaying`` are
hard with a 5xx (or a permanent failure without codes), soft with a 4xx; deferrals are
never hard; everything else follows the taxonomy.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from classifier.events import Evidence, Kind
from classifier.rules.phrases import PhraseBook, default_book, mask_local_parts
from classifier.rules.status_codes import (
    CLASS_DEPENDENT_HARDNESS,
    lookup_reply,
    lookup_status,
    parse_status,
)
from classifier.verdict import Verdict

_TIER = {"vendor": 5, "phrase": 4, "status": 3, "reply": 2, "phase": 1, "pending": 0}
KIND_REASONS: dict[Kind, str] = {Kind.COMPLAINT: "feedback", Kind.DELIVERED: "delivered"}
AUTO_REPLY_CLASSES = frozenset({"auto-reply", "autoreply", "auto_reply", "vacation"})
#: A deferral with nothing more specific: the message is still waiting, i.e. delivery did not
#: complete in time. (Established parsers report such notices as ``expired``.) Weak words
#: and status codes lose to it; a stated cause (a network, recipient or sender phrase) wins.
PENDING = ("expired", 0.89, "deferral:pending")
#: A final failure that carries only a transient (4xx) code: the sender gave up retrying.
GAVE_UP = ("expired", 0.89, "failed-with-4xx:gave-up")
#: Recipient-level reasons, which the SMTP phase or the party refused may turn into
#: sender-side ones. (``norelaying`` is not among them: a relay refusal is about the route
#: to the recipient's domain, whichever command it answered.)
_RECIPIENT_LEVEL = ("userunknown", "hostunknown", "hasmoved", "suspend", "notaccept", "mailboxfull", "filtered")
#: Who the evidence says was refused, when it is not the recipient: the envelope sender
#: (MAIL FROM, or a status/rule that names the sender) or the sending host (connection, HELO).
SENDER, HOST = "sender", "host"
#: (recipient-level reason, party refused) -> the sender-side reason it becomes.
REFINE_PARTY: dict[tuple[str, str], str] = {
    **{(r, SENDER): "rejected" for r in _RECIPIENT_LEVEL},
    **{(r, HOST): "blocked" for r in _RECIPIENT_LEVEL},
}
_PHASE_PARTY = {"MAIL": SENDER, "CONN": HOST, "HELO": HOST}
#: (reason, SMTP phase) -> reason, as the engine refines a reading by the *stated* phase.
#: With no phase stated nothing is refined (see :data:`GATEWAY_REFINE` for the exception).
PHASE_REFINE: dict[tuple[str, str | None], str] = {
    ("userunknown", "DATA"): "filtered",
    **{(r, phase): REFINE_PARTY[(r, party)] for r in _RECIPIENT_LEVEL for phase, party in _PHASE_PARTY.items()},
}
#: RFC 3463 X.1.7 (bad sender's mailbox address syntax / sender refused) and X.1.8 (bad
#: sender's system address): the status itself says the envelope sender was refused.
_SENDER_STATUS = frozenset({("1", "7"), ("1", "8")})
#: With no stated phase, from a documented filter gateway (``PhraseBook.filter_gateways``):
#: its "user unknown" is what its filter answers.
GATEWAY_REFINE: dict[str, str] = {"userunknown": "filtered"}
#: Refinements that only apply to generic phrases (a vendor rule or an X.1.x code knows).
_PHRASE_ONLY = frozenset({("userunknown", "DATA"), ("userunknown", None)})


@dataclass(frozen=True, slots=True)
class Candidate:
    reason: str
    confidence: float
    rule: str
    tier: int
    rank: int = 0          # a phrase rule's place in the book: breaks ties
    local: bool = False    # a local delivery agent's words (see PhraseRule.local)
    settled: bool = False  # the text names the refused mailbox (see PhraseRule.settled)
    sender: bool = False   # the text says the envelope sender was refused (PhraseRule.sender)


@dataclass(frozen=True, slots=True)
class RuleResult:
    verdict: Verdict
    #: Every rule that proposed something, strongest first.
    matched: tuple[str, ...]
    #: True when a phrase rule or a specific code decided (not a weak default).
    precise: bool
    #: The reason before a refinement made only because the SMTP phase was not stated
    #: ("user unknown" with no phase may be a filter after DATA): other evidence, such as
    #: an ESP filing the failure as an invalid address, may settle that doubt.
    unrefined: str | None = None


def report_reason(evidence: Evidence) -> str | None:
    """The reason the kind of report settles (a complaint, a delivery, an RFC 3834
    auto-reply), or None for a failure: the parser recognised the report, no text decides."""
    reason = KIND_REASONS.get(evidence.kind)
    if reason is not None:
        return reason
    if (evidence.provider_class or "").lower() in AUTO_REPLY_CLASSES:
        return "vacation"
    return None


def report_verdict(evidence: Evidence) -> Verdict | None:
    """The verdict of a report that settles itself (see :func:`report_reason`), or None."""
    reason = report_reason(evidence)
    if reason is None:
        return None
    rule = f"kind:{evidence.kind.value}" if evidence.kind in KIND_REASONS else "report:auto-reply"
    return Verdict.of(reason, confidence=1.0 if reason != "vacation" else 0.97, source="rule",
                      explanation=(rule,))


def status_class(evidence: Evidence) -> str | None:
    """The class digit ("2", "4", "5") of the evidence's status code, else of its reply code."""
    status = parse_status(evidence.status)
    cls = status[0] if status else ((evidence.reply_code or "")[:1] or None)
    return cls if cls in ("2", "4", "5") else None


def refused_party(evidence: Evidence, candidates=()) -> str | None:
    """``SENDER`` or ``HOST`` when the evidence says the refusal was about the sending side
    (the SMTP phase it answered, an ``X.1.7``/``X.1.8`` status, a sender-refusal rule among
    ``candidates``), else None: then a recipient-level reading stands."""
    party = _PHASE_PARTY.get(evidence.smtp_phase or "")
    if party is not None:
        return party
    status = parse_status(evidence.status)
    if status is not None and status[1:] in _SENDER_STATUS:
        return SENDER
    if any(c.sender for c in candidates):
        return SENDER
    return None


def constrain_party(evidence: Evidence, verdict: Verdict) -> Verdict:
    """A recipient-level verdict, whoever gave it (the model included), becomes the
    sender-side reason when the evidence says the sending side was refused (see
    :func:`refused_party`): the phase and the status are facts of the conversation that
    no reading of the text overrides."""
    party = refused_party(evidence)
    refined = REFINE_PARTY.get((verdict.reason, party)) if party else None
    if refined is None:
        return verdict
    return Verdict.of(refined, confidence=verdict.confidence, source=verdict.source,
                      explanation=verdict.explanation + (f"refused:{party}->{refined}",),
                      hard=RuleEngine._hard(refined, status_class(evidence), evidence.kind), review=verdict.review)


def hardness(reason: str, evidence: Evidence) -> bool | None:
    """Whether ``reason`` is hard *for this evidence* (None: the taxonomy's default). Shared
    with the model's verdicts so that a reason is exactly as hard whoever decided it."""
    return RuleEngine._hard(reason, status_class(evidence), evidence.kind)


class RuleEngine:
    """Evaluate evidence against the rule tables; stateless and cached per evidence."""

    def __init__(self, book: PhraseBook | None = None):
        self.book = book or default_book()
        self._cached = functools.lru_cache(maxsize=32768)(self._evaluate)

    def evaluate(self, evidence: Evidence) -> RuleResult:
        return self._cached(evidence) if evidence.cacheable else self._evaluate(evidence)

    def _evaluate(self, evidence: Evidence) -> RuleResult:
        report = report_verdict(evidence)
        if report is not None:
            return RuleResult(report, report.explanation, True)

        status = parse_status(evidence.status)
        cls = status_class(evidence)
        candidates = self._candidates(evidence, cls)
        if not candidates:
            if evidence.diagnostic.strip() or evidence.status or evidence.reply_code:
                verdict = Verdict.of("onhold", confidence=0.15, source="rule", explanation=("no-rule-matched",))
            else:
                verdict = Verdict.of("undefined", confidence=0.1, source="rule", explanation=("no-evidence",))
            return RuleResult(verdict, (), False)
        candidates.sort(key=lambda c: (-c.confidence, -c.tier, c.rank))
        best = candidates[0]
        agree = [c for c in candidates[1:] if c.reason == best.reason]
        other = next((c for c in candidates if c.reason != best.reason), None)
        confidence = min(0.99, best.confidence + 0.03 * len(agree[:2]))
        explanation = [best.rule] + [f"+{c.rule}" for c in agree[:3]]
        reason = best.reason
        key = (reason, evidence.smtp_phase)
        refined = PHASE_REFINE.get(key)
        if refined is None and evidence.smtp_phase is None and evidence.provider in self.book.filter_gateways:
            refined = GATEWAY_REFINE.get(reason)
        if refined is not None and key in _PHRASE_ONLY:
            vendor_agrees = any(c.tier == _TIER["vendor"] for c in agree)
            local = any(c.local for c in candidates)
            if best.tier != _TIER["phrase"] or best.settled or vendor_agrees or local or (status and status[1] == "1"):
                refined = None
        unrefined = None
        party = refused_party(evidence, candidates)
        if party is not None and (reason, party) in REFINE_PARTY:
            reason = REFINE_PARTY[(reason, party)]
            explanation.append(f"refused:{party}->{reason}")
        elif refined is not None:
            unrefined = reason if evidence.smtp_phase is None else None
            reason = refined
            explanation.append(f"phase:{evidence.smtp_phase or 'unstated'}->{refined}")
        if other is not None:
            explanation.append(f"over:{other.rule}")
        verdict = Verdict.of(reason, confidence=confidence, source="rule", explanation=tuple(explanation),
                             hard=self._hard(reason, cls, evidence.kind))
        precise = best.tier >= _TIER["phrase"] or (best.tier == _TIER["status"] and best.confidence >= 0.8)
        return RuleResult(verdict, tuple(c.rule for c in candidates), precise, unrefined)

    def _candidates(self, evidence: Evidence, cls: str | None) -> list[Candidate]:
        out: list[Candidate] = []
        text = mask_local_parts(evidence.diagnostic.lower()) if evidence.diagnostic else ""
        if text:
            for rank, rule in self.book.matches(text):
                if rule.applies(evidence.smtp_phase, cls, evidence.provider):
                    tier = _TIER["vendor"] if rule.vendor else _TIER["phrase"]
                    out.append(Candidate(rule.reason, rule.confidence, f"phrase:{rule.name}", tier, rank,
                                         rule.local, rule.settled, rule.sender))
        found = lookup_status(evidence.status)
        if found is not None:
            reason, confidence, name = found
            out.append(Candidate(reason, confidence, name, _TIER["status"]))
        elif evidence.reply_code:
            found = lookup_reply(evidence.reply_code)
            if found is not None:
                reason, confidence, name = found
                out.append(Candidate(reason, confidence, name, _TIER["reply"]))
        for rule in self.book.for_phase(evidence.smtp_phase):
            if not rule.classes or cls is None or cls in rule.classes:
                out.append(Candidate(rule.reason, rule.confidence, rule.name, _TIER["phase"]))
        if evidence.kind is Kind.DEFERRAL:
            out.append(Candidate(PENDING[0], PENDING[1], PENDING[2], _TIER["pending"]))
        elif evidence.kind is Kind.BOUNCE and cls == "4":
            out.append(Candidate(GAVE_UP[0], GAVE_UP[1], GAVE_UP[2], _TIER["pending"]))
        return out

    @staticmethod
    def _hard(reason: str, cls: str | None, kind: Kind) -> bool | None:
        if kind is Kind.DEFERRAL:
            return False
        if reason in CLASS_DEPENDENT_HARDNESS:
            if cls is None:      # no code: a final failure (bounce, or a provider's drop) is hard
                return kind in (Kind.BOUNCE, Kind.DROP)
            return cls == "5"
        return None
