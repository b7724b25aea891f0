"""The policy: data that says how a classified event changes an address's state.

The policy itself is plain data (``policy_defaults.json``, overridden per tenant); this
module validates it and turns one (event, verdict) into a short list of operations that
the atomic apply script (``apply.lua``) carries out. Deciding here and executing there
keeps the rules readable in Python while the read-modify-write stays atomic in Redis.

Operations (all times are epoch seconds of the event, not of its arrival):

- ``count``: add the event to a bounce category's window; at the threshold, suppress
  (and, for temporary suppressions, count towards escalation to a permanent one);
- ``suppress`` / ``lift``: add or remove a suppression (a lift only undoes what started
  before it, except a person's lift, ``any``, which undoes it whenever it started);
- ``reset``: forget counted bounces older than the event (a delivery proves the mailbox works);
- ``msg``: one message sent to the address, counted once per message for the monthly
  frequency cap and the "sends without engagement" streak;
- ``engaged``: an open or click ends the streak.
"""
from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timezone
from importlib import resources
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from classifier.events import STREAMS, Event, Kind
from classifier.taxonomy import CATEGORIES, SENDER_SIDE
from classifier.verdict import Verdict
from store.reasons import SUPPRESSION_REASONS, TENANT_SETTABLE, check_code
from store.subscriptions import SubscriptionError, subscription_name

DAY = 86400
Stream = Literal["marketing", "transactional"]
MessageKind = Literal["send", "delivered"]

#: Categories that are not about a failed recipient at all: they have their own event kinds
#: (complaints, deliveries) or are never counted (auto-replies).
NOT_BOUNCES = frozenset({"complaint", "auto_reply", "delivered"})


#: Bounds of policy values: what a sane policy stays within, so that a typo (days for
#: seconds, an extra zero) is a 400 naming the field instead of a time past the year 9999 or a
#: counter that keeps a million timestamps per address (also in the README).
MAX_DAYS = 3650            # windows and durations: ten years
MAX_SHARING_DAYS = 365
MAX_COUNT = 100            # bounces before suppressing, episodes before escalating
MAX_SENDS = 10_000         # sends without engagement
MAX_PER_MONTH = 100_000    # frequency cap per stream and month
MAX_LIST = 10_000          # entries of the validation lists


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _settable(v: str | None) -> str | None:
    if v is None:
        return v
    check_code(v)
    if v not in TENANT_SETTABLE:
        raise ValueError(f"{v!r} is not stored per address; use one of {', '.join(sorted(TENANT_SETTABLE))}")
    return v


class Escalation(_Strict):
    """A temporary suppression imposed ``after`` times within the window becomes permanent."""

    after: int = Field(3, ge=1, le=MAX_COUNT)
    within_days: float = Field(90, gt=0, le=MAX_DAYS)
    to: str | None = Field(None, description="code of the permanent suppression (default: the same code)")
    for_days: float | None = Field(None, gt=0, le=MAX_DAYS)

    @field_validator("to")
    @classmethod
    def _to(cls, v: str | None) -> str | None:
        return _settable(v)


class BounceRule(_Strict):
    """Suppress with ``suppress`` once a category was seen ``*_after`` times in the window.

    ``suppress: null`` counts the bounces (visible in the address's state and history)
    without ever suppressing.
    """

    suppress: str | None
    hard_after: int = Field(1, ge=1, le=MAX_COUNT)
    soft_after: int = Field(3, ge=1, le=MAX_COUNT)
    within_days: float | None = Field(None, gt=0, le=MAX_DAYS)
    for_days: float | None = Field(None, gt=0, le=MAX_DAYS)   # None: until lifted
    escalate: Escalation | None = None
    recheck_dns_after_days: float | None = Field(
        None, gt=0, le=MAX_DAYS, description="after this long, the suppression holds only while DNS still finds the domain broken")

    @field_validator("suppress")
    @classmethod
    def _suppress(cls, v: str | None) -> str | None:
        return _settable(v)


class ComplaintRule(_Strict):
    suppress: str = "previous_spam"
    for_days: float | None = Field(None, gt=0, le=MAX_DAYS)

    @field_validator("suppress")
    @classmethod
    def _suppress(cls, v: str | None) -> str | None:
        return _settable(v)


