"""The bulk check answers every address as the taxonomy says, and as it answers the address alone.

A batch takes shortcuts a single address never meets (screening many at once, judging only
the addresses that can have a reason, sharing one judgement between repeats and between
identical records); none of them may change an answer. The single lookup runs the same code
with a batch of one, so the expected reasons are spelled out here (EXPECTED), not only
compared.
"""
from __future__ import annotations

import pytest

EVENTS = [
    {"id": "b1", "type": "bounce", "recipient": "gone@example.org", "status": "5.1.1",
     "diagnostic": "550 5.1.1 user unknown"},
    {"id": "u1", "type": "unsubscribe", "recipient": "ann@example.org", "subscription": "newsletter"},
    {"id": "c1", "type": "complaint", "recipient": "angry+tag@example.org", "feedback_type": "abuse"},
    {"id": "d1", "type": "delivered", "recipient": "fine@example.org"},
]

#: address -> (reasons for marketing, reasons for transactional), as the taxonomy and the
#: default policy say: role accounts, disposable domains and company opt-outs stop marketing
#: only; bounces, operator blocks and broken syntax stop both.
EXPECTED = {
    "fine@example.org": ([], []),
    "gone@example.org": (["previously_bounced"], ["previously_bounced"]),
    "GONE@Example.org": (["previously_bounced"], ["previously_bounced"]),
    "ann@example.org": (["unsubscribed"], []),
    "angry+tag@example.org": (["previous_spam"], []),
    "info@example.org": (["role_address"], []),
    "info+sales@example.org": (["role_address"], []),              # compared without the +tag
    "admin@Example.ORG": (["role_address"], []),
    "nobody@example.net": (["role_address"], []),
    "x@mailinator.com": (["disposable_domain"], []),
    "x@eu.mailinator.com": (["disposable_domain"], []),
    "ceo@acme.example": (["company_opted_out", "role_address"], []),
    "someone@eu.acme.example": (["company_opted_out"], []),
    "anyone@mail.blocked.example": (["domain_blocked"], ["domain_blocked"]),
    "trap@example.org": (["platform_blocked"], ["platform_blocked"]),
    "not-an-address": (["invalid_syntax"], ["invalid_syntax"]),
    "a..b@example.org": (["invalid_syntax"], ["invalid_syntax"]),
    "": (["invalid_syntax"], ["invalid_syntax"]),
    "jos\u00e9@example.org": ([], []),
    "x@[192.0.2.1]": ([], []),
}
#: every address once, some twice, in an order that mixes them
ASKED = [*EXPECTED, "gone@example.org", "fine@example.org", "info+sales@example.org"][::-1]


@pytest.fixture
def populated(api, operator):
    assert api.post("/v1/events", json=EVENTS).status_code == 200
    assert api.put("/v1/companies/acme.example", json={"note": "legal asked"}).status_code == 200
    assert operator.put("/v1/platform/domains/blocked.example", json={}).status_code == 200
    assert operator.put("/v1/platform/addresses/trap@example.org", json={"kind": "trap"}).status_code == 200
    return api


@pytest.mark.parametrize("params", [{}, {"stream": "marketing"}, {"stream": "transactional"},
                                    {"stream": "marketing", "subscription": "newsletter"},
                                    {"subscription": "billing"}])
def test_each_bulk_answer_is_the_single_answer(populated, params):
    api = populated
    r = api.post("/v1/recipients/check", json={"addresses": ASKED, **params})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["address"] for x in results] == ASKED
    for address, bulk in zip(ASKED, results):
        if not address or "/" in address:
            continue                                                    # no single-lookup path for these
        single = api.get(f"/v1/recipients/{address}", params=params)
        assert single.status_code == 200
        assert bulk == single.json(), address


@pytest.mark.parametrize("stream, which", [("marketing", 0), ("transactional", 1)])
def test_every_reason_in_one_batch(populated, stream, which):
    results = populated.post("/v1/recipients/check", json={"addresses": ASKED, "stream": stream}).json()["results"]
    assert [x["address"] for x in results] == ASKED
    for x in results:
        assert [r["code"] for r in x["reasons"]] == EXPECTED[x["address"]][which], x["address"]
        assert x["sendable"] is not EXPECTED[x["address"]][which]


def test_repeats_get_the_same_answer_and_the_answers_come_back_in_order(populated):
    api = populated
    asked = ["gone@example.org", "fine@example.org"] * 50 + ["Gone@example.org"]
    results = api.post("/v1/recipients/check", json={"addresses": asked}).json()["results"]
    assert [x["address"] for x in results] == asked
    assert [x["sendable"] for x in results] == [False, True] * 50 + [False]
    assert results[0]["reasons"] == results[98]["reasons"] == results[100]["reasons"]


def test_the_store_answers_objects_and_json_alike(app, populated):
    """Store.check's answers (turned into objects one at a time) and its JSON rows agree."""
    import orjson

    store = app.extensions["rebound"].store
    answers = store.check(populated.tenant, ASKED, stream="marketing")
    assert len(answers) == len(ASKED)
    assert orjson.dumps([a.to_dict() for a in answers]) == orjson.dumps(answers.to_dicts())
    [first, second] = answers[:2]
    assert (first.address, first.sendable, second.address, second.sendable) == \
        ("info+sales@example.org", False, "fine@example.org", True)
