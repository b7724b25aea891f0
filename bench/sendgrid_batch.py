"""A realistic mixed SendGrid Event Webhook batch, made up here (no real addresses).

Shared by the benchmark and the test that sends 1,000 events in one request. The mix is
roughly what a marketing + transactional sender sees: mostly processed/delivered/opens,
a few percent failures of every kind, a few complaints and unsubscribes.
"""
from __future__ import annotations

import random

MIX = [  # (event, weight, extra fields)
    ("processed", 20, {}),
    ("delivered", 38, {"response": "250 2.0.0 OK 1700000000 q1si1234567qkb.1 - gsmtp"}),
    ("open", 15, {"useragent": "Mozilla/5.0", "ip": "192.0.2.10"}),
    ("click", 5, {"url": "https://example.com/offer", "useragent": "Mozilla/5.0"}),
    ("deferred", 5, {"response": "421 4.7.0 Try again later, closing connection.", "attempt": "2"}),
    ("bounce", 3, {"type": "bounce", "status": "5.1.1", "bounce_classification": "Invalid Address",
                   "reason": "550 5.1.1 The email account that you tried to reach does not exist."}),
    ("bounce", 1, {"type": "bounce", "status": "5.2.2", "bounce_classification": "Mailbox Unavailable",
                   "reason": "552 5.2.2 The email account that you tried to reach is over quota."}),
    ("bounce", 2, {"type": "blocked", "status": "5.7.1", "bounce_classification": "Reputation",
                   "reason": "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus."}),
    ("bounce", 1, {"type": "blocked", "status": "4.7.0", "bounce_classification": "Frequency or Volume Too High",
                   "reason": "421 4.7.0 Too many messages from your IP, slow down."}),
    ("dropped", 2, {"reason": "Bounced Address", "status": "5.0.0"}),
    ("dropped", 1, {"reason": "Unsubscribed Address", "status": "5.0.0"}),
    ("spamreport", 1, {}),
    ("unsubscribe", 2, {}),
    ("group_unsubscribe", 2, {"asm_group_id": 42}),
    ("group_resubscribe", 1, {"asm_group_id": 42}),
    ("newsletter_signup", 1, {}),          # a type we do not know: acknowledged and counted
]


def mixed_batch(n: int = 1000, seed: int = 5, run: str = "r0", start: int = 1_764_150_000) -> list[dict]:
    rng = random.Random(seed)
    kinds = [m for m in MIX for _ in range(m[1])]
    batch = []
    for i in range(n):
        event, _, extra = rng.choice(kinds)
        batch.append({
            "email": f"user{rng.randrange(n * 4)}@example{rng.randrange(50)}.org",
            "timestamp": start + i, "event": event, "category": ["newsletter"],
            "sg_event_id": f"{run}-{i}", "sg_message_id": f"msg{i // 3}.filter-{run}",
            "smtp-id": f"<msg{i // 3}@example.com>", "stream": "marketing" if i % 3 else "transactional",
            **extra,
        })
    return batch
