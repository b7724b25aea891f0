"""invalid_domain from DNS, against a real authoritative DNS server on loopback (tests/dns_server.py)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest


CASES = {
    "ann@mx.test": None,                 # MX
    "ann@a-only.test": None,             # no MX, an A record: the implicit MX
    "ann@aaaa-only.test": None,          # no MX, an AAAA record
    "ann@d7.bulk.test": None,            # MX through a wildcard
    "ann@nullmx.test": "null_mx",        # RFC 7505
    "ann@txt-only.test": "no_mail",      # exists, no MX, no A/AAAA
    "ann@nothing.test": "nxdomain",
    "ann@x.slow.test": None,             # never answered: a timeout never makes it unsendable
}


@pytest.fixture
def settings(dns_settings):
    return dns_settings


def test_every_dns_case_in_one_bulk_check(api, dns_server):
    started = time.monotonic()
    r = api.post("/v1/recipients/check", json={"addresses": list(CASES), "stream": "transactional"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    for answer, (address, expected) in zip(r.json()["results"], CASES.items()):
        assert answer["address"] == address
        if expected is None:
            assert answer["sendable"] is True, answer
        else:
            [why] = answer["reasons"]
            assert why["code"] == "invalid_domain" and why["evidence"]["dns"] == expected, answer
            assert why["scope"] == f"domain:{address.split('@')[1]}" and why["evidence"]["source"] == "dns"
    # the timing-out domain is waited for once, concurrently with the rest, never per address
    assert elapsed < 0.5 * 4


def test_verdicts_are_cached_with_their_own_time_to_live(api, dns_server, redis_client, app):
    api.post("/v1/recipients/check", json={"addresses": ["a@nullmx.test", "b@mx.test", "c@x.slow.test"]})
    asked = dns_server.count("nullmx.test"), dns_server.count("mx.test")
    for _ in range(3):
        assert api.get("/v1/recipients/z@nullmx.test").json()["sendable"] is False
        assert api.get("/v1/recipients/z@mx.test").json()["sendable"] is True
    assert (dns_server.count("nullmx.test"), dns_server.count("mx.test")) == asked
    s = app.extensions["rebound"].settings
    ttl = {d: redis_client.ttl(f"rb:p:{{dns}}:{d}") for d in ("nullmx.test", "mx.test", "x.slow.test")}
    assert s.dns_negative_cache_seconds - 5 < ttl["nullmx.test"] <= s.dns_negative_cache_seconds
    assert s.dns_cache_seconds - 5 < ttl["mx.test"] <= s.dns_cache_seconds
    assert 0 < ttl["x.slow.test"] <= 60                     # a timeout is retried soon


def test_a_domain_that_starts_accepting_mail_is_sendable_once_its_verdict_expires(api, dns_server, app):
    assert api.get("/v1/recipients/a@later.test").json()["reasons"][0]["evidence"]["dns"] == "nxdomain"
    dns_server.add("later", "MX", "10 mail.mx.test.")
    try:
        app.extensions["rebound"].store.dns.forget("later.test")          # what the negative TTL does
        assert api.get("/v1/recipients/a@later.test").json()["sendable"] is True
    finally:
        dns_server.remove("later")


HOST = "550 5.1.2 Host or domain name not found. Name service error for name=mx.test type=MX: Host not found"


def test_a_bounce_for_a_broken_domain_holds_until_dns_says_it_is_fixed(api):
    old = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat()
    fresh = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    api.post("/v1/events", json=[
        {"id": "1", "type": "bounce", "recipient": "x@mx.test", "status": "5.1.2", "time": old, "diagnostic": HOST},
        {"id": "2", "type": "bounce", "recipient": "y@mx.test", "status": "5.1.2", "time": fresh, "diagnostic": HOST},
        {"id": "3", "type": "bounce", "recipient": "z@nothing.test", "status": "5.1.2", "time": old,
         "diagnostic": HOST},
    ])
    # past the recheck age (7 days) DNS has the last word: mx.test has an MX again
    assert api.get("/v1/recipients/x@mx.test").json()["sendable"] is True
    [why] = api.get("/v1/recipients/y@mx.test").json()["reasons"]
    assert why["code"] == "invalid_domain" and why["evidence"]["reason"] == "hostunknown"
    reasons = api.get("/v1/recipients/z@nothing.test").json()["reasons"]
    assert [r["evidence"].get("source") for r in reasons] == ["dns", None]       # DNS and the bounce
    # lifting the bounce leaves what DNS says
    r = api.delete("/v1/suppressions/z@nothing.test", json={"note": "customer says it works"})
    assert r.json()["lifted"] == ["invalid_domain"] and r.json()["still"] == ["invalid_domain"]


def test_an_answer_too_big_for_udp_is_fetched_over_tcp(api, dns_server):
    before = dns_server.tcp_queries()
    assert api.get("/v1/recipients/a@big.test").json()["sendable"] is True
    assert dns_server.tcp_queries() > before


def test_a_resolver_that_fails_its_canary_is_not_trusted(make_settings, redis_url, dns_server):
    from webhook import create_app

    app = create_app(make_settings(redis_url, dns_checks=True, dns_nameservers=dns_server.nameserver,
                                   dns_timeout=0.5, dns_canary="no-such-canary.test"))
    [answer] = app.extensions["rebound"].store.check("t", ["a@nothing.test"])
    assert answer.sendable


def test_a_dead_nameserver_never_makes_an_address_unsendable(make_settings, redis_url, dns_server):
    from webhook import create_app

    app = create_app(make_settings(redis_url, dns_checks=True, dns_nameservers=dns_server.dead_nameserver,
                                   dns_timeout=0.3, dns_canary="canary.test"))
    answers = app.extensions["rebound"].store.check("t", ["a@nothing.test", "b@mx.test"])
    assert [a.sendable for a in answers] == [True, True]


def test_the_checks_can_be_turned_off(make_settings, redis_url, dns_server):
    from webhook import create_app

    app = create_app(make_settings(redis_url, dns_checks=False, dns_nameservers=dns_server.nameserver))
    [answer] = app.extensions["rebound"].store.check("t", ["a@nothing.test"])
    assert answer.sendable


def test_the_policy_decides_the_streams(api):
    api.patch("/v1/policy", json={"streams": {"invalid_domain": ["marketing"]}})
    assert api.get("/v1/recipients/a@nothing.test?stream=transactional").json()["sendable"] is True
    assert api.get("/v1/recipients/a@nothing.test?stream=marketing").json()["sendable"] is False


@pytest.mark.parametrize("spec, parsed", [
    ("127.0.0.1", [("127.0.0.1", 53)]),
    ("127.0.0.1:5300, [::1]:5301, ::1", [("127.0.0.1", 5300), ("::1", 5301), ("::1", 53)]),
])
def test_nameserver_setting(spec, parsed):
    from store.dns import parse_nameservers

    assert parse_nameservers(spec) == parsed


def test_a_bad_nameserver_setting_is_refused_at_start():
    from webhook.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="REBOUND_DNS_NAMESERVERS"):
        Settings.from_env({"REBOUND_DNS_NAMESERVERS": "127.0.0.1:fifty-three"})


@pytest.mark.parametrize("order", [1, -1])
def test_one_import_for_two_domains_is_judged_per_domain(app, api, order):
    """Records one import wrote are the same bytes and are judged once per check, except
    where the answer depends on the address's domain: the same old invalid_domain holds for
    a domain that is still broken and not for one that DNS says is fixed."""
    old = int((datetime.now(timezone.utc) - timedelta(days=8)).timestamp())
    store = app.extensions["rebound"].store
    rows = [{"address": a, "code": "invalid_domain", "since": old} for a in ("p@mx.test", "q@nothing.test")]
    assert store.suppressions.import_rows(api.tenant, rows, actor="test", import_id="i1") == 2
    asked = ["p@mx.test", "q@nothing.test"][::order]
    results = {x["address"]: x for x in api.post("/v1/recipients/check", json={"addresses": asked}).json()["results"]}
    assert results["p@mx.test"]["sendable"] is True
    reasons = results["q@nothing.test"]["reasons"]
    assert [(r["code"], r["evidence"].get("source") or r["evidence"].get("import")) for r in reasons] == \
        [("invalid_domain", "dns"), ("invalid_domain", "i1")]
