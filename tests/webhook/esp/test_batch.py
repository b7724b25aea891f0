"""A SendGrid batch of 1,000 mixed events is accepted in one request, stored in bulk, and
the ESP's retry of the same batch changes nothing."""
from __future__ import annotations

import importlib.util
from collections import Counter

import orjson
import pytest

from tests.conftest import REPO
from tests.webhook.esp.conftest import SendGridSigner

_spec = importlib.util.spec_from_file_location("sendgrid_batch", REPO / "bench" / "sendgrid_batch.py")
sendgrid_batch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sendgrid_batch)


@pytest.mark.slow
def test_sendgrid_batch_of_1000_mixed_events(esp, redis_client):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)
    batch = sendgrid_batch.mixed_batch(1000)
    body = orjson.dumps(batch)
    unknown = sum(e["event"] == "newsletter_signup" for e in batch)

    monitor = redis_client.info("commandstats")
    r = esp.post("sendgrid", body, signer.headers(body))
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1000 - unknown, "duplicates": 0, "ignored": unknown}
    after = redis_client.info("commandstats")
    scripts = after["cmdstat_evalsha"]["calls"] - monitor.get("cmdstat_evalsha", {"calls": 0})["calls"]
    # one atomic apply per event, pipelined; and one call counting the tenant's ingest rate (webhook.ratelimit)
    assert scripts == 1000 - unknown + 1

    by_email = {}
    for e in batch:
        by_email.setdefault(e["email"], []).append(e)
    checked = Counter()
    for email, events in by_email.items():
        if len(events) != 1:
            continue
        e = events[0]
        answer = esp.answer(email, stream="marketing")
        if e["event"] == "bounce" and e["type"] == "bounce" and e["status"] == "5.1.1":
            assert [x["code"] for x in answer["reasons"]] == ["previously_bounced"], e
        elif e["event"] == "bounce" and e["type"] == "blocked":
            assert answer["sendable"] is True, e             # SendGrid blocks never suppress
        elif e["event"] in ("spamreport",):
            assert [x["code"] for x in answer["reasons"]] == ["previous_spam"]
        elif e["event"] in ("unsubscribe",) or (e["event"] == "dropped" and e["reason"] == "Unsubscribed Address"):
            assert [x["code"] for x in answer["reasons"]] == ["unsubscribed_all"]
        elif e["event"] in ("delivered", "open", "click", "processed", "deferred"):
            assert answer["sendable"] is True
        else:
            continue
        checked[e["event"]] += 1
    assert set(checked) >= {"bounce", "spamreport", "unsubscribe", "delivered", "open", "deferred"}

    again = esp.post("sendgrid", body, signer.headers(body))
    assert again.json() == {"accepted": 0, "duplicates": 1000 - unknown, "ignored": unknown}
