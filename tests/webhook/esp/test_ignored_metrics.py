"""Event types an ESP names as it likes never grow /metrics without bound."""
from __future__ import annotations

import uuid

import orjson

from tests.webhook.test_metrics import samples


def test_ignored_event_types_of_an_esp_are_capped(esp):
    """Brevo (bearer token) posts a batch of events of 300 types nobody knows: all are
    acknowledged and counted, but /metrics does not grow a series for each."""
    esp.configure("brevo", token="brevo-token")
    types = [f"made-up-{uuid.uuid4().hex[:8]}" for _ in range(300)]
    batch = [{"event": t, "email": "a@example.org", "ts_event": 1700000000} for t in types]
    r = esp.post("brevo", orjson.dumps(batch), {"Authorization": "Bearer brevo-token"})
    assert r.status_code == 200 and r.json()["ignored"] == 300, r.text

    labels = [s for s in samples(esp.base, "rebound_webhook_ignored_total") if s["provider"] == "brevo"]
    named = {s["type"] for s in labels} - {"OTHER"}
    assert "OTHER" in {s["type"] for s in labels}
    assert 0 < len(named) <= 50
