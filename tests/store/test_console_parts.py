"""What the console adds to the store, against a real Redis: per-day counters that count
each event once, an undo that takes back only its own label, keys listed and revoked by id."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classifier import Classifier, Event, Kind
from classifier.verdict import Verdict
from store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
ONHOLD = Verdict("onhold", "unknown", False, 0.2, "combined", ("nothing matched",), "unknown")


@pytest.fixture
def store(redis_client):
    s = Store(redis_client)
    s.tenants.create("t")
    return s


def event(i: int, kind=Kind.BOUNCE, days: int = 0, text: str = "550 5.1.1 user unknown", **kw) -> Event:
    return Event(tenant="t", recipient=f"a{i}@example.org", kind=kind, provider="api", event_id=f"e{i}",
                 time=NOW - timedelta(days=days), diagnostic=text, **kw)


def test_daily_counts_each_new_event_once_by_its_day_and_the_suppressions_it_made(store):
    c = Classifier()
    events = [event(1, status="5.1.1"), event(2, days=2, status="5.1.1"),
              event(3, text="452 4.2.2 mailbox full", status="4.2.2"), event(4, Kind.DELIVERED),
              event(5, Kind.COMPLAINT, feedback_type="abuse")]
    pairs = [(e, c.classify(e.evidence())) for e in events]
    store.apply("t", pairs)
    store.apply("t", pairs)                                  # an ESP's retry: duplicates
    days = {d["date"]: d for d in store.daily.series("t", 3)}
    today, two_ago = days[NOW.date().isoformat()], days[(NOW - timedelta(days=2)).date().isoformat()]
    assert today["kinds"] == {"bounce": 2, "delivered": 1, "complaint": 1}
    assert today["hard"] == 1 and today["soft"] == 1
    assert today["categories"] == {"nonexistent_account": 1, "mailbox_full": 1}
    assert two_ago["kinds"] == {"bounce": 1} and two_ago["hard"] == 1
    # suppressions are counted on the day they were made: today, for the old bounce too
    assert today["added"] == {"previously_bounced": 2, "previous_spam": 1}

    store.suppressions.unsuppress("t", "a1@example.org", actor="key:x", note="fixed", policy=store.policy("t"))
    store.suppressions.suppress("t", "z@example.org", actor="key:x", note="asked")
    today = store.daily.series("t", 1)[0]
    assert today["lifted"] == {"previously_bounced": 1} and today["added"]["manual"] == 1


def test_undo_reopens_the_item_unless_its_label_changed_since(store):
    store.review.add("t", [(event(1, text="Grault garply"), ONHOLD), (event(2, text="Grault garply"), ONHOLD)])
    [item] = store.review.page("t")["items"]
    first = store.review.label("t", item["id"], reason="mailboxfull", actor="key:a")["label"]
    assert store.review.stats("t")["open"] == 0
    reopened = store.review.unlabel("t", item["id"], first)
    assert reopened["status"] == "open" and reopened["label"] is None and reopened["count"] == 2
    assert store.review.page("t", order="count")["items"][0]["id"] == item["id"]
    assert list(store.review.training_records("t")) == []
    # somebody else labels it since: an undo of the old label takes nothing back
    store.review.label("t", item["id"], reason="mailboxfull", actor="key:a")
    store.review.label("t", item["id"], reason="userunknown", actor="key:b")
    assert store.review.unlabel("t", item["id"], first) is None
    assert store.review.get("t", item["id"])["label"]["reason"] == "userunknown"


def test_keys_are_listed_and_revoked_by_id(store):
    key = store.tenants.add_key("t")
    [first, second] = store.tenants.list_keys("t")
    assert store.tenants.resolve(key).key_id in (first["id"], second["id"])
    assert store.tenants.revoke_key_id("t", store.tenants.resolve(key).key_id) is True
    assert store.tenants.resolve(key) is None
    assert len(store.tenants.list_keys("t")) == 1
    assert store.tenants.revoke_key_id("other", first["id"]) is False      # another tenant's id: nothing
