"""The sender's health: failures caused by the sender, never held against a recipient.

Blocks, authentication failures, throttling, send limits, content refusals and MTA trouble
(``classifier.taxonomy.SENDER_SIDE``) say something about the sending IP, domain, account
or message, so they never suppress the recipient. They are counted here instead, per tenant
and UTC day, by category, fine reason, recipient domain, remote MTA and provider, with a
short list of recent examples, for ``GET /v1/senders/status``.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import redis

from classifier.address import domain_of
from classifier.events import Event
from classifier.verdict import Verdict
from store.keys import Keys
from store.records import iso

RETENTION_DAYS = 40
RECENT_KEPT = 200
MAX_DAYS = 35
_UNSAFE = re.compile(r"[|\s]+")


def _label(text: str) -> str:
    """A value usable inside a counter's field name (``|`` separates the parts)."""
    return _UNSAFE.sub("_", text.strip().lower())[:120] or "-"


def _day(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y%m%d")


class SenderHealth:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def queue(self, pipe, tenant: str, items: list[tuple[Event, Verdict]]) -> None:
        """Queue the counting of ``items`` on ``pipe`` (the caller executes it)."""
        counts: dict[str, Counter] = {}
        samples = []
        for event, verdict in items:
            c = counts.setdefault(_day(event.time), Counter())
            cat = verdict.category
            c[f"c|{cat}"] += 1
            c[f"r|{verdict.reason}"] += 1
            c[f"d|{_label(domain_of(event.recipient))}|{cat}"] += 1
            c[f"p|{_label(event.provider)}|{cat}"] += 1
            if event.remote_mta:
                c[f"m|{_label(event.remote_mta)}|{cat}"] += 1
            sample = {"time": int(event.time.timestamp()), "category": cat, "reason": verdict.reason,
                      "domain": domain_of(event.recipient), "provider": event.provider, "event_id": event.event_id}
            for name in ("remote_mta", "status", "reply_code"):
                if getattr(event, name):
                    sample[name] = getattr(event, name)
            if event.diagnostic:
                sample["diagnostic"] = " ".join(event.diagnostic.split())[:300]
            samples.append(orjson.dumps(sample))
        for day, c in counts.items():
            key = self.keys.sender_day(tenant, day)
            for name, n in c.items():
                pipe.hincrby(key, name, n)
            pipe.expire(key, RETENTION_DAYS * 86400)
        recent = self.keys.sender_recent(tenant)
        pipe.lpush(recent, *samples)
        pipe.ltrim(recent, 0, RECENT_KEPT - 1)

    def status(self, tenant: str, *, days: int = 7, category: str | None = None, domain: str | None = None,
               now: datetime | None = None, top: int = 50, recent: int = 20) -> dict:
        """Counters of the last ``days`` UTC days (today included), newest day first."""
        days = max(1, min(days, MAX_DAYS))
        today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
        dates = [today - timedelta(days=i) for i in range(days)]
        pipe = self.r.pipeline(transaction=False)
        for d in dates:
            pipe.hgetall(self.keys.sender_day(tenant, d.strftime("%Y%m%d")))
        pipe.lrange(self.keys.sender_recent(tenant), 0, RECENT_KEPT - 1)
        *per_day, samples = pipe.execute()

        totals, reasons, by_domain, by_mta, by_provider = Counter(), Counter(), Counter(), Counter(), Counter()
        by_day = []
        for d, fields in zip(dates, per_day):
            day_cats = Counter()
            for raw_name, raw_n in fields.items():
                kind, *parts = raw_name.decode().split("|")
                n = int(raw_n)
                cat = parts[-1]
                if category and kind != "r" and cat != category:
                    continue
                if kind == "c":
                    if domain is None:
                        day_cats[cat] += n
                elif kind == "r":
                    if domain is None and not category:
                        reasons[parts[0]] += n
                elif kind == "d":
                    if domain is None or parts[0] == domain:
                        by_domain[parts[0], cat] += n
                        if domain is not None:
                            day_cats[cat] += n
                elif kind == "m" and domain is None:
                    by_mta[parts[0], cat] += n
                elif kind == "p" and domain is None:
                    by_provider[parts[0], cat] += n
            totals.update(day_cats)
            by_day.append({"date": d.isoformat(), "total": sum(day_cats.values()), "categories": dict(day_cats)})

        def rows(counter: Counter, name: str) -> list[dict]:
            return [{name: k[0], "category": k[1], "count": n} for k, n in counter.most_common(top)]

        examples = []
        for raw in samples:
            s = orjson.loads(raw)
            if (category and s["category"] != category) or (domain and s["domain"] != domain):
                continue
            s["time"] = iso(s["time"])
            examples.append(s)
            if len(examples) >= recent:
                break
        return {
            "from": dates[-1].isoformat(), "to": dates[0].isoformat(), "days": days,
            "total": sum(totals.values()), "categories": dict(totals.most_common()),
            "reasons": dict(reasons.most_common()), "by_day": by_day,
            "by_domain": rows(by_domain, "domain"), "by_mta": rows(by_mta, "remote_mta"),
            "by_provider": rows(by_provider, "provider"), "recent": examples,
        }