class FrequencyCap(_Strict):
    """At most ``per_month[stream]`` messages per recipient and calendar month (UTC)."""

    per_month: dict[Stream, int | None] = Field(default_factory=dict)
    count: list[MessageKind] = ["send", "delivered"]

    @field_validator("per_month")
    @classmethod
    def _positive(cls, v: dict) -> dict:
        for stream, cap in v.items():
            if cap is not None and not 1 <= cap <= MAX_PER_MONTH:
                raise ValueError(f"per_month.{stream} must be at least 1 and at most {MAX_PER_MONTH}, or null for no cap")
        return v


class LowEngagement(_Strict):
    """Suppress (on the streams the policy names) after this many sends without an open or click."""

    after_sends: int | None = Field(None, ge=1, le=MAX_SENDS)


class Sharing(_Strict):
    """Cross-tenant bounce sharing, opt-in on both sides."""

    give: bool = False
    receive: bool = False
    within_days: float = Field(90, gt=0, le=MAX_SHARING_DAYS)


class Validation(_Strict):
    roles_extra: list[str] = Field([], max_length=MAX_LIST)
    roles_exempt: list[str] = Field([], max_length=MAX_LIST)
    disposable_extra: list[str] = Field([], max_length=MAX_LIST)
    disposable_exempt: list[str] = Field([], max_length=MAX_LIST)

    @field_validator("*")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return sorted({x.strip().lower() for x in v if x.strip()})


class Policy(_Strict):
    min_confidence: float = Field(0.5, ge=0, le=1)
    count_deferrals: bool = False
    bounces: dict[str, BounceRule]
    complaint: ComplaintRule
    delivered_lifts: list[str]
    frequency_cap: FrequencyCap = FrequencyCap()
    low_engagement: LowEngagement = LowEngagement()
    unstated_stream: Stream = "marketing"
    sharing: Sharing = Sharing()
    validation: Validation = Validation()
    streams: dict[str, list[Stream]]

    @field_validator("bounces")
    @classmethod
    def _categories(cls, v: dict) -> dict:
        unknown = set(v) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown bounce categories {sorted(unknown)}; valid: {', '.join(CATEGORIES)}")
        sender = sorted(set(v) & (SENDER_SIDE | NOT_BOUNCES))
        if sender:
            raise ValueError(f"{sender}: these categories are about the sender, the message or no failure "
                             "at all, and never suppress a recipient")
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

    @model_validator(mode="after")
    def _escalations_make_sense(self) -> "Policy":
        for cat, rule in self.bounces.items():
            if rule.escalate and (rule.suppress is None or rule.for_days is None):
                raise ValueError(f"bounces.{cat}.escalate needs a temporary suppression (suppress and for_days)")
        return self

    def blocks(self, code: str, stream: str | None) -> bool:
        """Does suppression ``code`` stop a send on ``stream`` (None: any stream)?"""
        streams = self.streams.get(code, STREAMS)
        return bool(streams) if stream is None else stream in streams

    @property
    def message_kinds(self) -> frozenset[Kind]:
        """Event kinds counted as "a message was sent" (none unless a counter needs them)."""
        if not (self.tracks_frequency or self.tracks_engagement):
            return frozenset()
        return frozenset(Kind(k) for k in self.frequency_cap.count)

    @property
    def tracks_frequency(self) -> bool:
        return any(cap for cap in self.frequency_cap.per_month.values())

    @property
    def tracks_engagement(self) -> bool:
        return self.low_engagement.after_sends is not None

    def cap(self, stream: str) -> int | None:
        return self.frequency_cap.per_month.get(stream)


def _load_defaults() -> dict:
    return json.loads(resources.files("store").joinpath("policy_defaults.json").read_text("utf-8"))


DEFAULTS: dict = _load_defaults()
DEFAULT_POLICY = Policy.model_validate(DEFAULTS)


