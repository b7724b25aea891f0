"""The one path every ingest route takes: canonical events -> verdicts -> store.

Routes differ only in how they authenticate and parse; from here on an SES bounce, a raw
DSN and a JSON event are the same thing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from classifier.events import Event
from classifier.parse.budget import Budget
from store import ApplyResult
from webhook import metrics
from webhook.services import services


@dataclass
class Ingested:
    accepted: int
    duplicates: int
    #: per input event, in order: what the classifier said and what changed in the store
    verdicts: list[dict]


def ingest(tenant: str, events: list[Event], raw: bytes | None = None, budget: Budget | None = None) -> Ingested:
    """Classify and store ``events``; returns only once Redis has accepted every write.
    ``budget``: the time left to the message the events come from (nothing is stored when
    classification finds it spent: OverBudget)."""
    stream = IngestStream(tenant, raw, budget)
    try:
        stream.add(events)
        return stream.finish()
    except BaseException:
        stream.abort()
        raise


class IngestStream:
    """The same, for events that arrive while a request is still being parsed: each
    ``add`` is classified and sent at once, so Redis applies the first events of a large
    batch while the rest is parsed; ``finish`` waits for every write (one round trip in
    all). Nothing is acknowledged before ``finish`` returns."""

    def __init__(self, tenant: str, raw: bytes | None = None, budget: Budget | None = None):
        svc = services()
        self.budget = budget
        self.classifier = svc.classifier
        self.store = svc.store
        self.stream = svc.store.stream(tenant, raw=raw)
        self.items: list[tuple] = []
        # one classification per distinct evidence in the batch: ESP batches repeat the same
        # diagnostic (and opens/clicks carry none), and building Evidence costs more than a lookup
        self.verdicts: dict[tuple, object] = {}

    def add(self, events: list[Event]) -> None:
        """Classify ``events`` (the evidence not seen before in this request, in one
        ``classify_many`` call: the model runs once per chunk) and send them on."""
        verdicts = self.verdicts
        keys, new = [], {}
        for event in events:
            key = evidence_key(event)
            keys.append(key)
            if key not in verdicts and key not in new:
                new[key] = event.evidence()
        if new:
            verdicts.update(zip(new, self.classifier.classify_many(new.values(), self.budget)))
        items = [(event, verdicts[key]) for event, key in zip(events, keys)]
        self.items.extend(items)
        self.stream.add(items)

    def finish(self, details: bool = True) -> Ingested:
        """Wait for every write; ``details``: the verdict and effects of each event too
        (webhook answers do not carry them, and for 1,000 events they cost)."""
        result = self.store.ingest.result(self.stream.finish())
        _count(self.items, result)
        verdicts = [
            {**(verdict.to_dict() if verdict else {}), "duplicate": effects is None, "effects": effects or []}
            for (_, verdict), effects in zip(self.items, result.effects)
        ] if details else []
        return Ingested(result.accepted, result.duplicates, verdicts)

    def abort(self) -> None:
        self.stream.abort()


def evidence_key(event: Event) -> tuple:
    """What ``Event.evidence()`` is made of, without building it: equal keys, equal verdicts."""
    return (event.kind, event.diagnostic, event.status, event.reply_code, event.smtp_phase, event.remote_mta,
            event.reporter or event.provider, event.provider_class)


def _count(items, result: ApplyResult) -> None:
    """Metrics per batch, not per event: multiprocess counters cost a file write per inc."""
    verdicts, outcomes, changes = Counter(), Counter(), Counter()
    for (event, verdict), effects in zip(items, result.effects):
        if verdict is not None:
            verdicts[verdict.category, verdict.source] += 1
        outcomes[event.provider, event.kind.value, "duplicate" if effects is None else "accepted"] += 1
        for fx in effects or ():
            changes["added" if fx[0] == "+" else "lifted", fx[1:].split(":")[0]] += 1
    for labels, n in verdicts.items():
        metrics.VERDICTS.labels(*labels).inc(n)
    for labels, n in outcomes.items():
        metrics.EVENTS.labels(*labels).inc(n)
    for labels, n in changes.items():
        metrics.SUPPRESSION_CHANGES.labels(*labels).inc(n)
