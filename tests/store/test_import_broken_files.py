"""A broken CSV (NUL byte, bad quoting, a field over the csv limit, not UTF-8) is refused
with the line named, and nothing of it is stored, over HTTP and from the CLI; bad rows in a
sound file are still reported and skipped."""
from __future__ import annotations

import pytest

from tests.cli import run
from tests.store.test_suppression_lists import import_csv

GOOD = "address\n" + "".join(f"user{i}@example.org\n" for i in range(1500))     # more than one batch


def stored(api) -> list[str]:
    r = api.get("/v1/suppressions/export")
    assert r.status_code == 200
    return r.text.splitlines()[1:]


@pytest.mark.parametrize("tail, line, problem", [
    ("bad\x00one@example.org\n", 1502, "NUL byte"),
    ('x@example.org,"unterminated\n', 1503, "unexpected end of data"),     # read to the end
    ('y@example.org,"a"b\n', 1502, "not valid CSV"),
    ("z@example.org," + "n" * 200_000 + "\n", 1502, "field larger than field limit"),
])
def test_api_refuses_a_broken_file_whole(api, tail, line, problem):
    r = import_csv(api, GOOD + tail + "after@example.org\n")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_csv" and f"line {line}" in body["message"] and problem in body["message"], body
    assert "nothing was imported" in body["message"]
    assert stored(api) == []


def test_api_refuses_a_file_that_is_not_utf8(api):
    r = api.post("/v1/suppressions/import", data=GOOD.encode() + b"caf\xe9@example.org\n",
                 headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and "line 1502" in r.json()["message"] and "UTF-8" in r.json()["message"], r.text
    assert stored(api) == []


def test_cli_refuses_a_broken_file_whole(api, redis_url, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text(GOOD + 'x@example.org,"a"b\n')
    p = run(["suppressions", "import", api.tenant, str(path)], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode != 0 and "line 1502" in p.stderr and "nothing was imported" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    # from stdin too
    p = run(["suppressions", "import", api.tenant, "-"], env={"REBOUND_REDIS_URL": redis_url},
            input=GOOD + "bad\x00@example.org\n")
    assert p.returncode != 0 and "line 1502" in p.stderr and "NUL" in p.stderr, p.stderr
    assert stored(api) == []
    path.write_text(GOOD)
    p = run(["suppressions", "import", api.tenant, str(path)], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode == 0, p.stderr
    assert len(stored(api)) == 1500
