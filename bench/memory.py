"""Redis memory per suppressed address, for 1,000,000 addresses.

    python bench/memory.py [--addresses 1000000] [--events 200000]

Starts a private Redis and measures ``used_memory`` before and after:

1. importing 1,000,000 suppressed addresses (the CSV import path: what a tenant moving
   its suppression list to Rebound stores; mixed codes, realistic address lengths);
2. suppressing ``--events`` addresses through the event path instead (hard bounces with
   provider event ids and real-length diagnostics, through the atomic apply script), which
   also keeps a history entry per address and a dedup marker per event for the dedup
   window: reported with everything, then without the dedup markers (as after the window),
   then for the record alone (as after the history retention).

The ceiling printed next to it: the same addresses as bare members of a Redis set (no
reason, no time, no evidence), the least any store of suppressed addresses can use.
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import redis

from _support import load_note, machine, redis_server

DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de", "orange.fr"]
DIAGNOSTIC = ("550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking "
              "the recipient's email address for typos or unnecessary spaces. For more information, go to "
              "https://support.google.com/mail/?p=NoSuchUser d9443c01a7336-2a3b4c5d6e7f8sor123456.100 - gsmtp")


def address(i: int) -> str:
    domain = DOMAINS[i % len(DOMAINS)] if i % 3 else f"company-{i % 5000}.example"
    return f"firstname.lastname{i}@{domain}"


def used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()

    from classifier import Classifier, Event, Kind
    from store import Store, connect
    from store.keys import BUCKETS

    results = []
    with redis_server() as url:
        r = redis.Redis.from_url(url)
        store = Store(connect(url, timeout=60))
        note = load_note()

        # the ceiling: bare set members
        before = used(r)
        pipe = r.pipeline(transaction=False)
        for i in range(args.addresses):
            pipe.sadd(f"bare:{{{i % BUCKETS}}}", address(i))
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        bare = (used(r) - before) / args.addresses
        r.flushall()

        # 1. the import path
        tenant, _ = store.tenants.create("imported")
        codes = ["manual", "previously_bounced", "unsubscribed_all", "previous_spam", "unsubscribed"]
        before = used(r)
        t = time.perf_counter()
        batch = []
        for i in range(args.addresses):
            code = codes[i % len(codes)]
            row = {"address": address(i), "code": code}
            if code == "unsubscribed":
                row["subscription"] = "newsletter"
            batch.append(row)
            if len(batch) == 5000:
                store.suppressions.import_rows(tenant, batch, actor="key:0123456789ab", import_id="5f1d2c3b4a59")
                batch = []
        if batch:
            store.suppressions.import_rows(tenant, batch, actor="key:0123456789ab", import_id="5f1d2c3b4a59")
        imported = (used(r) - before) / args.addresses
        import_rate = args.addresses / (time.perf_counter() - t)
        [answer] = store.check(tenant, [address(7)])
        assert answer.reasons, "the import did not suppress"
        results.append(("imported suppressions (CSV import path)", args.addresses, imported))
        r.flushall()

        # 2. the event path
        tenant, _ = store.tenants.create("events")
        classifier = Classifier()
        verdict = classifier.classify(Event(tenant=tenant, recipient="x@y.z", kind=Kind.BOUNCE, provider="sendgrid",
                                            event_id="x", time=datetime.now(timezone.utc), status="5.1.1").evidence())
        before = used(r)
        now = datetime.now(timezone.utc)
        t = time.perf_counter()
        items = []
        for i in range(args.events):
            e = Event(tenant=tenant, recipient=address(i), kind=Kind.BOUNCE, provider="sendgrid",
                      event_id=f"sg_{i:022d}", time=now, status="5.1.1", reply_code="550", diagnostic=DIAGNOSTIC,
                      remote_mta="gmail-smtp-in.l.google.com")
            items.append((e, verdict))
            if len(items) == 2000:
                store.ingest.apply(tenant, items, store.policy(tenant))
                items = []
        if items:
            store.ingest.apply(tenant, items, store.policy(tenant))
        event_rate = args.events / (time.perf_counter() - t)
        full = (used(r) - before) / args.events
        for pattern in ("rb:t:*:d:*", "rb:t:*:h:*"):
            keys = []
            for k in r.scan_iter(pattern, count=10_000):
                keys.append(k)
                if len(keys) == 10_000:
                    r.unlink(*keys)
                    keys = []
            if keys:
                r.unlink(*keys)
            results.append((f"hard bounces (event path), {'without dedup markers' if ':d:' in pattern else 'record only'}",
                            args.events, (used(r) - before) / args.events))
        results.insert(1, ("hard bounces (event path): record + history entry + dedup marker", args.events, full))
        sample = r.hget(store.keys.records(tenant, 0), next(iter(r.hkeys(store.keys.records(tenant, 0)))))

    print(f"machine: {machine()}; {note}")
    print("Redis memory (used_memory) per suppressed address:")
    for label, n, per in results:
        print(f"  {label:72} {n:>9,} addresses: {per:6.0f} bytes")
    print(f"  ceiling, the same addresses as bare set members (no reason, time or evidence): {bare:6.0f} bytes")
    print(f"  a bounce-derived record ({len(sample)} bytes of JSON): {sample.decode()}")
    print(f"  import {import_rate:,.0f} addresses/s, events {event_rate:,.0f}/s")
    print(f"  target: under 200 bytes per suppressed address -> {'met' if imported < 200 else 'NOT met'} "
          f"(import path, {args.addresses:,} addresses)")


if __name__ == "__main__":
    main()
