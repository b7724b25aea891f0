"""Concurrent policy updates (the API's PATCH, `rebound policy set`) never lose one another."""
from __future__ import annotations

import subprocess
import threading

from store.reasons import SUPPRESSION_REASONS
from tests.cli import REBOUND, run

CODES = sorted(SUPPRESSION_REASONS)


def test_concurrent_patches_all_land(api):
    rounds = 4
    for r in range(rounds):
        value = ["marketing", "transactional"] if r % 2 == 0 else ["transactional"]
        barrier = threading.Barrier(len(CODES))
        failures = []

        def patch(code: str, barrier=barrier, failures=failures, value=value) -> None:
            barrier.wait()
            resp = api.patch("/v1/policy", json={"streams": {code: value}})
            if resp.status_code != 200:
                failures.append(resp.text)

        threads = [threading.Thread(target=patch, args=(c,)) for c in CODES]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        overrides = api.get("/v1/policy").json()["overrides"]
        assert overrides["streams"] == {c: value for c in CODES}, f"round {r}: lost updates"


def test_concurrent_cli_and_api_updates_all_land(api, redis_url):
    env = {"REBOUND_REDIS_URL": redis_url}
    cli_codes, api_codes = CODES[:3], CODES[3:]
    procs = [subprocess.Popen(REBOUND + ["policy", "set", api.tenant, f'streams.{c}=["transactional"]'],
                              env={**_env(), **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cli_codes]
    for c in api_codes:
        assert api.patch("/v1/policy", json={"streams": {c: ["transactional"]}}).status_code == 200
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert api.get("/v1/policy").json()["overrides"]["streams"] == {c: ["transactional"] for c in CODES}
    p = run(["policy", "unset", api.tenant, "streams.manual", "streams.nothing"], env=env)
    assert p.returncode != 0 and "not overridden: streams.nothing" in p.stderr
    assert "manual" in api.get("/v1/policy").json()["overrides"]["streams"]     # nothing changed
    p = run(["policy", "unset", api.tenant, "streams.manual"], env=env)
    assert p.returncode == 0, p.stderr
    assert "manual" not in api.get("/v1/policy").json()["overrides"]["streams"]


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
