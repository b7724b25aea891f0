"""The review queue over real HTTP and a real Redis: what is queued, deduplicated, listed, labelled, exported."""
from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from classifier.events import Event, Kind
from classifier.training.dataset import load_records
from classifier.verdict import Verdict
from store.review import Review
from tests.clock import ago

# Nothing the rules or the model know: the classifier abstains (onhold, review "unknown").
UNSURE = "Xyzzy plugh for <{addr}> (queue {qid})"
OTHER_UNSURE = "Grault garply waldo fred"
EVENT_TIME = ago(days=1)
KNOWN = "550 5.1.1 <{addr}>: The email account that you tried to reach does not exist."


def bounce(i: int, diagnostic: str, reply_code: str | None = "550", **kw) -> dict:
    addr = f"user{i}@example{i % 7}.org"
    return {"id": f"evt-{i}", "type": "bounce", "recipient": addr,
            "time": EVENT_TIME, "reply_code": reply_code,
            "diagnostic": diagnostic.format(addr=addr, qid=f"{i:04X}AB{i * 7919 % 10000:04d}"), **kw}


def batch() -> list[dict]:
    events = [bounce(i, UNSURE) for i in range(30)]
    events += [bounce(100 + i, OTHER_UNSURE) for i in range(3)]
    events += [bounce(200 + i, KNOWN) for i in range(5)]
    events.append({"id": "open-1", "type": "open", "recipient": "user1@example1.org"})
    return events


def test_unsure_verdicts_are_queued_once_per_evidence_with_a_count_and_examples(api):
    assert api.post("/v1/events", json=batch()).json() == {"accepted": 39, "duplicates": 0}
    page = api.get("/v1/review", params={"order": "count"}).json()
    assert page["next"] is None
    assert [i["count"] for i in page["items"]] == [30, 3]          # the known bounce is not there
    item = page["items"][0]
    assert item["status"] == "open" and item["tenant"] == api.tenant and item["label"] is None
    assert item["review_reason"] == "unknown" and item["verdict"]["category"] == "unknown"
    assert item["verdict"]["explanation"], "the analyst sees why"
    assert item["evidence"]["kind"] == "bounce" and item["evidence"]["reply_code"] == "550"
    assert item["evidence"]["diagnostic"].startswith("Xyzzy plugh for <user")
    assert len(item["examples"]) == 5
    ex = item["examples"][0]
    assert ex["event_id"] == "evt-0" and ex["address"] == "user0@example0.org"
    assert ex["time"] == EVENT_TIME and ex["provider"] == "api"
    assert page["stats"] == {"open": 2, "labelled": 0, "dropped": 0, "max_open": 10_000}

    # an ESP delivering the same events again counts nothing twice; new ones add up
    assert api.post("/v1/events", json=batch()).json()["duplicates"] == 39
    api.post("/v1/events", json=[bounce(300, UNSURE)])
    counts = [i["count"] for i in api.get("/v1/review", params={"order": "count"}).json()["items"]]
    assert counts == [31, 3]


def test_filters_and_the_item_route(api):
    api.post("/v1/events", json=batch())
    assert api.get("/v1/review", params={"review_reason": "conflict"}).json()["items"] == []
    assert len(api.get("/v1/review", params={"category": "unknown"}).json()["items"]) == 2
    assert api.get("/v1/review", params={"category": "mailbox_full"}).json()["items"] == []
    bad = api.get("/v1/review", params={"category": "nonsense"})
    assert bad.status_code == 400 and "category" in bad.json()["message"]
    assert api.get("/v1/review", params={"review_reason": "maybe"}).status_code == 400
    [first, _] = api.get("/v1/review").json()["items"]
    assert api.get(f"/v1/review/{first['id']}").json() == first
    assert api.get("/v1/review/0123456789abcdef").status_code == 404


