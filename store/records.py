"""Reading an address's record (the JSON that apply.lua maintains) into Python terms."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import orjson


@dataclass(frozen=True, slots=True)
class Suppression:
    key: str            # code, or code:subscription
    code: str
    since: int
    until: int | None
    evidence: dict
    subscription: str | None = None
    count: int = 1

    def active(self, now: float) -> bool:
        return self.until is None or self.until > now


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def decode(raw: bytes | str | None) -> dict:
    return orjson.loads(raw) if raw else {}


def suppressions(record: dict) -> list[Suppression]:
    return [
        Suppression(key, s["c"], int(s["t"]), int(s["u"]) if s.get("u") is not None else None,
                    s.get("e") or {}, s.get("sub"), int(s.get("n", 1)))
        for key, s in (record.get("s") or {}).items()
    ]


def evidence_out(e: dict) -> dict:
    """The stored (compact) evidence in the answer's spelling."""
    names = {"id": "event_id", "p": "provider", "r": "reason", "s": "status", "c": "reply_code",
             "d": "diagnostic", "note": "note", "by": "by"}
    return {names.get(k, k): v for k, v in e.items()}
