"""The SMTP/LMTP listener, driven by smtplib: routing by return path (plain, VERP, signed),
answers only once stored, refusals with the codes an MTA acts on."""
from __future__ import annotations

import smtplib

import pytest

from tests.webhook.intake.messages import dsn, not_a_report
from webhook.intake import verp


def send(server, rcpts, message: bytes, sender: str = "") -> dict:
    """One SMTP transaction; {recipient: (code, text)} for refused recipients, plus the DATA reply."""
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as s:
        s.ehlo("mta.sender.example")
        code, text = s.mail(sender)
        assert code == 250, text
        refused = {}
        for r in [rcpts] if isinstance(rcpts, str) else rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                refused[r] = (code, text.decode())
        if len(refused) == len([rcpts] if isinstance(rcpts, str) else rcpts):
            return {"refused": refused, "data": None}
        code, text = s.data(message)
        return {"refused": refused, "data": (code, text.decode())}


@pytest.fixture
def acme(api, store):
    store.return_paths.add(api.tenant, "bounces@bounce.acme.test", "verp")
    store.return_paths.add(api.tenant, "rp@bounce.acme.test", "plain")
    return api


def test_a_verp_bounce_is_stored_before_250_and_suppresses(smtp, acme):
    rp = verp.verp_address("bounces@bounce.acme.test", "ann@example.org")
    assert rp == "bounces+ann=example.org@bounce.acme.test"
    got = send(smtp, rp, dsn("ann@example.org", rp))
    assert got["data"][0] == 250 and "1 new" in got["data"][1]
    # 250 means stored: the answer is there at once
    answer = acme.get("/v1/recipients/ann@example.org").json()
    assert [r["code"] for r in answer["reasons"]] == ["previously_bounced"]
    [entry] = acme.get("/v1/recipients/ann@example.org/history").json()["events"]
    assert entry["extra"]["return_path"] == {"rcpt": rp, "format": "verp", "recipient": "ann@example.org"}
    assert entry["extra"]["via"] == "smtp" and entry["status"] == "5.1.1"


def test_the_verp_recipient_wins_when_the_report_names_none(smtp, acme):
    rp = verp.verp_address("bounces@bounce.acme.test", "bob@example.org")
    got = send(smtp, rp, dsn(None, rp, diagnostic="550 5.1.1 mailbox unavailable: user unknown"))
    assert got["data"][0] == 250, got
    assert [r["code"] for r in acme.get("/v1/recipients/bob@example.org").json()["reasons"]] == ["previously_bounced"]


def test_the_reports_own_recipient_stays_with_the_verp_one_beside_it(smtp, acme):
    rp = verp.verp_address("bounces@bounce.acme.test", "carl@example.org")
    send(smtp, rp, dsn("carl.forwarded@example.net", rp))
    [entry] = acme.get("/v1/recipients/carl.forwarded@example.net/history").json()["events"]
    assert entry["extra"]["return_path"]["recipient"] == "carl@example.org"


def test_a_plain_bounce_address(smtp, acme):
    got = send(smtp, "rp@bounce.acme.test", dsn("dora@example.org", "rp@bounce.acme.test"))
    assert got["data"][0] == 250
    assert acme.get("/v1/recipients/dora@example.org").json()["sendable"] is False


def test_no_open_relay_and_no_unknown_addresses(smtp, acme):
    got = send(smtp, ["victim@gmail.example", "nobody@bounce.acme.test"], b"Subject: x\r\n\r\nx\r\n")
    assert got["refused"]["victim@gmail.example"][0] == 550 and "5.7.1" in got["refused"]["victim@gmail.example"][1]
    assert got["refused"]["nobody@bounce.acme.test"][0] == 550 and "5.1.1" in got["refused"]["nobody@bounce.acme.test"][1]
    assert got["data"] is None


