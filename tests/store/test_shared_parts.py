"""Behaviour kept by the store's shared parts: one cursor codec for both listings, one set of
export filters for the API and the CLI, one audited removal from the operator's lists."""
from __future__ import annotations

import base64

import pytest

from tests.cli import run


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    _cursor(b"[true, \"\"]"), _cursor(b"[1, \"a\", 3]"), _cursor(b"{}"), _cursor(b"[5000, \"\"]"), "\u00e9t\u00e9",
    _cursor(b"[\"oldest\", 7]"),
])
def test_tampered_cursors_are_a_400_in_both_listings(api, cursor):
    for path in ("/v1/suppressions", "/v1/review"):
        r = api.get(path, params={"cursor": cursor})
        assert r.status_code == 400 and r.json()["error"] == "invalid_cursor", (path, r.text)


def test_export_filters_are_the_same_from_the_cli(api, redis_url, tmp_path):
    assert api.put("/v1/suppressions/a@Sub.Example.org", json={"code": "manual"}).status_code == 200
    assert api.put("/v1/suppressions/b@other.org", json={"code": "manual"}).status_code == 200
    env = {"REBOUND_REDIS_URL": redis_url}
    out = tmp_path / "out.csv"
    p = run(["suppressions", "export", api.tenant, "-o", str(out), "--domain", " @Example.ORG"], env=env)
    assert p.returncode == 0, p.stderr
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == ["a@sub.example.org"]
    via_api = api.get("/v1/suppressions/export", params={"domain": " @Example.ORG"}).text
    assert via_api.splitlines() == out.read_text().splitlines()
    p = run(["suppressions", "export", api.tenant, "--code", "no_such_code"], env=env)
    assert p.returncode == 2 and "'no_such_code' is not one of" in p.stderr, p.stderr
    assert api.get("/v1/suppressions/export", params={"code": "no_such_code"}).status_code == 400


def test_removals_from_the_operators_lists_are_audited(operator, api):
    assert operator.put("/v1/platform/domains/gone.example", json={}).status_code == 200
    assert operator.delete("/v1/platform/domains/gone.example", json={"note": "owner changed"}).status_code == 200
    assert operator.delete("/v1/platform/domains/gone.example", json={"note": "again"}).status_code == 404
    entries = operator.get("/v1/platform/audit").json()["entries"]
    assert [(e["action"], e.get("note")) for e in entries[:2]] == [("unblock_domain", "owner changed"),
                                                                  ("block_domain", None)]
