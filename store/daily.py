"""Per-day counters of a tenant's traffic, for the analysts' console overview.

The history of each address says what happened to it, but "how many hard bounces did we
get each day this month?" would need every history read. So each newly stored event is
also counted on a hash per tenant and UTC day (kept :data:`RETENTION_DAYS`): events by
kind, failures by category, bounces hard or soft, and the suppressions the store added or
lifted, by code (whether an event, a person or an import caused them). Duplicates are never
counted: the counting follows the apply replies that say which events were new
(store/ingest.py ``after_apply``), in the round trip that follows a batch.

Fields: ``k|<kind>``, ``c|<category>`` (bounces, deferrals and drops with a verdict),
``h|hard`` / ``h|soft`` (bounces), ``+|<code>`` / ``-|<code>`` (suppressions added, lifted).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

import redis

from classifier.events import Event, Kind
from classifier.verdict import Verdict
from store.keys import Keys

RETENTION_DAYS = 40
MAX_DAYS = 35
FAILURES = frozenset({Kind.BOUNCE, Kind.DEFERRAL, Kind.DROP})


def _day(t: datetime | float) -> str:
    if not isinstance(t, datetime):
        t = datetime.fromtimestamp(t, timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y%m%d")


def effect_counts(effects: Iterable[str]) -> Counter:
    """``+code`` / ``-code`` fields of a list of apply effects (``"+unsubscribed:news"`` is
    an ``unsubscribed``)."""
    c: Counter = Counter()
    for fx in effects:
        if fx[:1] in "+-" and len(fx) > 1:
            c[f"{fx[0]}|{fx[1:].split(':', 1)[0]}"] += 1
    return c


class Daily:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def queue(self, pipe, tenant: str, items: list[tuple[Event, Verdict | None]], effects: list[list[str]],
              now: float) -> None:
        """Queue the counting of newly stored ``items`` (with their apply ``effects``) on
        ``pipe``; the caller executes it."""
        per_day: dict[str, Counter] = {}
        today = _day(now)
        for (event, verdict), fx in zip(items, effects):
            c = per_day.setdefault(_day(event.time), Counter())
            c[f"k|{event.kind.value}"] += 1
            if verdict is not None and event.kind in FAILURES:
                c[f"c|{verdict.category}"] += 1
                if event.kind is Kind.BOUNCE:
                    c["h|hard" if verdict.hard else "h|soft"] += 1
            if fx:
                per_day.setdefault(today, Counter()).update(effect_counts(fx))
        self._queue_counts(pipe, tenant, per_day)

    def queue_effects(self, pipe, tenant: str, effects: Iterable[str], now: float) -> None:
        """Count suppressions a person or an import added or lifted (no event)."""
        counts = effect_counts(effects)
        if counts:
            self._queue_counts(pipe, tenant, {_day(now): counts})

    def count_effects(self, tenant: str, effects: Iterable[str], now: float) -> None:
        effects = list(effects)
        if not effect_counts(effects):
            return
        pipe = self.r.pipeline(transaction=False)
        self.queue_effects(pipe, tenant, effects, now)
        pipe.execute()

    def _queue_counts(self, pipe, tenant: str, per_day: dict[str, Counter]) -> None:
        for day, c in per_day.items():
            if not c:
                continue
            key = self.keys.daily(tenant, day)
            for name, n in c.items():
                pipe.hincrby(key, name, n)
            pipe.expire(key, RETENTION_DAYS * 86400)

    def series(self, tenant: str, days: int = 30, now: datetime | None = None) -> list[dict]:
        """The last ``days`` UTC days, oldest first: ``{"date", "kinds", "categories",
        "hard", "soft", "added", "lifted"}`` (dicts of counts), in one round trip."""
        days = max(1, min(days, MAX_DAYS))
        today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
        dates: list[date] = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
        pipe = self.r.pipeline(transaction=False)
        for d in dates:
            pipe.hgetall(self.keys.daily(tenant, d.strftime("%Y%m%d")))
        out = []
        for d, fields in zip(dates, pipe.execute()):
            row = {"date": d.isoformat(), "kinds": {}, "categories": {}, "hard": 0, "soft": 0, "added": {},
                   "lifted": {}}
            for raw_name, raw_n in fields.items():
                kind, _, name = raw_name.decode().partition("|")
                n = int(raw_n)
                if kind == "k":
                    row["kinds"][name] = n
                elif kind == "c":
                    row["categories"][name] = n
                elif kind == "h":
                    row[name] = n
                elif kind == "+":
                    row["added"][name] = n
                elif kind == "-":
                    row["lifted"][name] = n
            out.append(row)
        return out