def merge(base: dict, patch: dict, *, null_removes: bool = False) -> dict:
    """The one deep merge of policy documents: objects merge, anything else replaces.

    ``null_removes`` False: tenant overrides onto the defaults (``null`` is a value, e.g.
    ``for_days: null``, never expires). True: an RFC 7396 merge patch onto the overrides
    (``null`` removes the override, restoring the default); used by the policy API's PATCH
    and ``rebound policy set --file``."""
    out = dict(base)
    for k, v in patch.items():
        if v is None and null_removes:
            out.pop(k, None)
        elif isinstance(v, dict) and (null_removes or isinstance(base.get(k), dict)):
            out[k] = merge(base[k] if isinstance(base.get(k), dict) else {}, v, null_removes=null_removes)
        else:
            out[k] = v
    return out


def merge_patch(overrides: dict, patch: dict) -> dict:
    """RFC 7396 merge patch of a tenant's overrides."""
    return merge(overrides, patch, null_removes=True)


def set_path(overrides: dict, path: str, value) -> dict:
    """The overrides with ``a.b.c`` set to ``value`` (``null`` a value here, as in PUT)."""
    parts = path.split(".")
    doc = dict(overrides)
    cur = doc
    for p in parts[:-1]:
        nxt = cur.get(p)
        cur[p] = dict(nxt) if isinstance(nxt, dict) else {}
        cur = cur[p]
    cur[parts[-1]] = value
    return doc


def unset_path(overrides: dict, path: str) -> dict | None:
    """The overrides without ``a.b.c`` (objects it leaves empty dropped); None if not set."""
    parts = path.split(".")
    head, rest = parts[0], ".".join(parts[1:])
    if head not in overrides:
        return None
    doc = dict(overrides)
    if not rest:
        del doc[head]
        return doc
    if not isinstance(doc[head], dict):
        return None
    inner = unset_path(doc[head], rest)
    if inner is None:
        return None
    if inner:
        doc[head] = inner
    else:
        del doc[head]
    return doc


def policy_from_overrides(overrides: dict | None) -> Policy:
    return DEFAULT_POLICY if not overrides else Policy.model_validate(merge(DEFAULTS, overrides))


@functools.lru_cache(maxsize=256)
def policy_from_raw(raw: bytes | None) -> Policy:
    """The policy for stored overrides, parsed once per process per version of them."""
    return policy_from_overrides(orjson.loads(raw) if raw else None)


# -- turning one event into operations ---------------------------------------------------

#: A suppression keeps this much of the diagnostic: enough to say why at a glance. The
#: whole text stays in the address's history (and the raw payload, if any): this copy is
#: stored once per suppressed address, and memory per address is what a store of millions
#: of them is sized by.
DIAGNOSTIC_KEPT = 90


