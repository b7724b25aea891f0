"""The policy over HTTP and from the CLI; what engagement events cost; the address's state."""
from __future__ import annotations

import json

from tests.cli import run


def test_get_put_patch_policy(api, make_tenant):
    body = api.get("/v1/policy").json()
    assert body["overrides"] == {} and body["policy"]["bounces"]["mailbox_full"]["for_days"] == 7

    r = api.patch("/v1/policy", json={"frequency_cap": {"per_month": {"marketing": 8}}, "sharing": {"receive": True}})
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["frequency_cap"]["per_month"] == {"marketing": 8, "transactional": None}
    r = api.patch("/v1/policy", json={"sharing": None})           # RFC 7396: null restores the default
    assert r.json()["overrides"] == {"frequency_cap": {"per_month": {"marketing": 8}}}
    assert r.json()["policy"]["sharing"]["receive"] is False

    # PUT replaces; there null is a value: a mailbox_full suppression that never expires
    r = api.put("/v1/policy", json={"bounces": {"mailbox_full": {"for_days": None, "escalate": None}}})
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["bounces"]["mailbox_full"]["for_days"] is None
    assert r.json()["policy"]["frequency_cap"]["per_month"]["marketing"] is None
    assert make_tenant("Other").get("/v1/policy").json()["overrides"] == {}    # per tenant


def test_invalid_policies_are_refused_and_change_nothing(api):
    for bad, mentions in [
        ({"bounces": {"sender_blocked": {"suppress": "previously_bounced"}}}, "never suppress a recipient"),
        ({"bounces": {"mailbox_full": {"suppress": "mailbox_ful"}}}, "unknown suppression reason"),
        ({"bounces": {"mailbox_full": {"suppress": "role_address"}}}, "not stored per address"),
        ({"streams": {"manual": ["sms"]}}, "streams.manual"),
        ({"frequency_cap": {"per_month": {"marketing": 0}}}, "at least 1"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"typo": 1}, "typo"),
    ]:
        r = api.patch("/v1/policy", json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"] == "invalid_policy"
        assert mentions in r.text, (mentions, r.text)
    assert api.get("/v1/policy").json()["overrides"] == {}


def test_policy_cli_show_set_unset(api, redis_url):
    env = {"REBOUND_REDIS_URL": redis_url}
    p = run(["policy", "set", api.tenant, "frequency_cap.per_month.marketing=4", "sharing.receive=true",
             'streams.role_address=["marketing","transactional"]'], env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["sharing"] == {"receive": True}
    shown = json.loads(run(["policy", "show", api.tenant], env=env).stdout)
    assert shown["frequency_cap"]["per_month"]["marketing"] == 4
    assert shown["streams"]["role_address"] == ["marketing", "transactional"]
    assert api.get("/v1/recipients/info@example.org?stream=transactional").json()["sendable"] is False

    bad = run(["policy", "set", api.tenant, "bounces.mailbox_full.within_days=-1"], env=env)
    assert bad.returncode != 0 and "bounces.mailbox_full.within_days" in bad.stderr
    assert "Traceback" not in bad.stderr

    p = run(["policy", "unset", api.tenant, "frequency_cap", "sharing"], env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(run(["policy", "show", api.tenant, "--overrides"], env=env).stdout) == {
        "streams": {"role_address": ["marketing", "transactional"]}}
    assert run(["policy", "show", "nobody"], env=env).returncode != 0


def test_engagement_events_are_history_not_records_unless_the_policy_counts_them(api, redis_client):
    events = [{"id": f"{k}-1", "type": k, "recipient": "fan@example.org", "message_id": "m1"}
              for k in ("send", "delivered", "open", "click")]
    assert api.post("/v1/events", json=events).json() == {"accepted": 4, "duplicates": 0}
    assert api.post("/v1/events", json=events).json() == {"accepted": 0, "duplicates": 4}   # ESP retries
    assert not [k for k in redis_client.scan_iter("rb:t:*:r")]          # no per-address record
    history = api.get("/v1/recipients/fan@example.org/history").json()["events"]
    assert [e["kind"] for e in history] == ["click", "open", "delivered", "send"]


def test_a_delivery_that_lifts_a_suppression_says_so_in_the_history(api):
    full = [{"id": f"f{i}", "type": "bounce", "recipient": "box@example.org", "status": "4.2.2",
             "diagnostic": "452 4.2.2 Mailbox full, quota exceeded"} for i in range(3)]
    api.post("/v1/events", json=full)
    delivered = {"id": "d1", "type": "delivered", "recipient": "box@example.org"}
    api.post("/v1/events", json=[delivered, dict(delivered, id="d2")])
    events = api.get("/v1/recipients/box@example.org/history").json()["events"]
    assert [(e["id"], e["fx"]) for e in events[:3]] == [("d2", []), ("d1", ["-mailbox_full"]),
                                                       ("f2", ["+mailbox_full"])]


def test_history_shows_the_counters_behind_the_thresholds(api):
    api.patch("/v1/policy", json={"frequency_cap": {"per_month": {"marketing": 10}}, "low_engagement": {"after_sends": 5}})
    api.post("/v1/events", json=[
        {"id": "b1", "type": "bounce", "recipient": "s@example.org", "status": "4.2.2",
         "diagnostic": "452 4.2.2 Mailbox full, quota exceeded"},
        {"id": "s1", "type": "send", "recipient": "s@example.org", "stream": "marketing"},
        {"id": "s2", "type": "send", "recipient": "s@example.org", "stream": "marketing"},
    ])
    state = api.get("/v1/recipients/s@example.org/history").json()["state"]
    assert len(state["bounces"]["mailbox_full"]) == 1
    assert state["messages_this_month"]["marketing"]["count"] == 2
    assert state["sends_without_engagement"]["marketing"]["count"] == 2


def test_a_send_without_a_message_id_and_its_duplicate_count_once(api):
    api.patch("/v1/policy", json={"frequency_cap": {"per_month": {"marketing": 2}}})
    send = {"id": "s1", "type": "send", "recipient": "d@example.org", "stream": "marketing"}
    api.post("/v1/events", json=[send, send, send])
    assert api.get("/v1/recipients/d@example.org?stream=marketing").json()["sendable"] is True
