"""An echoed subject in a diagnostic is not stored: answers and history show it masked (issue 5)."""
from __future__ import annotations

import json

from tests.clock import ago

BOUNCE = {"id": "evt-subj", "type": "bounce", "recipient": "ann@example.org", "time": ago(days=1),
          "status": "5.1.1", "reply_code": "550", "stream": "marketing",
          "diagnostic": "Subject: Your invoice 4711 for Ann 550 5.1.1 user unknown"}


def test_stored_evidence_carries_no_subject(api):
    assert api.post("/v1/events", json=BOUNCE).status_code == 200
    answer = api.get("/v1/recipients/ann@example.org").json()
    history = api.get("/v1/recipients/ann@example.org/history").json()
    assert answer["sendable"] is False
    assert "[subject removed]" in answer["reasons"][0]["evidence"]["diagnostic"]
    for doc in (answer, history):
        assert "invoice" not in json.dumps(doc)