def test_a_message_that_is_not_a_report_is_refused_with_554(smtp, acme, store):
    got = send(smtp, "rp@bounce.acme.test", not_a_report("rp@bounce.acme.test"))
    assert got["data"][0] == 554 and "5.6.0" in got["data"][1]
    assert store.r.keys(f"rb:t:{{{acme.tenant}.*") == []


def test_size_is_announced_and_enforced(smtp, acme):
    limit = smtp.settings.max_body_bytes
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as s:
        s.ehlo("mta.sender.example")
        assert int(s.esmtp_features["size"]) == limit
        code, _ = s.mail("", [f"SIZE={limit + 1}"])
        assert code == 552
    big = dsn("erin@example.org", "rp@bounce.acme.test", pad=limit + 100)
    got = send(smtp, "rp@bounce.acme.test", big)
    assert got["data"][0] == 552
    assert acme.get("/v1/recipients/erin@example.org").json()["sendable"] is True


def test_the_same_message_twice_counts_once(smtp, acme):
    message = dsn("fred@example.org", "rp@bounce.acme.test", message_id="same-1")
    assert "1 new" in send(smtp, "rp@bounce.acme.test", message)["data"][1]
    assert "0 new, 1 known" in send(smtp, "rp@bounce.acme.test", message)["data"][1]


# -- signed return paths ------------------------------------------------------------------

@pytest.fixture
def signed(api, store):
    route, key = store.return_paths.add(api.tenant, "b@bounce.acme.test", "signed")
    assert key is not None and route.format == "signed"
    return key


def test_a_signed_return_path_that_verifies(smtp, api, signed):
    rp = verp.sign(signed, "b@bounce.acme.test", "gina@example.org", "campaign-7/msg-42")
    assert len(rp.split("@")[0]) < 80
    got = send(smtp, rp, dsn("gina@example.org", rp))
    assert got["data"][0] == 250 and "1 new" in got["data"][1]
    [entry] = api.get("/v1/recipients/gina@example.org/history").json()["events"]
    assert entry["extra"]["return_path"] == {"rcpt": rp, "format": "signed", "recipient": "gina@example.org",
                                             "message": "campaign-7/msg-42", "verified": True}
    assert api.get("/v1/recipients/gina@example.org").json()["sendable"] is False


@pytest.mark.parametrize("how", ["forged", "other-key", "names-someone-else", "bare"])
def test_a_signed_return_path_that_does_not_verify_is_held_never_applied(smtp, api, store, signed, how):
    victim = "hank@example.org"
    if how == "forged":
        good = verp.sign(signed, "b@bounce.acme.test", "mallory@example.net")
        token = good.split("@")[0][2:]
        rp = "b-" + token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb") + "@bounce.acme.test"
    elif how == "other-key":
        rp = verp.sign(b"k" * 32, "b@bounce.acme.test", victim)
    elif how == "names-someone-else":
        rp = verp.sign(signed, "b@bounce.acme.test", "mallory@example.net")   # a token of their own
    else:
        rp = "b@bounce.acme.test"
    store.return_paths.add(api.tenant, "b@bounce.acme.test", "signed")        # the bare address is routed too
    got = send(smtp, rp, dsn(victim, rp))
    assert got["data"][0] == 250                                              # nothing tells a forger
    assert api.get(f"/v1/recipients/{victim}").json()["sendable"] is True
    assert api.get(f"/v1/recipients/{victim}/history").json()["events"] == []
    [held] = store.held.list(api.tenant)
    assert held["rcpt"] == rp and held["via"] == "smtp" and held["recipients"][0]["recipient"] == victim
    assert store.raw.body(api.tenant, held["raw_ref"]).startswith(b"Date:")


def test_an_expired_token_is_held(smtp, api, store, signed):
    import time

    rp = verp.sign(signed, "b@bounce.acme.test", "ivy@example.org", now=time.time() - 31 * 86400)
    send(smtp, rp, dsn("ivy@example.org", rp))
    [held] = store.held.list(api.tenant)
    assert "31 days ago" in held["reason"]
