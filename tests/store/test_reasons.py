"""Every suppression reason of taxonomy.md section 2: what causes it, how far it reaches, how it ends.

Through the real HTTP API on a real Redis. Times of events are placed relative to now,
because suppressions end by the wall clock.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ts(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def ago(**kw) -> str:
    return ts(NOW - timedelta(**kw))


def codes(answer: dict) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def ask(api, address: str, **params) -> dict:
    r = api.get(f"/v1/recipients/{address}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def reason(answer: dict, code: str) -> dict:
    found = [r for r in answer["reasons"] if r["code"] == code]
    assert found, f"{code} not in {codes(answer)}"
    return found[0]


def post(api, *events) -> dict:
    r = api.post("/v1/events", json=list(events))
    assert r.status_code == 200, r.text
    return r.json()


#: What receiving servers say with each status code (the classifier reads both).
DIAGNOSTICS = {
    "5.1.1": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table",
    "4.1.1": "450 4.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table",
    "5.2.2": "552 5.2.2 <{rcpt}>: Mailbox full, quota exceeded",
    "5.2.1": "550 5.2.1 The email account that you tried to reach is disabled.",
    "5.1.2": "550 5.1.2 <{rcpt}>: Host or domain name not found",
    "5.7.26": "550 5.7.26 Unauthenticated email from this domain is not accepted due to its DMARC policy",
}


def bounce(eid: str, rcpt: str, status: str, at: str | None = None, **kw) -> dict:
    return {"id": eid, "type": "bounce", "recipient": rcpt, "status": status, "time": at or ago(minutes=5),
            "diagnostic": DIAGNOSTICS[status].format(rcpt=rcpt), **kw}


def lift(api, address: str, note: str = "checked with the customer", **body):
    return api.delete(f"/v1/suppressions/{address}", json={"note": note, **body})


def policy(api, **overrides):
    r = api.patch("/v1/policy", json=overrides)
    assert r.status_code == 200, r.text
    return r.json()


# -- previously_bounced ---------------------------------------------------------------------------

def test_previously_bounced_from_a_hard_bounce_for_this_tenant_only_until_lifted(api, make_tenant, app):
    post(api, bounce("b1", "gone@example.org", "5.1.1"))
    answer = ask(api, "gone@example.org", stream="transactional")
    r = reason(answer, "previously_bounced")
    assert answer["sendable"] is False and r["scope"] == "tenant" and r["until"] is None
    assert r["evidence"]["event_id"] == "b1" and r["evidence"]["reason"] == "userunknown"
    assert ask(make_tenant("Other"), "gone@example.org")["sendable"] is True

    lifted = lift(api, "gone@example.org")
    assert lifted.status_code == 200 and lifted.json()["lifted"] == ["previously_bounced"]
    assert ask(api, "gone@example.org")["sendable"] is True
    audit = api.get("/v1/suppressions/audit").json()["entries"][0]
    assert audit["action"] == "unsuppress" and audit["note"] == "checked with the customer"
    assert audit["by"].startswith("key:") and audit["lifted"] == ["previously_bounced"]


def test_soft_unknown_user_needs_three_within_two_weeks(api):
    for i, days in enumerate((12, 6, 1)):
        assert ask(api, "flaky@example.org")["sendable"] is True
        post(api, bounce(f"s{i}", "flaky@example.org", "4.1.1", ago(days=days)))
    assert codes(ask(api, "flaky@example.org")) == ["previously_bounced"]


# -- mailbox_full -----------------------------------------------------------------------------------

def test_mailbox_full_is_temporary_and_a_delivery_ends_it(api):
    for h in (3, 2, 1):
        post(api, bounce(f"f{h}", "full@example.org", "5.2.2", ago(hours=h)))
    r = reason(ask(api, "full@example.org", stream="transactional"), "mailbox_full")
    assert r["scope"] == "tenant"
    until = datetime.fromisoformat(r["until"].replace("Z", "+00:00"))
    assert timedelta(days=6) < until - NOW < timedelta(days=7)
    post(api, {"id": "d1", "type": "delivered", "recipient": "full@example.org", "time": ago(minutes=1)})
    assert ask(api, "full@example.org")["sendable"] is True


def test_mailbox_full_expires_by_itself(api):
    for h in (3, 2, 1):
        post(api, bounce(f"f{h}", "old@example.org", "5.2.2", ago(days=8, hours=h)))
    assert ask(api, "old@example.org")["sendable"] is True


def test_mailbox_full_escalates_to_permanent_after_three_episodes(store_at):
    _, apply, check = store_at
    t0 = NOW - timedelta(days=60)
    for episode in range(3):
        start = t0 + timedelta(days=episode * 15)
        for h in range(3):
            at = start + timedelta(hours=h)
            apply(bounce(f"e{episode}{h}", "a@example.org", "5.2.2", ts(at)), now=at.timestamp())
        answer = check("a@example.org", now=(start + timedelta(hours=4)).timestamp())
        if episode < 2:
            assert codes(answer) == ["mailbox_full"]
    answer = check("a@example.org")
    assert codes(answer) == ["previously_bounced"]
    r = reason(answer, "previously_bounced")
    assert r["until"] is None and r["evidence"]["escalated"] is True


# -- account_disabled ---------------------------------------------------------------------------------

def test_account_disabled_after_two_in_thirty_days_lifted_by_a_delivery(api):
    post(api, bounce("a1", "off@example.org", "5.2.1", ago(days=20)))
    assert ask(api, "off@example.org")["sendable"] is True
    post(api, bounce("a2", "off@example.org", "5.2.1", ago(days=1)))
    assert codes(ask(api, "off@example.org", stream="transactional")) == ["account_disabled"]
    post(api, {"id": "d", "type": "delivered", "recipient": "off@example.org", "time": ago(minutes=1)})
    assert ask(api, "off@example.org")["sendable"] is True


# -- previous_spam ---------------------------------------------------------------------------------------

def test_previous_spam_blocks_marketing_at_once_and_is_lifted_by_hand(api):
    post(api, {"id": "c1", "type": "complaint", "recipient": "angry@example.org", "feedback_type": "abuse"})
    r = reason(ask(api, "angry@example.org", stream="marketing"), "previous_spam")
    assert r["scope"] == "tenant" and r["streams"] == ["marketing"] and r["until"] is None
    assert ask(api, "angry@example.org", stream="transactional")["sendable"] is True
    assert lift(api, "angry@example.org").json()["lifted"] == ["previous_spam"]
    assert ask(api, "angry@example.org", stream="marketing")["sendable"] is True


# -- unsubscribed / unsubscribed_all ---------------------------------------------------------------------

def test_unsubscribed_from_newsletter_still_allows_billing_until_resubscribed(api):
    post(api, {"id": "u1", "type": "unsubscribe", "recipient": "reader@example.org", "subscription": "Newsletter"})
    r = reason(ask(api, "reader@example.org", subscription="newsletter"), "unsubscribed")
    assert r["scope"] == "subscription:newsletter"
    assert ask(api, "reader@example.org", subscription="billing")["sendable"] is True
    # not saying which subscription a send belongs to: every opt-out counts
    assert codes(ask(api, "reader@example.org")) == ["unsubscribed"]
    post(api, {"id": "r1", "type": "resubscribe", "recipient": "reader@example.org", "subscription": "newsletter"})
    assert ask(api, "reader@example.org", subscription="newsletter")["sendable"] is True


def test_unsubscribed_all_covers_every_subscription_of_marketing(api):
    post(api, {"id": "u2", "type": "unsubscribe", "recipient": "done@example.org"})
    for sub in ("newsletter", "billing"):
        assert codes(ask(api, "done@example.org", subscription=sub, stream="marketing")) == ["unsubscribed_all"]
    assert ask(api, "done@example.org", stream="transactional")["sendable"] is True
    post(api, {"id": "r2", "type": "resubscribe", "recipient": "done@example.org"})
    assert ask(api, "done@example.org", stream="marketing")["sendable"] is True


# -- invalid_syntax --------------------------------------------------------------------------------------

@pytest.mark.parametrize("address, valid", [
    ("plain@example.org", True),
    ('"quoted local"@example.org', True),
    ("ünïcode@example.org", True),
    ("x@[192.0.2.1]", True),
    ("a..b@example.org", False),
    (".dot@example.org", False),
    ("two words@example.org", False),
    ("a@exa_mple.org", False),
    ("a@-example.org", False),
    ("a@localhost", False),
    ("a@example.123", False),
    ("x" * 65 + "@example.org", False),
    ("no-at-sign", False),
])
def test_invalid_syntax_everywhere(api, address, valid):
    r = api.post("/v1/recipients/check", json={"addresses": [address], "stream": "transactional"})
    [answer] = r.json()["results"]
    assert answer["sendable"] is valid, answer
    if not valid:
        [why] = answer["reasons"]
        assert why["code"] == "invalid_syntax" and why["scope"] == "everywhere" and why["evidence"]["error"]


# -- role_address / disposable_domain ----------------------------------------------------------------------

def test_role_address_blocks_marketing_only_and_the_policy_can_exempt_it(api):
    r = reason(ask(api, "Info+promo@Example.org", stream="marketing"), "role_address")
    assert r["evidence"]["role"] == "info" and r["scope"] == "stream:marketing"
    assert ask(api, "info@example.org", stream="transactional")["sendable"] is True
    assert ask(api, "ann@example.org", stream="marketing")["sendable"] is True
    policy(api, validation={"roles_exempt": ["info"], "roles_extra": ["ann"]})
    assert ask(api, "info@example.org", stream="marketing")["sendable"] is True
    assert codes(ask(api, "ann@example.org", stream="marketing")) == ["role_address"]


def test_disposable_domain_and_its_subdomains_for_marketing(api):
    r = reason(ask(api, "x@mailinator.com", stream="marketing"), "disposable_domain")
    assert r["evidence"]["listed"] == "mailinator.com"
    assert reason(ask(api, "x@eu.mailinator.com", stream="marketing"), "disposable_domain")["evidence"]["listed"] \
        == "mailinator.com"
    assert ask(api, "x@mailinator.com", stream="transactional")["sendable"] is True
    policy(api, streams={"disposable_domain": ["marketing", "transactional"]})
    assert codes(ask(api, "x@mailinator.com", stream="transactional")) == ["disposable_domain"]
    policy(api, validation={"disposable_exempt": ["mailinator.com"]})
    assert ask(api, "x@mailinator.com", stream="transactional")["sendable"] is True


# -- domain_blocked / platform_blocked (operator) ------------------------------------------------------------

def test_domain_blocked_by_the_operator_for_every_tenant_and_subdomain(api, make_tenant, operator):
    other = make_tenant("Other")
    assert operator.put("/v1/platform/domains/Blocked.example", json={"note": "owner asked"}).status_code == 200
    for tenant in (api, other):
        r = reason(ask(tenant, "anyone@mail.blocked.example", stream="transactional"), "domain_blocked")
        assert r["scope"] == "platform" and r["evidence"]["domain"] == "blocked.example"
    # a tenant cannot lift a platform reason
    assert lift(api, "anyone@blocked.example").status_code == 404
    assert api.put("/v1/platform/domains/x.example", json={}).status_code == 401
    r = operator.delete("/v1/platform/domains/blocked.example", json={"note": "owner changed their mind"})
    assert r.status_code == 200
    assert ask(api, "anyone@blocked.example")["sendable"] is True
    assert operator.get("/v1/platform/audit").json()["entries"][0]["action"] == "unblock_domain"


def test_platform_blocked_address_hides_whether_it_is_a_trap(api, make_tenant, operator):
    r = operator.put("/v1/platform/addresses/Trap@Example.org", json={"kind": "trap", "note": "feed X"})
    assert r.status_code == 200
    for tenant in (api, make_tenant("Other")):
        why = reason(ask(tenant, "trap@example.org", stream="transactional"), "platform_blocked")
        assert why["scope"] == "platform" and why["evidence"] == {"by": "operator"}
    assert operator.delete("/v1/platform/addresses/trap@example.org", json={"note": "retired"}).status_code == 200
    assert ask(api, "trap@example.org")["sendable"] is True


def test_operator_routes_need_the_operator_key(api, live_server):
    import requests

    assert requests.get(live_server.url + "/v1/platform/domains", timeout=10).status_code == 401
    r = requests.get(live_server.url + "/v1/platform/domains", headers={"Authorization": f"Bearer {api.key}"},
                     timeout=10)
    assert r.status_code == 401


@pytest.fixture
def complaint_app(make_settings, redis_url):
    from tests.conftest import LiveServer
    from webhook import create_app

    app = create_app(make_settings(redis_url, complaint_tenants=2))
    server = LiveServer(app)
    yield app, server
    server.stop()


def test_platform_blocked_after_complaints_at_two_tenants(complaint_app):
    from tests.conftest import Api

    app, server = complaint_app
    tenants = [Api(server.url, *app.extensions["rebound"].store.tenants.create(n)) for n in ("one", "two", "three")]
    complaint = {"id": "c", "type": "complaint", "recipient": "grumpy@example.org"}
    post(tenants[0], complaint)
    assert ask(tenants[2], "grumpy@example.org")["sendable"] is True
    post(tenants[1], complaint)
    why = reason(ask(tenants[2], "grumpy@example.org", stream="transactional"), "platform_blocked")
    assert why["evidence"] == {"complaints_at_tenants": 2}


# -- company_opted_out ---------------------------------------------------------------------------------------

def test_company_opted_out_covers_the_domain_for_this_tenant(api, make_tenant):
    assert api.put("/v1/companies/acme.example", json={"note": "legal asked"}).status_code == 200
    why = reason(ask(api, "ceo.person@eu.acme.example", stream="marketing"), "company_opted_out")
    assert why["scope"] == "domain:acme.example" and why["evidence"]["note"] == "legal asked"
    assert ask(api, "x@acme.example", stream="transactional")["sendable"] is True
    assert ask(make_tenant("Other"), "x@acme.example")["sendable"] is True
    assert api.delete("/v1/companies/acme.example", json={}).status_code == 400          # the note is required
    assert api.delete("/v1/companies/acme.example", json={"note": "contract renewed"}).status_code == 200
    assert ask(api, "x@acme.example")["sendable"] is True
    assert api.get("/v1/suppressions/audit").json()["entries"][0]["action"] == "company_opt_out_removed"


# -- globally_bounced ----------------------------------------------------------------------------------------

def allow_giver(operator, api) -> None:
    r = operator.put(f"/v1/platform/sharing/givers/{api.tenant}", json={"note": "trusted sender"})
    assert r.status_code == 200, r.text


def test_globally_bounced_is_opt_in_on_both_sides_and_a_delivery_clears_it(api, make_tenant, operator):
    giver, receiver, bystander = api, make_tenant("Receiver"), make_tenant("Bystander")
    post(giver, bounce("g0", "shared@example.org", "5.1.1"))
    assert ask(receiver, "shared@example.org")["sendable"] is True          # nobody shares yet
    allow_giver(operator, giver)
    policy(giver, sharing={"give": True})
    policy(receiver, sharing={"receive": True, "within_days": 30})
    post(giver, bounce("g1", "shared@example.org", "5.1.1"))
    answer = ask(receiver, "shared@example.org", stream="transactional")
    why = reason(answer, "globally_bounced")
    assert why["scope"] == "platform" and why["evidence"]["reason"] == "userunknown"
    assert "diagnostic" not in why["evidence"] and "event_id" not in why["evidence"]     # other tenants' data
    since = datetime.fromisoformat(why["since"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(why["until"].replace("Z", "+00:00"))
    assert until - since == timedelta(days=30)
    assert ask(bystander, "shared@example.org")["sendable"] is True
    assert codes(ask(giver, "shared@example.org")) == ["previously_bounced"]   # its own, not "global"
    post(giver, {"id": "dl", "type": "delivered", "recipient": "shared@example.org", "time": ago(seconds=1)})
    assert ask(receiver, "shared@example.org")["sendable"] is True


def test_globally_bounced_ends_after_the_window(api, make_tenant, operator):
    receiver = make_tenant("Receiver")
    allow_giver(operator, api)
    policy(api, sharing={"give": True})
    policy(receiver, sharing={"receive": True, "within_days": 10})
    post(api, bounce("old", "stale@example.org", "5.1.1", ago(days=11)))
    assert ask(receiver, "stale@example.org")["sendable"] is True


# -- unconfirmed_opt_in --------------------------------------------------------------------------------------

def test_unconfirmed_opt_in_until_confirmed(api):
    r = api.post("/v1/opt-ins", json={"addresses": ["new@example.org", "broken"]})
    assert r.json()["pending"] == 1 and r.json()["rejected"][0]["address"] == "broken"
    assert codes(ask(api, "new@example.org", stream="marketing")) == ["unconfirmed_opt_in"]
    assert ask(api, "new@example.org", stream="transactional")["sendable"] is True   # the confirmation mail
    assert api.post("/v1/opt-ins/New@example.org/confirm").json() == {"address": "new@example.org",
                                                                       "confirmed": True}
    assert ask(api, "new@example.org", stream="marketing")["sendable"] is True
    assert api.post("/v1/opt-ins/new@example.org/confirm").status_code == 404


# -- frequency_capped ----------------------------------------------------------------------------------------

def test_frequency_capped_counts_each_message_once_per_stream_and_month(api):
    policy(api, frequency_cap={"per_month": {"marketing": 3}})
    rcpt = "busy@example.org"
    for i in range(3):
        assert ask(api, rcpt, stream="marketing")["sendable"] is True
        # both the send and its delivery arrive: one message
        post(api, {"id": f"s{i}", "type": "send", "recipient": rcpt, "stream": "marketing", "message_id": f"m{i}"},
             {"id": f"d{i}", "type": "delivered", "recipient": rcpt, "stream": "marketing", "message_id": f"m{i}"})
    post(api, {"id": "t1", "type": "send", "recipient": rcpt, "stream": "transactional", "message_id": "t1"})
    why = reason(ask(api, rcpt, stream="marketing"), "frequency_capped")
    assert why["scope"] == "stream:marketing" and why["evidence"] == {"messages_this_month": 3, "cap": 3}
    until = datetime.fromisoformat(why["until"].replace("Z", "+00:00"))
    assert until.day == 1 and until.hour == 0 and until > NOW                  # the next calendar month
    assert ask(api, rcpt, stream="transactional")["sendable"] is True


def test_frequency_cap_ends_with_the_month(store_at):
    store, apply, check = store_at
    store.set_policy_overrides("t", {"frequency_cap": {"per_month": {"marketing": 2}}})
    for i in range(2):
        apply({"id": f"s{i}", "type": "send", "recipient": "a@example.org", "stream": "marketing",
               "time": ago(minutes=10 - i)})
    [why] = check("a@example.org", stream="marketing")["reasons"]
    until = datetime.fromisoformat(why["until"].replace("Z", "+00:00"))
    assert check("a@example.org", stream="marketing", now=until.timestamp())["sendable"] is True


# -- low_engagement ------------------------------------------------------------------------------------------

def test_low_engagement_marketing_only_ended_by_an_open(api):
    policy(api, low_engagement={"after_sends": 3})
    rcpt = "quiet@example.org"
    for i in range(3):
        post(api, {"id": f"s{i}", "type": "send", "recipient": rcpt, "stream": "marketing",
                   "time": ago(days=3 - i)})
        post(api, {"id": f"t{i}", "type": "send", "recipient": rcpt, "stream": "transactional",
                   "time": ago(days=3 - i)})
    why = reason(ask(api, rcpt, stream="marketing"), "low_engagement")
    assert why["evidence"]["sends_without_engagement"] == 3 and why["evidence"]["threshold"] == 3
    # transactional ignores it by default, although its sends went unopened too
    assert ask(api, rcpt, stream="transactional")["sendable"] is True
    post(api, {"id": "o1", "type": "open", "recipient": rcpt, "time": ago(minutes=1)})
    assert ask(api, rcpt, stream="marketing")["sendable"] is True


def test_low_engagement_ended_by_unsuppress(api):
    policy(api, low_engagement={"after_sends": 2})
    for i in range(2):
        post(api, {"id": f"s{i}", "type": "send", "recipient": "q@example.org", "stream": "marketing"})
    assert codes(ask(api, "q@example.org", stream="marketing")) == ["low_engagement"]
    r = lift(api, "q@example.org", codes=["low_engagement"])
    assert r.status_code == 200 and r.json()["lifted"] == ["low_engagement:marketing"]
    assert ask(api, "q@example.org", stream="marketing")["sendable"] is True


# -- manual ----------------------------------------------------------------------------------------------

def test_manual_with_a_note_a_stream_and_an_end(api):
    until = ts(NOW + timedelta(days=1))
    r = api.put("/v1/suppressions/vip@example.org", json={"note": "asked by phone", "stream": "marketing",
                                                         "until": until})
    assert r.status_code == 200 and r.json()["added"] == ["manual"]
    why = reason(ask(api, "vip@example.org", stream="marketing"), "manual")
    assert why["scope"] == "stream:marketing" and why["until"] == until and why["evidence"]["note"] == "asked by phone"
    assert ask(api, "vip@example.org", stream="transactional")["sendable"] is True


def test_manual_ends_at_its_until_or_when_lifted(store_at):
    store, _, check = store_at
    until = int((NOW + timedelta(days=2)).timestamp())
    store.suppressions.suppress("t", "a@example.org", actor="key:x", note="until Friday", until=until)
    store.suppressions.suppress("t", "b@example.org", actor="key:x", note="for good")
    assert codes(check("a@example.org", now=until - 1)) == ["manual"]
    assert check("a@example.org", now=until)["sendable"] is True
    assert store.suppressions.unsuppress("t", "b@example.org", actor="key:x", note="asked again",
                                         policy=store.policy("t")) == ["manual"]
    assert check("b@example.org")["sendable"] is True


def test_manual_until_in_the_past_is_refused(api):
    r = api.put("/v1/suppressions/vip@example.org", json={"until": ago(days=1)})
    assert r.status_code == 400


# -- sender-side failures ------------------------------------------------------------------------------------

def test_sender_side_failures_never_suppress_and_show_on_sender_health(api):
    events = [
        bounce("x1", "a@gmail.example", "5.7.26", remote_mta="mx.gmail.example"),
        bounce("x2", "b@gmail.example", "5.7.26", remote_mta="mx.gmail.example"),
        {"id": "x3", "type": "deferral", "recipient": "c@yahoo.example", "status": "4.7.28",
         "diagnostic": "421 4.7.28 too many messages", "remote_mta": "mta5.yahoo.example"},
    ]
    assert post(api, *events) == {"accepted": 3, "duplicates": 0}
    post(api, *events)                                        # a retry counts nothing twice
    for rcpt in ("a@gmail.example", "b@gmail.example", "c@yahoo.example"):
        assert ask(api, rcpt, stream="transactional")["sendable"] is True
    status = api.get("/v1/senders/status").json()
    assert status["categories"] == {"auth_failure": 2, "rate_limited": 1} and status["total"] == 3
    assert {"domain": "gmail.example", "category": "auth_failure", "count": 2} in status["by_domain"]
    assert {"remote_mta": "mta5.yahoo.example", "category": "rate_limited", "count": 1} in status["by_mta"]
    assert status["by_day"][0]["total"] == 3
    assert status["recent"][0]["diagnostic"]
    only = api.get("/v1/senders/status", params={"domain": "gmail.example"}).json()
    assert only["categories"] == {"auth_failure": 2}
    assert api.get("/v1/senders/status", params={"category": "mailbox_full"}).status_code == 400


# -- a fixture for store-level scenarios with a chosen "now" ----------------------------------------------------

@pytest.fixture
def store_at(redis_client):
    """(store, apply(json-event), check(address, now=..., stream=...)) on tenant "t", no HTTP."""
    from classifier import Classifier
    from store import Store
    from webhook.api.events import to_event
    from webhook.api.schemas import EventIn

    store = Store(redis_client)
    classifier = Classifier()

    def apply(e: dict, now: float | None = None):
        event = to_event("t", EventIn.model_validate(e), NOW)
        return store.apply("t", [(event, classifier.classify(event.evidence()))], now=now)

    def check(address: str, now: float | None = None, **kw) -> dict:
        return store.check("t", [address], now=now, **kw)[0].to_dict()

    return store, apply, check


SCREENED = ["ann@example.org", "a.b+c@sub.example.org", "x@[192.0.2.1]", "a@b@example.org",
            "mailto:ann@example.org", "<ann@example.org>", " ann@example.org", "ann@example.org.",
            "Ann@Example.org", "ann@", "@example.org", "ann\t@x.org", "a..b@example.org", "a@-x.example",
            "a@example", "x" * 65 + "@example.org", "x" * 64 + "@example.org", "a@" + "b" * 250 + ".org",
            "", "@", "plain", "a@b.c\nd@e.f", ".a@example.org", "a.@example.org", "a@example.123",
            '"a b"@example.org', "jos\u00e9@example.org", "a@b\u00fccher.example", "a@@example.org"]


def _reference(address: str) -> tuple[str | None, str | None]:
    """(normalised, error) the slow way, one address at a time."""
    from classifier.address import AddressError, normalise
    from store.validation import syntax_error

    try:
        n = normalise(address)
    except AddressError as exc:
        return None, str(exc)
    return n, syntax_error(n)


@pytest.mark.parametrize("address", SCREENED)
def test_screening_agrees_with_normalise_and_the_full_syntax_check(address):
    from store.validation import screen

    s = screen([address])
    assert (s.normalised[0], s.errors.get(0)) == _reference(address)


def test_screening_a_batch_answers_each_address_as_alone():
    """The batch shortcuts (one length check, one host check per domain) change nothing:
    every position gets what the address alone gets, its local part and domain included."""
    from store.validation import screen

    batch = SCREENED + ["bob@example.org", "Ann@Example.org", "ann@example.org"] * 3
    s = screen(batch)
    for i, address in enumerate(batch):
        n, error = _reference(address)
        assert (s.normalised[i], s.errors.get(i)) == (n, error), address
    locals_ = s.local_parts()
    for i, address in enumerate(batch):
        if i not in s.errors:
            assert f"{locals_[i]}@{s.domains[i]}" == s.normalised[i]
        else:
            assert (locals_[i], s.domains[i]) == ("", "")
    assert s.valid() == [n for i, n in enumerate(s.normalised) if i not in s.errors]
    assert s.valid_domains() == list(dict.fromkeys(d for d in s.domains if d))