def short_diagnostic(text: str) -> str:
    """The diagnostic with whitespace collapsed, cut at a word boundary with an ellipsis."""
    d = " ".join(text.split())
    if len(d) <= DIAGNOSTIC_KEPT:
        return d
    cut = d[:DIAGNOSTIC_KEPT - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > DIAGNOSTIC_KEPT // 2 else cut) + "\u2026"


def evidence(event: Event, verdict: Verdict | None) -> dict:
    """What a suppression keeps of the event that caused it (short keys: it is stored per address)."""
    e = {"id": event.event_id, "p": event.provider}
    if verdict is not None:
        e["r"] = verdict.reason
    if event.status:
        e["s"] = event.status
    if event.reply_code:
        e["c"] = event.reply_code
    if event.diagnostic:
        e["d"] = short_diagnostic(event.diagnostic)
    return e


def suppression(code: str, t: int, evidence: dict, for_days: float | None = None,
                sub: str | None = None, stream: str | None = None, policy: Policy | None = None) -> dict:
    """One suppression as apply.lua stores it; keyed by code (or code:subscription).

    ``policy`` tells apply.lua which streams the policy blocks for ``code`` (``ps``, not
    stored): when this suppression meets one of the same key limited to another stream, the
    stored one widens to the union of both, never the narrower set."""
    s = {"key": f"{code}:{sub}" if sub else code, "t": t, "e": evidence}
    if policy is not None:
        s["ps"] = policy.streams.get(code, list(STREAMS))
    if for_days is not None:
        s["u"] = t + int(for_days * DAY)
    if sub:
        s["sub"] = sub
    if stream:
        s["st"] = stream
    return s


def month_of(t: float) -> int:
    """Calendar month (UTC) as a running number, so "same month" is one comparison in Lua."""
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.year * 12 + d.month - 1


def month_end(month: int) -> int:
    year, m = divmod(month + 1, 12)
    return int(datetime(year, m + 1, 1, tzinfo=timezone.utc).timestamp())


def message_digest(event: Event) -> str:
    """Ties a send and a delivered event of one message together (or just the event)."""
    key = event.message_id or f"{event.provider}\x00{event.event_id}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=5).hexdigest()


def _bounce_ops(event: Event, verdict: Verdict | None, policy: Policy, t: int) -> list[dict]:
    if verdict is None or (event.kind is Kind.DEFERRAL and not policy.count_deferrals):
        return []
    if verdict.confidence < policy.min_confidence or verdict.category in SENDER_SIDE:
        return []
    rule = policy.bounces.get(verdict.category)
    if rule is None:
        return []
    op = {"op": "count", "k": verdict.category, "t": t,
          "win": int(rule.within_days * DAY) if rule.within_days else 0,
          "n": rule.hard_after if verdict.hard else rule.soft_after,
          # the count needs only as many times as the larger threshold; a count-only rule
          # keeps more, for people reading the address's state
          "keep": max(rule.hard_after, rule.soft_after) if rule.suppress else 32}
    if rule.suppress:
        ev = evidence(event, verdict)
        op["sup"] = suppression(rule.suppress, t, ev, rule.for_days, policy=policy)
        if rule.escalate:
            esc = rule.escalate
            op["esc"] = {"n": esc.after, "win": int(esc.within_days * DAY),
                         "sup": suppression(esc.to or rule.suppress, t, {**ev, "esc": 1}, esc.for_days,
                                            policy=policy)}
    return [op]


def _subscription_or(raw: str | None, bad: str | None) -> str | None:
    try:
        return subscription_name(raw)
    except SubscriptionError:
        return bad


def plan(event: Event, verdict: Verdict | None, policy: Policy) -> list[dict]:
    """The operations that apply ``event`` to its recipient's record, in order."""
    t = int(event.time.timestamp())
    kind = event.kind
    if kind.is_failure:
        return _bounce_ops(event, verdict, policy, t)
    if kind is Kind.COMPLAINT:
        rule = policy.complaint
        return [{"op": "suppress", "sup": suppression(rule.suppress, t, evidence(event, verdict), rule.for_days,
                                                      policy=policy)}]
    if kind is Kind.UNSUBSCRIBE:
        # a name that breaks the rules (an ESP's list name, say) still opts the person out:
        # of everything, the safe side (store/subscriptions.py)
        sub = _subscription_or(event.subscription, None)
        code = "unsubscribed" if sub else "unsubscribed_all"
        return [{"op": "suppress", "sup": suppression(code, t, evidence(event, None), sub=sub, policy=policy)}]
    if kind is Kind.RESUBSCRIBE:
        # ... while such a resubscription lifts nothing: it cannot say what it is about
        sub = _subscription_or(event.subscription, "")
        if sub == "":
            return []
        key = f"unsubscribed:{sub}" if sub else "unsubscribed_all"
        return [{"op": "lift", "keys": [key], "t": t}]
    ops: list[dict] = []
    if kind is Kind.DELIVERED:
        ops += [{"op": "lift", "keys": list(policy.delivered_lifts), "t": t},
                {"op": "reset", "ks": list(policy.bounces), "t": t}]
    if kind in policy.message_kinds:
        stream = event.stream or policy.unstated_stream
        ops.append({"op": "msg", "m": message_digest(event), "t": t, "st": stream, "mon": month_of(t),
                    "f": 1 if policy.tracks_frequency else 0, "cap": policy.cap(stream) or 0,
                    "g": 1 if policy.tracks_engagement else 0, "le": policy.low_engagement.after_sends or 0})
    if kind in (Kind.OPEN, Kind.CLICK) and policy.tracks_engagement:
        ops.append({"op": "engaged", "st": event.stream or "", "t": t})
    return ops

