"""Loading and compiling the phrase rules of ``phrases.toml``.

Python's ``re`` has no multi-pattern matcher: one big alternation is tried at every
position of the text, and a loop of searches costs one scan per rule. So every pattern is
reduced, at load time, to the literal words one of which any match must contain (its
*anchors*, read from the parsed pattern); anchors are indexed by their first three
characters, so a diagnostic is checked only for the anchors whose first three characters
occur in it, with plain substring tests (C speed), and only the few rules whose anchors
occur run their regular expressions. Rules are ranked vendor first, then by confidence, then file order.
"""
from __future__ import annotations

import functools
import re
import tomllib

try:                                  # Python >= 3.11 keeps the parser here
    from re import _constants as _c
    from re import _parser as _sre
except ImportError:                   # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]
from dataclasses import dataclass
from importlib import resources

from classifier.taxonomy import reason as taxonomy_reason

_ALLOWED_KEYS = {"name", "reason", "confidence", "patterns", "phase", "class", "provider", "vendor", "local",
                 "settled", "sender"}
_PHASE_KEYS = {"name", "phase", "reason", "confidence", "class"}


class RuleFileError(ValueError):
    """The rule file is malformed; the message names the rule."""


@dataclass(frozen=True, slots=True)
class PhraseRule:
    name: str
    reason: str
    confidence: float
    patterns: tuple[str, ...]
    phases: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    vendor: bool = False
    #: The text is a local delivery agent's (mail.local, procmail, x-unix), not a remote
    #: SMTP reply: there was no SMTP phase to refine a verdict by.
    local: bool = False
    #: The text names the refused mailbox itself ("<a@b>: User unknown"): the SMTP phase
    #: does not turn the reading into a filter.
    settled: bool = False
    #: The text states that the envelope sender was refused ("sender verify failed"): a
    #: recipient-level reading of the same reply is about the sender's address.
    sender: bool = False

    def applies(self, phase: str | None, cls: str | None, provider: str | None) -> bool:
        if self.phases and phase and phase not in self.phases:
            return False
        if self.classes and cls and cls not in self.classes:
            return False
        if self.providers and provider not in self.providers:
            return False
        return True


@dataclass(frozen=True, slots=True)
class PhaseRule:
    name: str
    phase: str
    reason: str
    confidence: float
    classes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PhraseBook:
    rules: tuple[PhraseRule, ...]
    phase_rules: tuple[PhaseRule, ...]
    #: every pattern compiled, with the index of its rule
    patterns: tuple[tuple[int, re.Pattern], ...]
    #: first three characters of an anchor -> [(anchor, pattern indexes)]
    anchors: dict[str, tuple[tuple[str, tuple[int, ...]], ...]]
    #: patterns without a usable anchor: always tried
    unanchored: tuple[int, ...]
    #: reporting modules (classifier/parse/mta) that are filter gateways answering "user
    #: unknown" for what their filter refused (see classifier/rules/engine.py, GATEWAY_REFINE)
    filter_gateways: frozenset[str] = frozenset()

    def matches(self, text: str) -> list[tuple[int, PhraseRule]]:
        """(rank, rule) for every rule whose patterns occur in ``text`` (lower-cased by
        the caller); rank is the rule's place in the ranking, lower is stronger."""
        todo = set(self.unanchored)
        grams = {text[i:i + 3] for i in range(len(text) - 2)}
        for gram in grams.intersection(self.anchors):
            for word, idxs in self.anchors[gram]:
                if word in text:
                    todo.update(idxs)
        found: set[int] = set()
        for p in todo:
            rule_index, pattern = self.patterns[p]
            if rule_index not in found and pattern.search(text):
                found.add(rule_index)
        return [(i, self.rules[i]) for i in sorted(found)]

    def for_phase(self, phase: str | None) -> list[PhaseRule]:
        return [r for r in self.phase_rules if r.phase == phase] if phase else []


_MIN_ANCHOR = 3

#: The local part of an address in (lower-cased) text: kept to one letter before phrase
#: matching. Words inside an address are nobody's statement: "spam-reports@", "mailbox.full@",
#: "unknown.user@" must not read as a spam refusal, a full mailbox or a missing one. The
#: domain stays: vendor and domain rules read it.
_LOCAL_PART = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w!#$%&'*+/=?^`{|}~-][\w.!#$%&'*+/=?^`{|}~-]{0,127}@(?=[\w-]+\.)")


