"""The review queue: verdicts the classifier is unsure of, for analysts to label.

Every stored failure whose verdict ``needs_review`` (``unknown``, ``low-confidence``,
``conflict``: see classifier.combine) lands here with its evidence, the verdict and its
explanation. Items are deduplicated by evidence: the diagnostic normalised the way the model
reads it (addresses, hosts, numbers and ids masked) with the codes, SMTP phase, reporter,
the provider's own class and the event kind, so the same refusal sent to 500 recipients is
one item with a count of 500 and a few example events (id, address, time, raw payload
reference). Never the message itself: only the evidence, the diagnostic cut to
:data:`DIAGNOSTIC_MAX` characters.

An analyst's label (a fine reason, a note, who and when) closes an item; labelled items are
kept and exported as training records in the schema of classifier/training/README.md, which
``rebound train --extra`` reads. Open items are bounded per tenant (``REBOUND_REVIEW_MAX``):
beyond it the least frequent, oldest item is dropped and counted.

Writes come from the ingest path in the same round trip that follows a batch anyway
(store/ingest.py, after the apply replies say which events were new), one script call for
all of a batch's items: no Redis round trip per event, and duplicates delivered again by an
ESP are not counted twice. Layout and atomic operations: review.lua.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import orjson
import redis

from classifier.events import Event
from classifier.model.normalise import normalise_batch
from classifier.taxonomy import CATEGORIES, CATEGORY_OF, REASONS
from classifier.verdict import REVIEW_REASONS
from store import cursors
from store.cursors import CursorError
from store.keys import Keys
from store.records import iso

REVIEW_LUA = resources.files("store").joinpath("review.lua").read_text("utf-8")
#: Examples kept per item (review.lua keeps the first ones).
EXAMPLES = 5
#: Rounds of reading the items to drop and dropping them (Review.trim) before leaving it to the next add.
TRIM_ROUNDS = 5
#: Characters of a diagnostic an item keeps: enough to read and to train on.
DIAGNOSTIC_MAX = 4000
#: Items read from Redis at most to fill one filtered page.
SCAN_MAX = 2000
ORDERS = ("oldest", "count")
STATUSES = ("open", "labelled")
EVIDENCE_FIELDS = ("kind", "diagnostic", "status", "reply_code", "smtp_phase", "provider", "provider_class",
                   "remote_mta")


class ReviewError(ValueError):
    """A label that cannot be recorded (unknown reason, ...): the message says why."""


def evidence_of(event: Event) -> dict:
    """What an item keeps of an event: what the classifier read, nothing else."""
    e = event.evidence()
    out = {"kind": e.kind.value, "diagnostic": e.diagnostic[:DIAGNOSTIC_MAX]}
    for name in ("status", "reply_code", "smtp_phase", "provider", "provider_class", "remote_mta"):
        if getattr(e, name):
            out[name] = getattr(e, name)
    return out


def item_ids(events: list[Event]) -> list[str]:
    """Same evidence up to what differs per message (addresses, hosts, numbers, ids; the
    remote MTA) -> same item id. Diagnostics are normalised in one batch (a raw DSN for 500
    recipients naming each of them in its text is 500 diagnostics)."""
    evidence = [e.evidence() for e in events]
    texts = normalise_batch([e.diagnostic for e in evidence])
    return [hashlib.blake2b("\x00".join((e.kind.value, text, e.status or "", e.reply_code or "",
                                         (e.smtp_phase or "").upper(), (e.provider or "").lower(),
                                         (e.provider_class or "").lower())).encode("utf-8"),
                            digest_size=8).hexdigest()
            for e, text in zip(evidence, texts)]


@dataclass(frozen=True)
class Filters:
    review: str | None = None        # unknown, low-confidence, conflict
    category: str | None = None      # the verdict's category

    def __post_init__(self):
        if self.review is not None and self.review not in REVIEW_REASONS:
            raise ValueError(f"unknown review reason {self.review!r}; one of {', '.join(REVIEW_REASONS)}")
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}; one of {', '.join(CATEGORIES)}")

    def keep(self, item: dict) -> bool:
        v = item["verdict"]
        return ((self.review is None or v.get("review_reason") == self.review)
                and (self.category is None or v.get("category") == self.category))


def encode_cursor(order: str, member: str) -> str:
    return cursors.encode(order, member)


def decode_cursor(cursor: str, order: str) -> str:
    got, member = cursors.decode(cursor, 2)
    if not isinstance(member, str) or len(member) > 100:
        raise CursorError(cursors.NOT_OURS)
    if got != order:
        raise CursorError(f"the cursor belongs to a listing in another order ({got!r})")
    return member


class Review:
    def __init__(self, client: redis.Redis, keys: Keys, max_open: int = 10_000):
        self.r = client
        self.keys = keys
        self.max_open = max_open
        self.script = client.register_script(REVIEW_LUA)

    def _keys(self, tenant: str) -> list[str]:
        k = self.keys
        return [k.review_by_time(tenant), k.review_by_count(tenant), k.review_labelled(tenant), k.review_stats(tenant)]

    def load_script(self) -> None:
        from store.client import storage      # here: `rebound config` imports this module, not Redis

        storage(self.r).load(REVIEW_LUA)

    # -- from the ingest path ----------------------------------------------------------------
    def command(self, tenant: str, items, raw_ref: str | None = None, now: float | None = None) -> tuple | None:
        """The one script call that queues the events of ``items`` ((event, verdict) pairs,
        all newly stored) whose verdict needs review; None if there are none."""
        unsure = [(event, verdict) for event, verdict in items if verdict is not None and verdict.needs_review]
        if not unsure:
            return None
        groups: dict[str, list] = {}
        for iid, pair in zip(item_ids([e for e, _ in unsure]), unsure):
            groups.setdefault(iid, []).append(pair)
        args: list = ["add", self.keys.review_item(tenant, ""), str(int(time.time() if now is None else now)),
                      str(self.max_open)]
        items = [self.keys.review_item(tenant, iid) for iid in groups]
        for iid, group in groups.items():
            event, verdict = group[-1]
            item = {"tenant": tenant, "evidence": evidence_of(event)}
            examples = [self._example(e, raw_ref) for e, _ in group[:EXAMPLES]]
            args += [iid, orjson.dumps(item), orjson.dumps(verdict.to_dict()), str(len(group)),
                     b"\n".join(examples), str(len(examples))]
        return ("EVALSHA", self.script.sha, 4 + len(items), *self._keys(tenant), *items, *args)

    @staticmethod
    def _example(event: Event, raw_ref: str | None) -> bytes:
        ex = {"event_id": event.event_id, "address": event.recipient, "time": int(event.time.timestamp()),
              "provider": event.provider}
        ref = event.raw_ref or raw_ref
        if ref:
            ex["raw_ref"] = ref
        return orjson.dumps(ex)

    def add(self, tenant: str, items, raw_ref: str | None = None, now: float | None = None) -> int:
        """Queue directly (tests, tools); the ingest path sends :meth:`command` with its batch."""
        cmd = self.command(tenant, items, raw_ref, now)
        if cmd is None:
            return 0
        created, over = self._run(cmd)
        if over:
            self.trim(tenant)
        return int(created)

    def trim(self, tenant: str) -> None:
        """Drop the least useful open items beyond the bound (review.lua 'trim'): their keys
        are read first and named to the script, which drops no other; read again while the
        queue changed meanwhile."""
        by_count = self.keys.review_by_count(tenant)
        for _ in range(TRIM_ROUNDS):
            over = self.r.zcard(by_count) - self.max_open
            if over <= 0:
                return
            ids: dict[str, None] = {}
            for head in dict.fromkeys(m[:11] for m in self.r.zrange(by_count, -over, -1)):
                for member in self.r.zrange(by_count, b"[" + head, b"(" + head + b"~", bylex=True, offset=0, num=over):
                    ids[member.split(b":", 2)[2].decode()] = None
            victims = [self.keys.review_item(tenant, iid) for iid in ids]
            left = self._run(("EVALSHA", self.script.sha, 4 + len(victims), *self._keys(tenant), *victims, "trim",
                              self.keys.review_item(tenant, ""), str(int(time.time())), str(self.max_open)))
            if not left:
                return

    def _run(self, cmd: tuple):
        try:
            return self.r.execute_command(*cmd)
        except redis.exceptions.NoScriptError:
            self.load_script()
            return self.r.execute_command(*cmd)

    # -- reading -----------------------------------------------------------------------------
    def _decode(self, iid: str, h: dict) -> dict:
        h = {k.decode(): v for k, v in h.items()}
        item = orjson.loads(h["item"])
        verdict = orjson.loads(h["verdict"])
        out = {"id": iid, "tenant": item["tenant"], "status": h["status"].decode(), "count": int(h["n"]),
               "first_seen": iso(int(h["first"])), "last_seen": iso(int(h["last"])),
               "review_reason": verdict.get("review_reason"), "evidence": item["evidence"], "verdict": verdict,
               "examples": [self._example_out(orjson.loads(x)) for x in h["ex"].split(b"\n") if x],
               "label": None}
        if h.get("label"):
            out["label"] = orjson.loads(h["label"])
        return out

    @staticmethod
    def _example_out(ex: dict) -> dict:
        ex["time"] = iso(ex["time"])
        return ex

    def get(self, tenant: str, iid: str) -> dict | None:
        if not _valid_id(iid):
            return None
        h = self.r.hgetall(self.keys.review_item(tenant, iid))
        return self._decode(iid, h) if h else None

    def _fetch(self, tenant: str, members: list[bytes]) -> list[dict]:
        pipe = self.r.pipeline(transaction=False)
        ids = [m.decode().rsplit(":", 1)[1] for m in members]
        for iid in ids:
            pipe.hgetall(self.keys.review_item(tenant, iid))
        return [self._decode(iid, h) if h else None for iid, h in zip(ids, pipe.execute())]

    def page(self, tenant: str, *, status: str = "open", order: str = "oldest", filters: Filters = Filters(),
             cursor: str | None = None, limit: int = 50) -> dict:
        """One page of items; follow ``next`` until it is null. A selective filter may give a
        short page (at most :data:`SCAN_MAX` items are read per page): only ``next: null``
        means the end."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        if status == "labelled":
            key = self.keys.review_labelled(tenant)
        else:
            key = self.keys.review_by_time(tenant) if order == "oldest" else self.keys.review_by_count(tenant)
        start = "(" + decode_cursor(cursor, order) if cursor else "-"
        items: list[dict] = []
        scanned = 0
        while scanned < SCAN_MAX:
            chunk = min(max(limit * 2, 50), SCAN_MAX - scanned)
            members = self.r.zrange(key, start, "+", bylex=True, offset=0, num=chunk)
            if not members:
                return {"items": items, "next": None}
            scanned += len(members)
            for member, item in zip(members, self._fetch(tenant, members)):
                if item is not None and filters.keep(item):
                    items.append(item)
                    if len(items) >= limit:
                        return {"items": items, "next": encode_cursor(order, member.decode())}
            start = "(" + members[-1].decode()
            if len(members) < chunk:
                return {"items": items, "next": None}
        return {"items": items, "next": encode_cursor(order, start[1:])}

    def stats(self, tenant: str) -> dict:
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(self.keys.review_by_time(tenant))
        pipe.zcard(self.keys.review_labelled(tenant))
        pipe.hget(self.keys.review_stats(tenant), "dropped")
        open_, labelled, dropped = pipe.execute()
        return {"open": open_, "labelled": labelled, "dropped": int(dropped or 0), "max_open": self.max_open}

    # -- analysts ------------------------------------------------------------------------------
    def label(self, tenant: str, iid: str, *, reason: str, actor: str, note: str | None = None,
              now: float | None = None) -> dict | None:
        """Record an analyst's label; the item leaves the open queue. None: no such item."""
        if reason not in REASONS:
            raise ReviewError(f"unknown reason {reason!r}; one of {', '.join(REASONS)}")
        if not _valid_id(iid):
            return None
        now = int(time.time() if now is None else now)
        label = {"reason": reason, "category": CATEGORY_OF[reason], "by": actor, "at": iso(now)}
        if note:
            label["note"] = note
        done = self._run(("EVALSHA", self.script.sha, 5, *self._keys(tenant), self.keys.review_item(tenant, iid), "label",
                          self.keys.review_item(tenant, ""), str(now), iid, orjson.dumps(label)))
        if not done:
            return None
        return self.get(tenant, iid)

    def unlabel(self, tenant: str, iid: str, label: dict) -> dict | None:
        """Undo ``label`` (as :meth:`label` recorded it): the item is open again, as it was.
        None when the item no longer carries that label (gone, reopened, or labelled
        otherwise since): an undo never takes back somebody else's label."""
        if not _valid_id(iid):
            return None
        done = self._run(("EVALSHA", self.script.sha, 5, *self._keys(tenant), self.keys.review_item(tenant, iid), "unlabel",
                          self.keys.review_item(tenant, ""), str(int(time.time())), iid, orjson.dumps(label)))
        return self.get(tenant, iid) if done else None

    def labelled(self, tenant: str, batch: int = 500) -> Iterator[dict]:
        """Every labelled item, in the order they were labelled."""
        key, start = self.keys.review_labelled(tenant), "-"
        while True:
            members = self.r.zrange(key, start, "+", bylex=True, offset=0, num=batch)
            if not members:
                return
            for item in self._fetch(tenant, members):
                if item is not None:
                    yield item
            start = "(" + members[-1].decode()

    def training_records(self, tenant: str) -> Iterator[dict]:
        """The labels as training records (classifier/training/README.md): the evidence, the
        analyst's reason, and bookkeeping (``id``, ``source``, who, when, the note). No
        ``weight``: ``rebound train --extra-weight`` decides how much a label counts."""
        for item in self.labelled(tenant):
            yield training_record(item)


def training_record(item: dict) -> dict:
    label, ev = item["label"], item["evidence"]
    rec = {"reason": label["reason"], "diagnostic": ev.get("diagnostic", "")}
    for name in EVIDENCE_FIELDS:
        if name != "diagnostic" and ev.get(name):
            rec[name] = ev[name]
    rec.update({"id": f"review:{item['tenant']}:{item['id']}", "source": f"review:{item['tenant']}",
                "labelled_by": label["by"], "labelled_at": label["at"], "count": item["count"]})
    if label.get("note"):
        rec["note"] = label["note"]
    return rec


def _valid_id(iid: str) -> bool:
    return len(iid) == 16 and all(c in "0123456789abcdef" for c in iid)
