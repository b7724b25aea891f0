"""Listing, exporting and importing a tenant's stored suppressions.

A tenant's records are spread over 1024 bucket hashes, so a listing walks the buckets in
order and, within a bucket, the addresses in order; the cursor is that position. A page is
never more than ``limit`` items and never reads more than ``max_buckets`` buckets, so a
selective filter over millions of addresses cannot turn one request into a full scan: a
page may then hold fewer items than asked, and only ``next: null`` means the end.

Listings show the suppressions stored per address (bounces, complaints, opt-outs, manual,
imports, pending opt-ins); reasons computed at query time (syntax, DNS, role, disposable,
counters, lists) are answered by the check, not listed here.
"""
from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
import redis

from classifier.address import AddressError, domain_of, normalise
from store import cursors, records
from store.cursors import CursorError
from store.keys import BUCKETS, Keys
from store.policy import Policy
from store.reasons import SUPPRESSION_REASONS, TENANT_SETTABLE
from store.subscriptions import stored_subscription, subscription_name
from store.validation import syntax_error

PIPELINED_BUCKETS = 16
EXPORT_COLUMNS = ["address", "code", "subscription", "stream", "since", "until", "note", "by", "import",
                  "event_id", "provider", "reason", "status", "diagnostic"]
IMPORT_COLUMNS = {"address", "code", "subscription", "stream", "since", "until", "note"}


@dataclass(frozen=True)
class Filters:
    codes: frozenset[str] = frozenset()
    stream: str | None = None
    subscription: str | None = None
    since: int | None = None          # started at or after
    before: int | None = None         # started before
    domain: str | None = None         # the address's domain or a subdomain of it

    @classmethod
    def build(cls, *, codes=(), stream: str | None = None, subscription: str | None = None,
              since: int | None = None, before: int | None = None, domain: str | None = None) -> Filters:
        """Filters as the API and the CLI take them (codes checked, the domain and the
        subscription in their stored spelling); ValueError says what is wrong."""
        wanted = frozenset(c.strip() for c in codes if c.strip())
        unknown = sorted(wanted - set(SUPPRESSION_REASONS))
        if unknown:
            raise ValueError(f"code: unknown reason code(s) {unknown}")
        return cls(codes=wanted, stream=stream, subscription=subscription_name(subscription),
                   since=None if since is None else records.check_time(since, "since"),
                   before=None if before is None else records.check_time(before, "before"),
                   domain=domain.strip().lower().lstrip("@") or None if domain else None)

    def keep(self, address: str, s: records.Suppression, policy: Policy, now: float) -> bool:
        if not s.active(now):
            return False
        if self.codes and s.code not in self.codes:
            return False
        if self.stream and not (s.stream in (self.stream, records.ALL_STREAMS) if s.stream
                                else policy.blocks(s.code, self.stream)):
            return False
        if self.subscription and stored_subscription(s.subscription) != self.subscription:
            return False
        if self.since is not None and s.since < self.since:
            return False
        if self.before is not None and s.since >= self.before:
            return False
        if self.domain:
            d = domain_of(address)
            if d != self.domain and not d.endswith("." + self.domain):
                return False
        return True


def encode_cursor(bucket: int, after: str) -> str:
    return cursors.encode(bucket, after)


def decode_cursor(cursor: str) -> tuple[int, str]:
    bucket, after = cursors.decode(cursor, 2)
    if not (type(bucket) is int and 0 <= bucket < BUCKETS and isinstance(after, str)):
        raise CursorError(cursors.NOT_OURS)
    return bucket, after


def reason_row(s: records.Suppression, policy: Policy) -> dict:
    scope, streams = records.stream_limits(s.code, s.subscription, s.stream, list(policy.streams.get(s.code, [])),
                                           SUPPRESSION_REASONS[s.code])
    return {"code": s.code, "scope": scope, "since": records.iso(s.since), "until": records.iso(s.until),
            "streams": streams, "evidence": records.evidence_out(s.evidence)}


