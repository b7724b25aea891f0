"""Listing (cursor pagination, filters), CSV import and export, over HTTP and from the CLI."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.cli import run


def suppress(api, address: str, **body):
    r = api.put(f"/v1/suppressions/{address}", json=body)
    assert r.status_code == 200, r.text


def all_pages(api, **params) -> tuple[list[dict], int]:
    items, pages, cursor = [], 0, None
    while True:
        r = api.get("/v1/suppressions", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            return items, pages


def import_csv(api, text: str, **params):
    return api.post("/v1/suppressions/import", data=text.encode(), params=params,
                    headers={"Content-Type": "text/csv"})


def test_pages_cover_everything_once_in_a_stable_order(api):
    rows = "address\n" + "".join(f"user{i}@example.org\n" for i in range(250))
    assert import_csv(api, rows).json()["new"] == 250
    items, pages = all_pages(api, limit=40)
    addresses = [i["address"] for i in items]
    assert sorted(addresses) == sorted(f"user{i}@example.org" for i in range(250))
    assert len(set(addresses)) == 250 and pages >= 7
    assert all(i["reasons"][0]["code"] == "manual" for i in items)


def test_filters(api):
    suppress(api, "a@acme.example", note="x")
    suppress(api, "b@eu.acme.example", code="unsubscribed", subscription="newsletter")
    suppress(api, "c@other.example", code="previous_spam")
    api.post("/v1/events", json={"id": "1", "type": "bounce", "recipient": "d@acme.example", "status": "5.1.1",
                                 "time": "2020-01-01T00:00:00Z"})

    def addresses(**params):
        return sorted(i["address"] for i in all_pages(api, **params)[0])

    assert addresses(domain="acme.example") == ["a@acme.example", "b@eu.acme.example", "d@acme.example"]
    assert addresses(code="unsubscribed,previous_spam") == ["b@eu.acme.example", "c@other.example"]
    assert addresses(stream="transactional") == ["a@acme.example", "d@acme.example"]
    assert addresses(subscription="newsletter") == ["b@eu.acme.example"]
    assert addresses(before="2021-01-01T00:00:00Z") == ["d@acme.example"]
    assert "d@acme.example" not in addresses(since="2021-01-01T00:00:00Z")


@pytest.mark.parametrize("params, error", [
    ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ({"code": "nope"}, "invalid_request"),
    ({"limit": 0}, "invalid_request"),
    ({"since": "yesterday"}, "invalid_request"),
])
def test_bad_listing_requests_are_4xx(api, params, error):
    r = api.get("/v1/suppressions", params=params)
    assert r.status_code == 400 and r.json()["error"] == error


def test_import_reports_bad_lines_and_stores_the_rest(api):
    text = ("address,code,subscription,until,note\n"
            "good@example.org,,,,from the old system\n"
            "reader@example.org,unsubscribed,newsletter,,\n"
            "broken,manual,,,\n"
            "x@example.org,domain_blocked,,,\n"
            "y@example.org,unsubscribed,,,\n"
            "z@example.org,manual,,next week,\n")
    r = import_csv(api, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rows"], body["new"], body["rejected"]) == (6, 2, 4)
    assert [e["line"] for e in body["errors"]] == [4, 5, 6, 7]
    why = api.get("/v1/recipients/good@example.org").json()["reasons"][0]
    assert why["code"] == "manual" and why["evidence"]["note"] == "from the old system"
    assert why["evidence"]["import"] == body["import_id"]
    assert api.get("/v1/recipients/reader@example.org?subscription=billing").json()["sendable"] is True
    audit = api.get("/v1/suppressions/audit").json()["entries"][0]
    assert audit["action"] == "import" and audit["new"] == 2 and audit["rejected"] == 4


def test_import_needs_csv(api):
    r = api.post("/v1/suppressions/import", json={"address": "a@example.org"})
    assert r.status_code == 415


def test_export_round_trips_through_import(api, make_tenant):
    suppress(api, "a@example.org", note="note, with a comma")
    suppress(api, "b@example.org", code="unsubscribed", subscription="newsletter", stream="marketing")
    api.post("/v1/events", json={"id": "e", "type": "bounce", "recipient": "c@example.org", "status": "5.1.1",
                                 "diagnostic": "550 5.1.1 no such user"})
    r = api.get("/v1/suppressions/export")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted((row["address"], row["code"]) for row in rows) == [
        ("a@example.org", "manual"), ("b@example.org", "unsubscribed"), ("c@example.org", "previously_bounced")]
    assert next(row for row in rows if row["address"] == "a@example.org")["note"] == "note, with a comma"

    other = make_tenant("Other")
    assert import_csv(other, r.text).json()["new"] == 3
    mine = {(x["address"], x["code"], x["since"]) for x in rows}
    theirs = {(x["address"], x["code"], x["since"])
              for x in csv.DictReader(io.StringIO(other.get("/v1/suppressions/export").text))}
    assert mine == theirs                                 # since is kept
    [why] = other.get("/v1/recipients/b@example.org?stream=marketing").json()["reasons"]
    assert why["scope"] == "subscription:newsletter"


def test_cli_import_and_export_with_progress(api, redis_url, tmp_path):
    source = tmp_path / "list.csv"
    source.write_text("address\n" + "".join(f"p{i}@example.org\n" for i in range(3000)) + "not-an-address\n")
    env = {"REBOUND_REDIS_URL": redis_url}
    p = run(["suppressions", "import", api.tenant, str(source), "--code", "previously_bounced", "--batch", "500"],
            env=env)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert (summary["rows"], summary["new"], summary["rejected"]) == (3001, 3000, 1)
    assert "100%" in p.stderr and "line 3002" in p.stderr
    assert api.get("/v1/recipients/p1234@example.org").json()["reasons"][0]["code"] == "previously_bounced"

    out = tmp_path / "out.csv"
    p = run(["suppressions", "export", api.tenant, "-o", str(out), "--code", "previously_bounced"], env=env)
    assert p.returncode == 0, p.stderr
    assert "exporting: 100%" in p.stderr and "exported 3000" in p.stderr
    assert len(list(csv.DictReader(out.open()))) == 3000
    assert run(["suppressions", "export", "no-such-tenant"], env=env).returncode != 0
