"""Loading and compiling the phrase rules of ``phrases.toml``.

All patterns are compiled into one alternation with a named group per rule, ordered by
rank (vendor rules first, then by confidence), so one scan of a diagnostic finds every
rule that matches somewhere in it (the alternation sits in a lookahead, so matches may
overlap): the cost does not grow with the number of rules the
way a loop of ``re.search`` calls does. Where two rules match at the same place the higher
ranked one is reported, which is also the one that would win.
"""
from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from classifier.taxonomy import reason as taxonomy_reason

_ALLOWED_KEYS = {"name", "reason", "confidence", "patterns", "phase", "class", "provider", "vendor"}
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
    combined: re.Pattern

    def matches(self, text: str) -> list[tuple[int, PhraseRule]]:
        """(rank, rule) for every rule whose patterns occur in ``text`` (lower-cased by
        the caller); rank is the rule's place in the ranking, lower is stronger."""
        seen: dict[int, PhraseRule] = {}
        for m in self.combined.finditer(text):
            idx = int(m.lastgroup[1:])
            seen.setdefault(idx, self.rules[idx])
        return sorted(seen.items())

    def for_phase(self, phase: str | None) -> list[PhaseRule]:
        return [r for r in self.phase_rules if r.phase == phase] if phase else []


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
            vendor=bool(entry.get("vendor", False)),
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
    # inside a lookahead every match is zero-width, so a long match never hides a shorter
    # one that starts inside it
    alternatives = "|".join(f"(?P<r{i}>{'|'.join(r.patterns)})" for i, r in enumerate(ranked))
    combined = re.compile(f"(?=(?:{alternatives}))")
    return PhraseBook(tuple(ranked), tuple(phase_rules), combined)


@functools.lru_cache(maxsize=1)
def default_book() -> PhraseBook:
    return load(resources.files("classifier.rules").joinpath("phrases.toml").read_text(encoding="utf-8"))