def mask_local_parts(text: str) -> str:
    """``text`` with the local part of every address replaced by ``x``."""
    return _LOCAL_PART.sub("x@", text) if "@" in text else text


def _anchors(items) -> list[str] | None:
    """Literals one of which every match of the parsed sequence contains, or None."""
    options: list[list[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            options.append(["".join(run)])
            run = []
        if op is _c.SUBPATTERN:
            inner = _anchors(av[-1])
            if inner:
                options.append(inner)
        elif op is _c.BRANCH:
            alts = [_anchors(branch) for branch in av[1]]
            if all(alts):
                options.append([w for alt in alts for w in alt])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            inner = _anchors(av[2])
            if inner:
                options.append(inner)
    if run:
        options.append(["".join(run)])
    usable = [o for o in options if min(len(w.strip()) for w in o) >= _MIN_ANCHOR]
    if not usable:
        return None
    return max(usable, key=lambda o: min(len(w) for w in o))


def pattern_anchors(pattern: str) -> list[str] | None:
    """Literals one of which every match of ``pattern`` contains, or None."""
    return _anchors(_sre.parse(pattern))


def _check(entry: dict, keys: set[str], where: str) -> None:
    unknown = set(entry) - keys
    if unknown:
        raise RuleFileError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        taxonomy_reason(entry["reason"])
    except (KeyError, ValueError) as exc:
        raise RuleFileError(f"{where}: {exc}") from None
    if not 0.0 < float(entry.get("confidence", 0)) <= 1.0:
        raise RuleFileError(f"{where}: confidence must be in (0, 1]")


def load(text: str) -> PhraseBook:
    data = tomllib.loads(text)
    rules = []
    for i, entry in enumerate(data.get("rule", [])):
        where = f"rule #{i + 1} ({entry.get('name', '?')})"
        _check(entry, _ALLOWED_KEYS, where)
        patterns = tuple(entry.get("patterns") or ())
        if not patterns:
            raise RuleFileError(f"{where}: no patterns")
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise RuleFileError(f"{where}: bad pattern {p!r}: {exc}") from None
        rules.append(PhraseRule(
            name=entry["name"], reason=entry["reason"], confidence=float(entry["confidence"]),
            patterns=patterns, phases=frozenset(entry.get("phase", ())),
            classes=frozenset(entry.get("class", ())), providers=frozenset(entry.get("provider", ())),
            vendor=bool(entry.get("vendor", False)), local=bool(entry.get("local", False)),
            settled=bool(entry.get("settled", False)), sender=bool(entry.get("sender", False)),
        ))
    names = [r.name for r in rules]
    if len(names) != len(set(names)):
        raise RuleFileError("duplicate rule names: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    phase_rules = []
    for i, entry in enumerate(data.get("phase", [])):
        _check(entry, _PHASE_KEYS, f"phase rule #{i + 1}")
        phase_rules.append(PhaseRule(entry["name"], entry["phase"], entry["reason"], float(entry["confidence"]),
                                     frozenset(entry.get("class", ()))))
    # rank: vendor rules first, then the most confident; file order breaks ties
    ranked = sorted(rules, key=lambda r: (not r.vendor, -r.confidence))
    patterns: list[tuple[int, re.Pattern]] = []
    anchors: dict[str, set[int]] = {}
    unanchored: list[int] = []
    for i, rule in enumerate(ranked):
        for p in rule.patterns:
            index = len(patterns)
            patterns.append((i, re.compile(p)))
            words = pattern_anchors(p)
            if words is None:
                unanchored.append(index)
                continue
            for w in words:
                anchors.setdefault(w, set()).add(index)
    by_gram: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for word, idxs in anchors.items():
        by_gram.setdefault(word[:3], []).append((word, tuple(sorted(idxs))))
    gateways = data.get("filter_gateways", [])
    if not isinstance(gateways, list) or not all(isinstance(g, str) for g in gateways):
        raise RuleFileError("filter_gateways: a list of reporting module names expected")
    return PhraseBook(tuple(ranked), tuple(phase_rules), tuple(patterns),
                      {g: tuple(v) for g, v in by_gram.items()}, tuple(unanchored), frozenset(gateways))


@functools.lru_cache(maxsize=1)
def default_book() -> PhraseBook:
    return load(resources.files("classifier.rules").joinpath("phrases.toml").read_text(encoding="utf-8"))
