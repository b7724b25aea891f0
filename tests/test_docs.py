"""Documentation that users copy from must not drift from the code."""
from __future__ import annotations

import re
from pathlib import Path

from webhook.settings import Settings

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def test_readme_configuration_table_lists_every_setting_with_its_default_and_meaning():
    text = README.read_text("utf-8")
    table = re.search(r"<!-- config-table:start -->(.*)<!-- config-table:end -->", text, re.S).group(1)
    rows = {name: (default, meaning) for name, default, meaning
            in re.findall(r"^\| `(REBOUND_[A-Z_]+)` \| `([^`]*)` \| (.*) \|$", table, re.M)}
    assert rows == {name: (default, meaning) for name, default, meaning in Settings.describe()}


def test_openapi_describes_the_api(app):
    doc = app.test_client().get("/openapi.json").get_json()
    assert {"/v1/events", "/v1/recipients/{address}", "/v1/recipients/check",
            "/v1/suppressions/{address}", "/v1/classify", "/v1/review", "/v1/review/{item_id}",
            "/v1/review/labels", "/v1/raw/{ref}"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["tenant_key"]["scheme"] == "bearer"


def test_redis_cluster_claims_match_the_code(app, api):
    """The keys of each atomic step share a hash slot (what running on a cluster needs: the
    tests also check every multi-key command, tests/cluster.py), and the README documents
    the cluster URL the settings accept."""
    from redis.crc import key_slot

    from webhook.settings import Settings

    store = app.extensions["rebound"].store
    for address in ("a@example.org", "zz.top@example.net", "x+tag@sub.example.com"):
        cmd = store.ingest.command(api.tenant, address, "digest", [], b"", "0")
        assert cmd[0] == "EVALSHA" and cmd[2] == 3
        assert len({key_slot(k.encode()) for k in cmd[3:6]}) == 1, cmd[3:6]
        shared = store.platform.bounce_command(address, api.tenant, 0, "userunknown", None)
        assert shared[2] == 1
    review = store.review._keys(api.tenant) + [store.keys.review_item(api.tenant, "0" * 16)]
    assert len({key_slot(k.encode()) for k in review}) == 1
    flat = " ".join(README.read_text("utf-8").split())
    assert "Redis Cluster is not supported yet" not in flat
    url = re.search(r"REBOUND_REDIS_URL='(redis\+cluster://[^']+)'", flat).group(1)
    assert Settings(redis_url=url).redis_url == url


def test_the_tour_works_with_the_examples(api):
    """The README's tour posts the files of examples/ (written by us): each does what the
    tour says it does."""
    examples = REPO / "examples"
    event = (examples / "event.json").read_bytes()
    r = api.post("/v1/events", data=event, headers={"Content-Type": "application/json"})
    assert r.json() == {"accepted": 1, "duplicates": 0}
    r = api.post(f"/v1/inbound/{api.tenant}", data=(examples / "bounce.eml").read_bytes(),
                 headers={"Content-Type": "message/rfc822"})
    [found] = r.json()["recipients"]
    assert found["recipient"] == "carl@example.org" and found["reason"] == "userunknown"
    api.put("/v1/providers/postmark", json={"credentials": {"username": "pm", "password": "s3cret"}})
    r = api.session.post(f"{api.base}/v1/webhooks/postmark/{api.tenant}", auth=("pm", "s3cret"),
                         data=(examples / "postmark-bounce.json").read_bytes(),
                         headers={"Content-Type": "application/json", "Authorization": None})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    for address in ("ann@example.org", "carl@example.org", "dora@example.org"):
        assert api.get(f"/v1/recipients/{address}").json()["sendable"] is False, address
