"""The one path every ingest route takes: canonical events -> verdicts -> store.

Routes differ only in how they authenticate and parse; from here on an SES bounce, a raw
DSN and a JSON event are the same thing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from classifier.events import Event
from classifier.parse.budget import Budget, OverBudget
from store import ApplyResult
from webhook import metrics
from webhook.errors import ApiError
from webhook.services import Services, services


@dataclass
class Ingested:
    accepted: int
    duplicates: int
    #: per input event, in order: what the classifier said and what changed in the store
    verdicts: list[dict]
    #: whether the request's raw payload was kept (None: nothing to keep; False: the
    #: tenant's REBOUND_RAW_QUOTA_BYTES is spent, the events are stored all the same)
    raw_kept: bool | None = None


def ingest(tenant: str, events: list[Event], raw: bytes | None = None, budget: Budget | None = None,
           svc: Services | None = None) -> Ingested:
    """Classify and store ``events``; returns only once Redis has accepted every write.
    ``budget``: the time left to the message the events come from (nothing is stored when
    classification finds it spent: OverBudget). ``svc``: outside a request (the SMTP
    listener, the mailbox poller, the pipe), the services to use."""
    stream = IngestStream(tenant, raw, budget, svc)
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

    def __init__(self, tenant: str, raw: bytes | None = None, budget: Budget | None = None,
                 svc: Services | None = None):
        svc = svc or services()
        #: a message's own budget (raw messages: OverBudget goes to the caller), else the
        #: request's (REBOUND_WORK_SECONDS: a 413 naming it)
        self.own_budget = budget is None
        self.budget = budget or Budget(svc.settings.work_seconds)
        self.text = Bound(svc.settings.max_batch_text)
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
        self.text.add(sum(len(e.diagnostic or "") for e in new.values()))
        if new:
            try:
                verdicts.update(zip(new, self.classifier.classify_many(new.values(), self.budget)))
            except OverBudget:
                if not self.own_budget:
                    raise
                raise over_budget(self.budget.seconds) from None
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
        if self.stream.raw_kept is False:
            metrics.RAW_NOT_KEPT.inc()
        return Ingested(result.accepted, result.duplicates, verdicts, self.stream.raw_kept)

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


def over_budget(seconds: float) -> ApiError:
    """The answer to a batch whose classification spent the request's time budget."""
    from flask import request

    metrics.OVER_BUDGET.labels(metrics.route(request.url_rule)).inc()
    return ApiError(413, "over_budget",
                    f"classifying this request took more than {seconds:g} s (REBOUND_WORK_SECONDS); nothing was "
                    "acknowledged: send fewer items per request (verdicts already worked out are cached, so a "
                    "retry goes faster)")


class Bound:
    """Characters of diagnostic text one request may have classified (REBOUND_MAX_BATCH_TEXT),
    counted as the batch is read: 413 naming the bound as soon as it is passed."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def add(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            from flask import request

            metrics.OVER_BUDGET.labels(metrics.route(request.url_rule)).inc()
            raise ApiError(413, "batch_text_too_large",
                           f"this request holds more than {self.limit} characters of diagnostic text "
                           "(REBOUND_MAX_BATCH_TEXT); nothing was acknowledged: send smaller batches")
