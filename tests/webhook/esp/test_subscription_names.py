"""One spelling of a subscription name everywhere: an opt-out that came in by an ESP webhook
spelled ``Newsletter `` stops a send asked about as ``newsletter`` (and the other way round)."""
from __future__ import annotations

import time

from tests.store.test_suppression_lists import all_pages
from tests.webhook.esp.conftest import MailgunSigner, SendGridSigner


def _mailgun_unsubscribe(signer, address: str, subscription: str) -> bytes:
    return signer.body({"event": "unsubscribed", "id": f"mg-{subscription}-{address}", "timestamp": time.time(),
                        "recipient": address, "user-variables": {"subscription": subscription}})


def test_esp_opt_out_matches_every_spelling(esp):
    signer = MailgunSigner()
    esp.configure("mailgun", signing_key=signer.key)
    post = esp.poster("mailgun")
    post(_mailgun_unsubscribe(signer, "ann@example.org", "Newsletter "))
    for asked in ("newsletter", "Newsletter", " NEWSLETTER ", "newsletter "):
        assert esp.codes("ann@example.org", subscription=asked) == ["unsubscribed"], asked
    assert esp.codes("ann@example.org", subscription="offers") == []
    # the listing filter and the stored scope use the same spelling
    items, _ = all_pages(esp.api, subscription="NewsLetter")
    assert [i["address"] for i in items] == ["ann@example.org"]
    assert items[0]["reasons"][0]["scope"] == "subscription:newsletter"


def test_sendgrid_group_and_api_resubscribe_are_the_same_subscription(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)
    import orjson
    body = orjson.dumps([{"email": "bob@example.org", "event": "group_unsubscribe", "asm_group_id": 42,
                          "sg_event_id": "sg-1", "timestamp": int(time.time()) - 60}])
    esp.poster("sendgrid", signer.headers)(body)
    assert esp.codes("bob@example.org", subscription=" 42") == ["unsubscribed"]
    r = esp.api.post("/v1/events", json={"id": "re-1", "type": "resubscribe", "recipient": "bob@example.org",
                                         "subscription": "42 "})
    assert r.status_code == 200, r.text
    assert esp.codes("bob@example.org", subscription="42") == []


def test_bad_names_are_a_clear_400(api):
    for bad in ("news letter!", "x" * 70, "café"):
        r = api.put("/v1/suppressions/c@example.org", json={"code": "unsubscribed", "subscription": bad})
        assert r.status_code == 400 and "subscription name" in r.text, (bad, r.text)
        r = api.get("/v1/recipients/c@example.org", params={"subscription": bad})
        assert r.status_code == 400 and "subscription name" in r.text, (bad, r.text)
    r = api.put("/v1/suppressions/c@example.org", json={"code": "unsubscribed", "subscription": "Weekly  News"})
    assert r.status_code == 200, r.text
    reasons = api.get("/v1/recipients/c@example.org", params={"subscription": "weekly news"}).json()["reasons"]
    assert [x["scope"] for x in reasons] == ["subscription:weekly-news"]


def test_cli_takes_the_same_spelling(api, redis_url):
    from tests.cli import run

    env = {"REBOUND_REDIS_URL": redis_url}
    assert api.put("/v1/suppressions/d@example.org",
                   json={"code": "unsubscribed", "subscription": "Offers"}).status_code == 200
    p = run(["check", api.tenant, "d@example.org", "--subscription", " OFFERS "], env=env)
    assert p.returncode == 0 and '"unsubscribed"' in p.stdout, p.stderr
    p = run(["check", api.tenant, "d@example.org", "--subscription", "bad name!"], env=env)
    assert p.returncode == 2 and "subscription name" in p.stderr and "Traceback" not in p.stderr, p.stderr
