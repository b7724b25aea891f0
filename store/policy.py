"""The policy: data that says how a classified event changes an address's state.

The policy itself is plain data (``policy_defaults.json``, overridden per tenant); this
module validates it and turns one (event, verdict) into a short list of operations that
the atomic apply script (``apply.lua``) carries out. Deciding here and executing there
keeps the rules readable in Python while the read-modify-write stays atomic in Redis.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifier.events import STREAMS, Event, Kind
from classifier.taxonomy import CATEGORIES
from classifier.verdict import Verdict
from store.reasons import SUPPRESSION_REASONS, check_code

DAY = 86400
Stream = Literal["marketing", "transactional"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BounceRule(_Strict):
    """Suppress with ``suppress`` once a category was seen ``*_after`` times in the window."""

    suppress: str
    hard_after: int = Field(1, ge=1)
    soft_after: int = Field(3, ge=1)
    within_days: float | None = Field(None, gt=0)
    for_days: float | None = Field(None, gt=0)   # None: until lifted

    @field_validator("suppress")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_code(v)


class ComplaintRule(_Strict):
    suppress: str = "previous_spam"
    for_days: float | None = Field(None, gt=0)

    @field_validator("suppress")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_code(v)


class Policy(_Strict):
    min_confidence: float = Field(0.5, ge=0, le=1)
    count_deferrals: bool = False
    bounces: dict[str, BounceRule]
    complaint: ComplaintRule
    delivered_lifts: list[str]
    streams: dict[str, list[Stream]]
    share_bounces: bool = False

    @field_validator("bounces")
    @classmethod
    def _categories(cls, v: dict) -> dict:
        unknown = set(v) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown bounce categories {sorted(unknown)}; valid: {', '.join(CATEGORIES)}")
        return v

    @field_validator("delivered_lifts")
    @classmethod
    def _lifts(cls, v: list) -> list:
        return [check_code(c) for c in v]

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: dict) -> dict:
        for code in v:
            check_code(code)
        missing = set(SUPPRESSION_REASONS) - set(v)
        if missing:
            raise ValueError(f"streams: no entry for {sorted(missing)}")
        return v

    def blocks(self, code: str, stream: str | None) -> bool:
        """Does suppression ``code`` stop a send on ``stream`` (None: any stream)?"""
        streams = self.streams.get(code, STREAMS)
        return bool(streams) if stream is None else stream in streams


def _load_defaults() -> dict:
    return json.loads(resources.files("store").joinpath("policy_defaults.json").read_text("utf-8"))


DEFAULTS: dict = _load_defaults()
DEFAULT_POLICY = Policy.model_validate(DEFAULTS)


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge tenant overrides onto the defaults (dicts merge, everything else replaces)."""
    out = dict(base)
    for k, v in overrides.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def policy_from_overrides(overrides: dict | None) -> Policy:
    return DEFAULT_POLICY if not overrides else Policy.model_validate(merge(DEFAULTS, overrides))


# -- turning one event into operations ---------------------------------------------------

def _evidence(event: Event, verdict: Verdict | None) -> dict:
    e = {"id": event.event_id, "p": event.provider}
    if verdict is not None:
        e["r"] = verdict.reason
    if event.status:
        e["s"] = event.status
    if event.reply_code:
        e["c"] = event.reply_code
    if event.diagnostic:
        e["d"] = event.diagnostic[:200]
    return e


def _suppression(code: str, t: int, evidence: dict, for_days: float | None = None,
                 sub: str | None = None) -> dict:
    s = {"key": f"{code}:{sub}" if sub else code, "code": code, "t": t, "e": evidence}
    if for_days is not None:
        s["u"] = t + int(for_days * DAY)
    if sub:
        s["sub"] = sub
    return s


def plan(event: Event, verdict: Verdict | None, policy: Policy) -> list[dict]:
    """The operations that apply ``event`` to its recipient's record, in order."""
    t = int(event.time.timestamp())
    kind = event.kind
    if kind.is_failure:
        if verdict is None or (kind is Kind.DEFERRAL and not policy.count_deferrals):
            return []
        if verdict.confidence < policy.min_confidence:
            return []
        rule = policy.bounces.get(verdict.category)
        if rule is None:
            return []
        window = int(rule.within_days * DAY) if rule.within_days else 0
        return [{
            "op": "count", "k": verdict.category, "t": t, "win": window,
            "n": rule.hard_after if verdict.hard else rule.soft_after,
            "sup": _suppression(rule.suppress, t, _evidence(event, verdict), rule.for_days),
        }]
    if kind is Kind.COMPLAINT:
        rule = policy.complaint
        return [{"op": "suppress", "sup": _suppression(rule.suppress, t, _evidence(event, verdict), rule.for_days)}]
    if kind is Kind.UNSUBSCRIBE:
        code = "unsubscribed" if event.subscription else "unsubscribed_all"
        return [{"op": "suppress", "sup": _suppression(code, t, _evidence(event, None), sub=event.subscription)}]
    if kind is Kind.RESUBSCRIBE:
        key = f"unsubscribed:{event.subscription}" if event.subscription else "unsubscribed_all"
        return [{"op": "lift", "keys": [key], "t": t}]
    if kind is Kind.DELIVERED:
        return [{"op": "lift", "keys": list(policy.delivered_lifts), "t": t},
                {"op": "reset", "ks": list(policy.bounces), "t": t}]
    return []
