"""Console pages' server time with a big tenant: 10,000 open review items and 1,000,000
suppressions (issue 16: every page under 200 ms of server time).

Starts its own Redis and `rebound serve` (2 workers), fills one tenant, signs in to the
console like a browser (cookie session, CSRF token), then asks each page REPEAT times and
reads the server's own time from its Server-Timing header (after 4 untimed requests per
page, in which each worker compiles the page's templates once) (the app's time from the first
hook to the last: routing, store calls, template rendering), so the figures do not include
this client's own work. Prints p50 / p95 / max per page next to the 200 ms ceiling.

    .venv/bin/python bench/console_pages.py [--suppressions 1000000] [--review 10000] [--repeat 30]
"""
from __future__ import annotations

import argparse
import random
import re
import time
from datetime import datetime, timedelta, timezone

import requests

from _support import cpu_probe, load_note, machine, percentile, rebound_serve, redis_server

CEILING_MS = 200.0
OPERATOR_KEY = "bench-operator-key"
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def fill(url: str, suppressions: int, review: int) -> tuple[str, str, str]:
    import redis

    from classifier import Classifier, Event, Kind
    from classifier.verdict import Verdict
    from store import Store

    store = Store(redis.Redis.from_url(url))
    tenant, key = store.tenants.create("Console Bench")
    started = time.perf_counter()
    codes = ["manual", "previously_bounced", "unsubscribed_all", "previous_spam"]
    batch = 5000
    for start in range(0, suppressions, batch):
        rows = [{"address": f"user{i}@d{i % 500}.bench.test", "code": codes[i % 4]}
                for i in range(start, min(start + batch, suppressions))]
        store.suppressions.import_rows(tenant, rows, actor="bench", import_id="bench")
    print(f"  {suppressions:,} suppressions imported in {time.perf_counter() - started:.0f} s", flush=True)

    started = time.perf_counter()
    rng = random.Random(3)
    now = datetime.now(timezone.utc)
    onhold = Verdict("onhold", "unknown", False, 0.2, "combined", ("no rule matched",), "unknown")
    seen = set()
    pairs = []
    while len(seen) < review:
        text = "Zorp " + " ".join(rng.choice(WORDS) for _ in range(6))
        if text in seen:
            continue
        seen.add(text)
        for n in range(rng.choice((1, 1, 1, 2, 5))):
            i = len(pairs)
            pairs.append((Event(tenant=tenant, recipient=f"r{i}@d{i % 500}.bench.test", kind=Kind.BOUNCE,
                                provider="api", event_id=f"rv{i}", time=now, diagnostic=text, reply_code="550"),
                          onhold))
    for start in range(0, len(pairs), 1000):
        store.review.add(tenant, pairs[start:start + 1000])
    print(f"  {store.review.stats(tenant)['open']:,} review items queued in {time.perf_counter() - started:.0f} s",
          flush=True)

    started = time.perf_counter()                    # 30 days of traffic for the overview
    classifier = Classifier()
    texts = ["550 5.1.1 user unknown", "452 4.2.2 mailbox full", "554 5.7.1 blocked by spamhaus",
             "421 4.7.0 try again later, rate limited"]
    events = [Event(tenant=tenant, recipient=f"t{i}@d{i % 500}.bench.test", kind=Kind.BOUNCE, provider="api",
                    event_id=f"ev{i}", time=now - timedelta(days=i % 30, minutes=i % 600),
                    diagnostic=texts[i % 4], remote_mta=f"mx{i % 40}.d{i % 500}.bench.test")
              for i in range(6000)]
    for start in range(0, len(events), 1000):
        chunk = events[start:start + 1000]
        store.apply(tenant, list(zip(chunk, classifier.classify_many([e.evidence() for e in chunk]))))
    print(f"  {len(events):,} events over 30 days applied in {time.perf_counter() - started:.0f} s", flush=True)
    return tenant, key, pairs[0][0].recipient


def sign_in(base: str, key: str) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/console/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(base + "/console/sign-in", data={"key": key, "csrf_token": token}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return s


def server_ms(response: requests.Response) -> float:
    return float(re.search(r"dur=([\d.]+)", response.headers["Server-Timing"]).group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suppressions", type=int, default=1_000_000)
    ap.add_argument("--review", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    print(f"console pages: {machine()}\n  {load_note()}")
    with redis_server() as url:
        tenant, key, address = fill(url, args.suppressions, args.review)
        env = {"REBOUND_REDIS_URL": url, "REBOUND_OPERATOR_KEY": OPERATOR_KEY, "REBOUND_DNS_CHECKS": "false"}
        with rebound_serve(env) as (base, _pid):
            tenant_session = sign_in(base, key)
            operator_session = sign_in(base, OPERATOR_KEY)
            item = re.search(r'data-id="([0-9a-f]{16})"', tenant_session.get(base + "/console/review").text).group(1)
            pages = [
                ("overview (30 days, sender health)", "/console/overview", tenant_session),
                ("review queue, most frequent first", "/console/review", tenant_session),
                ("review queue, oldest first", "/console/review?order=oldest", tenant_session),
                ("review queue, filter category=unknown", "/console/review?category=unknown", tenant_session),
                ("review item", f"/console/review/{item}", tenant_session),
                ("models", "/console/models", tenant_session),
                ("address history", f"/console/addresses/{address}", tenant_session),
                ("suppressions, first page", "/console/suppressions", tenant_session),
                ("suppressions, code+domain filter", "/console/suppressions?code=manual&domain=d7.bench.test",
                 tenant_session),
                ("settings", "/console/settings", tenant_session),
                ("operator", "/console/operator", operator_session),
            ]
            print(f"  {cpu_probe()}")
            print(f"\n  {'page':<40}{'p50':>10}{'p95':>10}{'max':>10}   ceiling {CEILING_MS:.0f} ms")
            worst = 0.0
            for name, path, session in pages:
                for _ in range(4):              # each worker compiles its templates once: not timed
                    session.get(base + path)
                times = []
                for _ in range(args.repeat):
                    r = session.get(base + path)
                    assert r.status_code == 200, (path, r.status_code, r.text[:500])
                    times.append(server_ms(r))
                times.sort()
                p95 = percentile(times, 95)
                worst = max(worst, p95)
                print(f"  {name:<40}{percentile(times, 50):>8.1f}ms{p95:>8.1f}ms{times[-1]:>8.1f}ms"
                      f"   {'met' if p95 < CEILING_MS else 'MISSED'}")
            print(f"\n  worst p95 {worst:.1f} ms against the {CEILING_MS:.0f} ms ceiling: "
                  f"{'met' if worst < CEILING_MS else 'missed'}")


if __name__ == "__main__":
    main()