def test_pagination_follows_next_without_skipping_when_items_are_labelled_meanwhile(api):
    api.post("/v1/events", json=[bounce(i, f"Zyx{i}q wobble frotz kludge") for i in range(7)])
    seen, cursor, pages = [], None, 0
    while True:
        r = api.get("/v1/review", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        seen += [i["id"] for i in page["items"]]
        if pages == 1:    # an analyst labels the first item between two pages
            api.post(f"/v1/review/{page['items'][0]['id']}", json={"reason": "blocked"})
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    assert api.get("/v1/review", params={"cursor": "bm9uc2Vuc2U"}).status_code == 400


def test_a_label_closes_the_item_records_who_and_when_and_is_exported(api, make_tenant):
    api.post("/v1/events", json=batch())
    [item, other] = api.get("/v1/review", params={"order": "count"}).json()["items"]

    bad = api.post(f"/v1/review/{item['id']}", json={"reason": "nosuchreason"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_reason"
    assert api.post(f"/v1/review/{item['id']}", json={"note": "no reason"}).status_code == 400
    assert api.post("/v1/review/0123456789abcdef", json={"reason": "blocked"}).status_code == 404
    assert api.post("/v1/review/not-an-id", json={"reason": "blocked"}).status_code == 404
    stranger = make_tenant("Tenant B")
    assert stranger.post(f"/v1/review/{item['id']}", json={"reason": "blocked"}).status_code == 404
    assert stranger.get("/v1/review").json()["items"] == []

    r = api.post(f"/v1/review/{item['id']}", json={"reason": "userunknown", "note": "their MX says so"})
    assert r.status_code == 200, r.text
    labelled = r.json()
    assert labelled["status"] == "labelled"
    label = labelled["label"]
    assert label["reason"] == "userunknown" and label["category"] == "nonexistent_account"
    assert label["note"] == "their MX says so" and label["by"].startswith("key:")
    assert datetime.fromisoformat(label["at"].replace("Z", "+00:00")) <= datetime.now(UTC)

    assert [i["id"] for i in api.get("/v1/review").json()["items"]] == [other["id"]]
    done = api.get("/v1/review", params={"status": "labelled"}).json()
    assert [i["id"] for i in done["items"]] == [item["id"]]
    assert done["stats"]["open"] == 1 and done["stats"]["labelled"] == 1

    # more of the same evidence after the label: counted, not re-opened
    api.post("/v1/events", json=[bounce(400, UNSURE)])
    assert api.get(f"/v1/review/{item['id']}").json()["count"] == 31
    assert [i["id"] for i in api.get("/v1/review").json()["items"]] == [other["id"]]

    r = api.get("/v1/review/labels")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
    [record] = [orjson.loads(line) for line in r.content.splitlines()]
    assert record["reason"] == "userunknown" and record["reply_code"] == "550" and record["kind"] == "bounce"
    assert record["diagnostic"].startswith("Xyzzy plugh for <user") and record["note"] == "their MX says so"
    assert record["id"] == f"review:{api.tenant}:{item['id']}" and "weight" not in record


def test_exported_labels_are_valid_training_records(api, tmp_path):
    api.post("/v1/events", json=batch())
    for item, reason in zip(api.get("/v1/review").json()["items"], ("blocked", "onhold")):
        api.post(f"/v1/review/{item['id']}", json={"reason": reason})
    path = tmp_path / "labels.jsonl"
    path.write_bytes(api.get("/v1/review/labels").content)
    records = load_records([path])          # the loader rebound train uses: validates each record
    assert sorted(r["reason"] for r in records) == ["blocked", "onhold"]


def _event(i: int, text: str) -> Event:
    return Event(tenant="t", recipient=f"a{i}@example.org", kind=Kind.BOUNCE, provider="api", event_id=f"e{i}",
                 time=datetime(2026, 11, 26, tzinfo=UTC), diagnostic=text)


UNSURE_VERDICT = Verdict.of("onhold", confidence=0.3, source="rule", review="unknown")


def test_the_queue_is_bounded_dropping_the_least_frequent_oldest_item(redis_client):
    from store.keys import Keys

    review = Review(redis_client, Keys("rb"), max_open=3)
    t = 1_800_000_000
    review.add("t", [(_event(0, "alpha one"), UNSURE_VERDICT)] * 4, now=t)       # count 4
    review.add("t", [(_event(1, "beta two"), UNSURE_VERDICT)], now=t + 1)         # count 1, oldest single
    review.add("t", [(_event(2, "gamma three"), UNSURE_VERDICT)] * 2, now=t + 2)  # count 2
    review.add("t", [(_event(3, "delta four"), UNSURE_VERDICT)], now=t + 3)       # count 1: beta goes
    items = review.page("t", order="count")["items"]
    assert [i["evidence"]["diagnostic"] for i in items] == ["alpha one", "gamma three", "delta four"]
    assert review.stats("t")["dropped"] == 1
    # the newest single item can still grow: the next single that arrives pushes out the oldest
    review.add("t", [(_event(4, "delta four"), UNSURE_VERDICT)], now=t + 4)
    review.add("t", [(_event(5, "epsilon five"), UNSURE_VERDICT)], now=t + 5)
    items = review.page("t", order="oldest")["items"]
    assert [(i["evidence"]["diagnostic"], i["count"]) for i in items] == [
        ("alpha one", 4), ("gamma three", 2), ("delta four", 2)]
    assert review.stats("t")["dropped"] == 2


def test_oldest_first_order_and_evidence_that_differs_only_in_addresses_and_ids(redis_client):
    from store.keys import Keys

    review = Review(redis_client, Keys("rb"))
    t = 1_800_000_000
    review.add("t", [(_event(0, "Mailbox <a0@example.org> frobbed, id 7F3A9C21B"), UNSURE_VERDICT)], now=t + 5)
    review.add("t", [(_event(1, "Mailbox <zz@other.net> frobbed, id 11BB22CC3"), UNSURE_VERDICT)], now=t + 9)
    review.add("t", [(_event(2, "something else entirely"), UNSURE_VERDICT)], now=t + 7)
    items = review.page("t")["items"]
    assert [(i["count"], i["first_seen"]) for i in items] == [(2, "2027-01-15T08:00:05Z"),
                                                              (1, "2027-01-15T08:00:07Z")]
    assert [e["address"] for e in items[0]["examples"]] == ["a0@example.org", "a1@example.org"]


def test_a_verdict_that_needs_no_review_is_not_queued(redis_client):
    from store.keys import Keys

    review = Review(redis_client, Keys("rb"))
    sure = Verdict.of("userunknown", confidence=0.97, source="rule")
    assert review.add("t", [(_event(0, "550 5.1.1 no such user"), sure), (_event(1, "x"), None)]) == 0
    assert review.stats("t")["open"] == 0


@pytest.mark.parametrize("reason", ["", "UserUnknown", "nonexistent_account"])
def test_labels_must_be_fine_reasons(api, reason):
    api.post("/v1/events", json=batch())
    item = api.get("/v1/review").json()["items"][0]
    assert api.post(f"/v1/review/{item['id']}", json={"reason": reason}).status_code == 400


DSN = b"""From: MAILER-DAEMON@mx.example.net
To: bounces@sender.example.com
Subject: Undelivered Mail Returned to Sender
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <dsn-1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered to two recipients.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ann@example.org
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 Grault garply waldo fred

Final-Recipient: rfc822; bob@example.org
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 Grault garply waldo fred

--b1--
"""


def test_a_raw_bounce_is_queued_with_its_raw_payload_reference_and_never_its_body(api):
    r = api.post(f"/v1/inbound/{api.tenant}", data=DSN, headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 200, r.text
    assert {x["review_reason"] for x in r.json()["recipients"]} == {"unknown"}
    [item] = api.get("/v1/review").json()["items"]
    assert item["count"] == 2 and item["evidence"]["diagnostic"].endswith("Grault garply waldo fred")
    refs = {e["raw_ref"] for e in item["examples"]}
    assert len(refs) == 1 and {e["address"] for e in item["examples"]} == {"ann@example.org", "bob@example.org"}
    history = api.get("/v1/recipients/ann@example.org/history").json()["events"]
    assert history[0]["raw_ref"] in refs
    assert b"could not be delivered" not in orjson.dumps(item)
    # the reference resolves, for the analyst who wants to see the message itself
    raw = api.get(f"/v1/raw/{refs.pop()}")
    assert raw.status_code == 200 and raw.json()["payload"].encode() == DSN


def test_items_are_queued_after_redis_forgot_the_script(api, redis_client):
    api.post("/v1/events", json=[bounce(1, UNSURE)])
    redis_client.script_flush()
    assert api.post("/v1/events", json=[bounce(2, UNSURE), bounce(3, OTHER_UNSURE)]).status_code == 200
    assert sorted(i["count"] for i in api.get("/v1/review").json()["items"]) == [1, 2]


def test_review_list_from_the_shell(api, redis_url):
    from click.testing import CliRunner

    from webhook.cli import main

    api.post("/v1/events", json=batch())
    out = CliRunner().invoke(main, ["review", "list", api.tenant, "--limit", "1"],
                             env={"REBOUND_REDIS_URL": redis_url})
    assert out.exit_code == 0, out.output
    [line] = out.stdout.splitlines()
    assert orjson.loads(line)["count"] == 30
    assert CliRunner().invoke(main, ["review", "list", "nobody"], env={"REBOUND_REDIS_URL": redis_url}).exit_code == 2


def test_a_full_queue_drops_the_least_frequent_and_oldest_items(redis_url):
    """Over its bound, the queue sheds what nobody has seen again: the least frequent items,
    the oldest of equals first (review.lua names every key it drops, as a cluster needs)."""
    from store import Store, connect

    store = Store(connect(redis_url), review_max=3)
    tenant = "bounded"
    phrases = [f"Zork{n} frobozz magic {n}" for n in range(5)]
    events = []
    for n, phrase in enumerate(phrases):                  # phrase n brought by n + 1 events
        events += [Event(tenant=tenant, recipient=f"p{n}.{k}@example.org", kind=Kind.BOUNCE, provider="api",
                         event_id=f"z{n}-{k}", time=datetime(2026, 11, 1, n, tzinfo=UTC), reply_code="550",
                         diagnostic=phrase) for k in range(n + 1)]
    unsure = Verdict.of("onhold", confidence=0.0, source="rule", explanation=["nothing known"], review="unknown")
    store.review.add(tenant, [(e, unsure) for e in events], now=1_700_000_000)
    kept = [i["count"] for i in store.review.page(tenant, order="count")["items"]]
    assert kept == [5, 4, 3]
    assert store.review.stats(tenant)["dropped"] == 2
