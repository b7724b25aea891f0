"""POST /v1/inbound/<tenant>: raw messages through the real HTTP stack into the store."""
from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from classifier.taxonomy import CATEGORY_OF
from tests.conftest import FIXTURES, SHARED

RAW = {"Content-Type": "message/rfc822"}


def post(api, name: str, tenant: str | None = None):
    data = (FIXTURES / name).read_bytes()
    return api.post(f"/v1/inbound/{tenant or api.tenant}", data=data, headers=RAW)


def test_hard_bounce_is_parsed_classified_and_suppresses(api):
    r = post(api, "postfix-userunknown.eml")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bounce"] is True and body["accepted"] == 1
    [found] = body["recipients"]
    assert found["reason"] == "userunknown" and found["hard"] is True
    assert found["effects"] == ["+previously_bounced"]
    answer = api.get(f"/v1/recipients/{found['recipient']}").json()
    assert [x["code"] for x in answer["reasons"]] == ["previously_bounced"]
    history = api.get(f"/v1/recipients/{found['recipient']}/history").json()["events"]
    assert history[0]["provider"] == "inbound" and history[0]["raw_ref"]


def test_the_same_message_twice_counts_once(api):
    first, again = post(api, "postfix-userunknown.eml").json(), post(api, "postfix-userunknown.eml").json()
    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_microsoft_block_does_not_suppress_the_recipient(api):
    body = post(api, "office365-s3150.eml").json()
    assert body["recipients"] and all(x["category"] == "sender_blocked" for x in body["recipients"])
    for x in body["recipients"]:
        assert api.get(f"/v1/recipients/{x['recipient']}").json()["sendable"] is True


def test_complaint_report_suppresses_marketing(api):
    body = post(api, "arf-abuse.eml").json()
    [found] = body["recipients"]
    assert found["reason"] == "feedback"
    answer = api.get(f"/v1/recipients/{found['recipient']}?stream=marketing").json()
    assert [x["code"] for x in answer["reasons"]] == ["previous_spam"]


def test_auto_reply_is_no_bounce_and_suppresses_nothing(api):
    body = post(api, "autoreply-ooo.eml").json()
    assert body["bounce"] is False and body["format"] == "autoreply"
    for x in body["recipients"]:
        assert x["reason"] == "vacation" and x["effects"] == []


def test_not_a_bounce_is_answered_not_refused(api):
    body = post(api, "not-a-bounce.eml").json()
    assert body == {"bounce": False, "format": "none", "accepted": 0, "duplicates": 0, "recipients": [],
                    "recipients_dropped": 0, "truncated": False}


@pytest.mark.parametrize("data, status, error", [
    (b"", 400, "empty_message"),
    (b"\x00\x01\x02 binary \xff\xfe" * 100, 400, "invalid_message"),
    (b"just some words, no header at all\n", 400, "invalid_message"),
])
def test_input_that_is_not_mail_gets_a_clear_400(api, data, status, error):
    r = api.post(f"/v1/inbound/{api.tenant}", data=data, headers=RAW)
    assert r.status_code == status and r.json()["error"] == error


def test_json_body_is_415(api):
    r = api.post(f"/v1/inbound/{api.tenant}", json={"not": "mail"})
    assert r.status_code == 415


def test_another_tenants_url_is_403(api, make_tenant):
    other = make_tenant("Other")
    assert post(api, "postfix-userunknown.eml", tenant=other.tenant).status_code == 403


def test_a_message_over_the_body_limit_is_413(api, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = (FIXTURES / "postfix-userunknown.eml").read_bytes() + b"x" * limit
    r = api.post(f"/v1/inbound/{api.tenant}", data=big, headers=RAW)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


# -- the shared corpus of real bounces, each in a tenant of its own -----------------------

HARD = {"nonexistent_account", "domain_misconfigured"}
NEVER_SUPPRESS = {"sender_blocked", "spam_flagged", "auto_reply", "auth_failure", "policy_rejected",
                  "rate_limited"}
#: reasons judged from the address alone at query time (issue 6), whatever bounced
FROM_THE_ADDRESS = {"invalid_syntax", "role_address", "disposable_domain"}


@pytest.mark.slow
@pytest.mark.shared
def test_shared_corpus_hard_bounces_suppress_and_blocks_spam_and_autoreplies_do_not(app, live_server):
    labels = [json.loads(line) for line in (SHARED / "corpus" / "labels.jsonl").read_text().splitlines() if line]
    store = app.extensions["rebound"].store
    session = requests.Session()
    outcome = Counter()
    wrongly_suppressed = []
    for i, row in enumerate(labels):
        tenant, key = store.tenants.create(f"corpus-{i}")
        session.headers["Authorization"] = f"Bearer {key}"
        raw = (SHARED / "corpus" / row["file"]).read_bytes()
        r = session.post(f"{live_server.url}/v1/inbound/{tenant}", data=raw, headers=RAW, timeout=30)
        assert r.status_code == 200, (row["file"], r.status_code, r.text[:300])
        for expected in row["expected"]:
            category = CATEGORY_OF[expected["reason"]]
            if not expected["recipient"]:
                continue
            answer = session.post(f"{live_server.url}/v1/recipients/check", timeout=30,
                                  json={"addresses": [expected["recipient"]]}).json()["results"][0]
            # what the bounce did, not what the address itself says (e.g. role_address for postmaster@)
            caused = [r["code"] for r in answer["reasons"] if r["code"] not in FROM_THE_ADDRESS]
            if category in HARD and expected["hardbounce"]:
                outcome["hard"] += 1
                outcome["hard_suppressed"] += bool(caused)
            elif category in NEVER_SUPPRESS:
                outcome["never"] += 1
                if caused:
                    wrongly_suppressed.append((row["file"], expected["reason"], caused[0]))
    assert outcome["hard"] > 100 and outcome["never"] > 80
    assert outcome["hard_suppressed"] / outcome["hard"] >= 0.9, outcome
    assert len(wrongly_suppressed) / outcome["never"] <= 0.02, wrongly_suppressed