class Listing:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def walk(self, tenant: str, start: int = 0, after: str = "", end: int = BUCKETS
             ) -> Iterator[tuple[int, str, dict]]:
        """(bucket, address, record) in cursor order, reading buckets a few per round trip."""
        for first in range(start, end, PIPELINED_BUCKETS):
            chunk = range(first, min(first + PIPELINED_BUCKETS, end))
            pipe = self.r.pipeline(transaction=False)
            for b in chunk:
                pipe.hgetall(self.keys.records(tenant, b))
            for b, fields in zip(chunk, pipe.execute()):
                for addr in sorted(fields):
                    a = addr.decode()
                    if b == start and after and a <= after:
                        continue
                    yield b, a, orjson.loads(fields[addr])

    def page(self, tenant: str, policy: Policy, filters: Filters, *, cursor: str | None = None,
             limit: int = 100, max_buckets: int = 64, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        start, after = decode_cursor(cursor) if cursor else (0, "")
        end = min(BUCKETS, start + max_buckets)
        items: list[dict] = []
        for b, address, rec in self.walk(tenant, start, after, end):
            kept = [reason_row(s, policy) for s in records.suppressions(rec) if filters.keep(address, s, policy, now)]
            if kept:
                kept.sort(key=lambda r: r["code"])
                items.append({"address": address, "reasons": kept})
                if len(items) >= limit:
                    return {"items": items, "next": encode_cursor(b, address)}
        return {"items": items, "next": encode_cursor(end, "") if end < BUCKETS else None}

    def export_rows(self, tenant: str, policy: Policy, filters: Filters, *, now: float | None = None,
                    progress=None) -> Iterator[dict]:
        """Every matching suppression as one flat row (see EXPORT_COLUMNS)."""
        now = time.time() if now is None else now
        last = -1
        for b, address, rec in self.walk(tenant):
            if progress and b != last:
                progress(b - last)
                last = b
            for s in records.suppressions(rec):
                if filters.keep(address, s, policy, now):
                    e = s.evidence
                    yield {"address": address, "code": s.code, "subscription": s.subscription or "",
                           "stream": s.stream or "", "since": records.iso(s.since), "until": records.iso(s.until) or "",
                           "note": e.get("note", ""), "by": e.get("by", ""), "import": e.get("import", ""),
                           "event_id": e.get("id", ""), "provider": e.get("p", ""), "reason": e.get("r", ""),
                           "status": e.get("s", ""), "diagnostic": e.get("d", "")}
        if progress and last < BUCKETS - 1:
            progress(BUCKETS - 1 - last)


#: What a spreadsheet reads as the start of a formula (OWASP's list): ``=HYPERLINK(...)`` in a
#: bounce's Diagnostic-Code, which anyone on the internet can write, must reach the analyst's
#: spreadsheet as text (issue 15).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell a spreadsheet shows as the text it is: one ``'`` before a formula start
    (spreadsheets hide it; :func:`unneutralise` takes it off again on import)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """An exported cell back as it was stored (an export imports as it is)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def csv_lines(rows: Iterable[dict], header: bool = True) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, EXPORT_COLUMNS, lineterminator="\r\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise(v) for k, v in row.items()})
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


# -- importing ----------------------------------------------------------------------------------

@dataclass
class ImportDefaults:
    code: str = "manual"
    note: str | None = None
    subscription: str | None = None
    stream: str | None = None


def _time(value: str, column: str) -> int | None:
    if not value:
        return None
    return records.parse_time(value, column)


class ImportFileError(ValueError):
    """The file itself is broken (not UTF-8, a NUL byte, bad quoting, a field over the csv
    module's limit): reading cannot go on, so nothing of it is imported."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}; nothing was imported")
        self.line = line


def _no_nul(lines: Iterable[str]) -> Iterator[str]:
    for n, line in enumerate(lines, 1):
        if "\x00" in line:
            raise ImportFileError(n, "the file holds a NUL byte (a binary or UTF-16 file?)")
        yield line


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each record; ImportFileError when the file is broken."""
    reader = csv.reader(_no_nul(lines), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(reader.line_num, f"not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise ImportFileError(reader.line_num + 1, "not UTF-8") from None
        yield reader.line_num, row


def check_import_file(lines: Iterable[str]) -> int:
    """The first of an import's two passes: read the whole file as CSV, so that a broken file
    is refused (ImportFileError) before any of it is stored. Imports are atomic that far:
    a broken file imports nothing; bad *rows* (an invalid address, an unknown code) are
    reported and skipped, and the rest is stored. Returns the number of records."""
    return sum(1 for _ in _csv_rows(lines))


def parse_import(lines: Iterable[str], defaults: ImportDefaults) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row, error) for each data line of a CSV (run :func:`check_import_file`
    over the same lines first: this raises ImportFileError only when it meets the break).

    With a header line, the columns are named (``address`` required; ``code``,
    ``subscription``, ``stream``, ``since``, ``until``, ``note`` optional; others, such as the
    rest of an export, ignored). Without one, the first column is the address.
    """
    columns: list[str] | None = None
    for line, row in _csv_rows(lines):
        if not row or all(not c.strip() for c in row):
            continue
        if columns is None:
            first = [c.strip().lower().lstrip("\ufeff") for c in row]
            if "address" in first:
                columns = first
                continue
            columns = ["address"]
        values = dict(zip(columns, (unneutralise(c.strip()) for c in row)))
        try:
            yield line, _import_row(values, defaults), None
        except ValueError as exc:
            yield line, None, str(exc)


def _import_row(values: dict, defaults: ImportDefaults) -> dict:
    raw = values.get("address", "")
    try:
        address = normalise(raw)
    except AddressError as exc:
        raise ValueError(f"address: {exc}") from None
    problem = syntax_error(address)
    if problem:
        raise ValueError(f"address {raw!r}: {problem}")
    code = values.get("code") or defaults.code
    if code not in TENANT_SETTABLE:
        raise ValueError(f"code: {code!r} cannot be imported; use one of {', '.join(sorted(TENANT_SETTABLE))}")
    subscription = subscription_name(values.get("subscription") or defaults.subscription)
    if code == "unsubscribed" and not subscription:
        raise ValueError("code 'unsubscribed' needs a subscription")
    if code != "unsubscribed":
        subscription = None
    stream = values.get("stream") or defaults.stream or None
    if stream not in (None, records.ALL_STREAMS, *records.STREAMS):
        raise ValueError(f"stream: {stream!r} is not marketing, transactional or * (every stream)")
    since = _time(values.get("since", ""), "since")
    if since is not None and since > time.time() + 86400:
        raise ValueError(f"since: {values['since']!r} is in the future")
    if since is not None:
        since = min(since, int(time.time()) + records.MAX_AHEAD_SECONDS)
    row = {"address": address, "code": code, "subscription": subscription, "stream": stream,
           "since": since, "until": _time(values.get("until", ""), "until"),
           "note": values.get("note") or defaults.note}
    return {k: v for k, v in row.items() if v is not None}
