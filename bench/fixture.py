"""The data the latency and bulk benchmarks ask about: one tenant with a realistic store.

- 100,000 suppressed addresses (imported, mixed codes), 2,000 hard bounces through the
  event path, 1,000 operator-blocked addresses, 20 blocked domains, 20 opted-out companies;
- a policy with every query-time feature on (shared bounces, frequency cap, low engagement);
- recipients spread over 500 domains that the bench's own DNS server resolves (so the DNS
  checks run, from a warm cache as in steady state).
"""
from __future__ import annotations

import random
from datetime import datetime, timezone

DOMAINS = 500
SUPPRESSED = 100_000


def address(i: int) -> str:
    return f"user{i}@d{i % DOMAINS}.bulk.test"


def populate(store, tenant: str = "bench") -> tuple[str, str]:
    """Create the tenant and its data; returns (tenant, api key)."""
    from classifier import Classifier, Event, Kind

    tenant, key = store.tenants.create(tenant)
    store.platform.allow_giver(tenant, actor="bench")          # giving bounces needs the operator's permission
    store.set_policy_overrides(tenant, {
        "sharing": {"give": True, "receive": True},
        "frequency_cap": {"per_month": {"marketing": 30}},
        "low_engagement": {"after_sends": 40},
    })
    codes = ["manual", "previously_bounced", "unsubscribed_all", "previous_spam"]
    rows = [{"address": address(i), "code": codes[i % 4]} for i in range(0, SUPPRESSED * 5, 5)]
    for start in range(0, len(rows), 5000):
        store.suppressions.import_rows(tenant, rows[start:start + 5000], actor="bench", import_id="bench")
    classifier = Classifier()
    now = datetime.now(timezone.utc)
    events = [Event(tenant=tenant, recipient=address(i), kind=Kind.BOUNCE, provider="api", event_id=f"b{i}",
                    time=now, status="5.1.1", diagnostic="550 5.1.1 <x>: Recipient address rejected: User unknown")
              for i in range(1, 10_000, 5)]
    for start in range(0, len(events), 1000):
        batch = events[start:start + 1000]
        store.apply(tenant, [(e, classifier.classify(e.evidence())) for e in batch])
    rng = random.Random(7)
    for i in rng.sample(range(SUPPRESSED * 5), 1000):
        store.platform.block_address(address(i), kind="trap", actor="bench")
    for d in range(0, DOMAINS, 25):
        store.platform.block_domain(f"d{d}.bulk.test", actor="bench")
        store.companies.add(tenant, f"d{d + 1}.bulk.test", actor="bench")
    return tenant, key


def sample(n: int, seed: int = 1) -> list[str]:
    """n addresses to ask about: about one in five suppressed, a few role/disposable/invalid ones."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        roll = rng.random()
        i = rng.randrange(SUPPRESSED * 5)
        if roll < 0.01:
            out.append(f"info@d{i % DOMAINS}.bulk.test")
        elif roll < 0.02:
            out.append(f"user{i}@mailinator.com")
        elif roll < 0.025:
            out.append(f"user{i}..bad@d{i % DOMAINS}.bulk.test")
        else:
            out.append(address(i))
    return out
