"""Reading an address's record (the JSON that apply.lua maintains) into Python terms."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

#: Event times are the ESP's or client's clocks: one further ahead of ours than this is taken
#: as this far ahead (the reported time stays in the history; imports' ``since`` likewise), so
#: that clock skew or a malicious time cannot start a suppression that a delivery could not
#: reach, or look newer than everything that really follows it.
MAX_AHEAD_SECONDS = 300

#: A stored suppression's ``st`` when it blocks every stream whatever the policy says: what a
#: suppression limited to one stream widens to when a later one for other streams meets it
#: (apply.lua ``widen``).
ALL_STREAMS = "*"
STREAMS = ("marketing", "transactional")


def stream_limits(code: str, sub: str | None, st: str | None, policy_streams: list[str],
                  default_scope: str) -> tuple[str, list[str]]:
    """(scope, streams blocked) of a stored suppression: its subscription, the one stream it
    is limited to (``st``), every stream (:data:`ALL_STREAMS`), or the policy's streams."""
    if st == ALL_STREAMS:
        streams = list(STREAMS)
    else:
        streams = [st] if st else policy_streams
    scope = (f"subscription:{sub}" if sub else f"stream:{st}" if st and st != ALL_STREAMS else default_scope)
    return scope, streams


@dataclass(frozen=True, slots=True)
class Suppression:
    key: str            # code, or code:subscription
    code: str
    since: int
    until: int | None
    evidence: dict
    subscription: str | None = None
    count: int = 1
    stream: str | None = None     # the one stream it blocks, when restricted; ALL_STREAMS: every one

    def active(self, now: float) -> bool:
        return self.until is None or self.until > now


#: The times Rebound accepts from people and clients (imports, manual suppressions, events):
#: from the epoch to the start of 2100. Anything outside is a mistake (a year 9999, a negative
#: epoch, NaN) and is refused, with the field named, rather than stored.
EARLIEST = 0
LATEST = 4_102_444_800           # 2100-01-01T00:00:00Z
_MIN_STORED = -62_135_596_800    # 0001-01-01T00:00:00Z: what a datetime can show
_MAX_STORED = 253_402_300_799    # 9999-12-31T23:59:59Z


def check_time(ts: float, name: str) -> int:
    """``ts`` as whole epoch seconds, or ValueError naming ``name`` when it is out of range."""
    if not (isinstance(ts, (int, float)) and math.isfinite(ts) and EARLIEST <= ts < LATEST):
        raise ValueError(f"{name}: {ts!r} is out of range (1970-01-01 to 2100-01-01, UTC)")
    return int(ts)


def iso(ts: float | None) -> str | None:
    """A stored time as ISO 8601 (UTC, ``Z``). Total: whatever a record holds (records written
    before the bounds, NaN, infinities, a list where a time belongs), it answers and never
    raises: None for no time or no number, the first or last representable instant for one
    beyond them. Cached by value and type: a bulk check spells thousands of times, mostly
    the same few (imports, bursts of bounces)."""
    try:
        return _iso_cached(ts)
    except TypeError:                   # unhashable: no time
        return None


@functools.lru_cache(maxsize=65536, typed=True)     # typed: True is not the second 1
def _iso_cached(ts) -> str | None:
    if ts is None or isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    if math.isnan(ts):
        return None
    if ts < _MIN_STORED or ts > _MAX_STORED:
        ts = _MIN_STORED if ts < 0 else _MAX_STORED
    return _iso_exact(int(ts) if ts == int(ts) else ts)


def _iso_exact(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str, name: str = "time") -> int:
    """ISO 8601 (``2026-11-26``, ``2026-11-26T10:00:00Z``, with an offset) -> epoch seconds
    (UTC if naive); ValueError naming ``name`` when it is no such time or out of range."""
    try:
        d = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 date or time") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return check_time(d.timestamp(), name)


def suppressions(record: dict) -> list[Suppression]:
    return [
        Suppression(key, s.get("c") or key.split(":", 1)[0], int(s["t"]),
                    int(s["u"]) if s.get("u") is not None else None,
                    s.get("e") or {}, s.get("sub"), int(s.get("n", 1)), s.get("st"))
        for key, s in (record.get("s") or {}).items()
    ]


_EVIDENCE_NAMES = {"id": "event_id", "p": "provider", "r": "reason", "s": "status", "c": "reply_code",
                   "d": "diagnostic", "esc": "escalated"}


#: Evidence keys that :func:`evidence_out` changes; evidence without any is already spelled out.
_RESPELLED = frozenset(_EVIDENCE_NAMES) | {"escalated"}


def evidence_out(e: dict) -> dict:
    """The stored (compact) evidence in the answer's spelling (``e`` itself when it has
    nothing to respell, as imports' and manual suppressions' evidence)."""
    if _RESPELLED.isdisjoint(e):
        return e
    out = {_EVIDENCE_NAMES.get(k, k): v for k, v in e.items()}
    if "escalated" in out:
        out["escalated"] = True
    return out


def state_out(record: dict) -> dict:
    """The counters of a record, for people reading why an address is (not yet) suppressed."""
    out: dict = {}
    if record.get("c"):
        out["bounces"] = {cat: [iso(t) for t in times] for cat, times in record["c"].items()}
    if record.get("x"):
        out["temporary_suppressions"] = {cat: [iso(t) for t in times] for cat, times in record["x"].items()}
    if record.get("f"):
        out["messages_this_month"] = {st: {"month": f"{v[0] // 12:04d}-{v[0] % 12 + 1:02d}", "count": v[1]}
                                      for st, v in record["f"].items()}
    if record.get("g"):
        out["sends_without_engagement"] = {st: {"count": v[0], "since": iso(v[1] or None),
                                                "last_engagement": iso(v[3] or None)}
                                           for st, v in record["g"].items()}
    return out
