"""``rebound inbound`` as an MTA runs it: a message on standard input through a shell
pipeline, the outcome in the exit status (sysexits) and one JSON line."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.webhook.intake.conftest import SECRET
from tests.webhook.intake.messages import dsn, not_a_report
from webhook.intake import verp

REBOUND = Path(sys.executable).with_name("rebound")


def pipe(message: bytes, args: str, redis_url: str, tmp_path) -> tuple[int, dict, str]:
    """``cat FILE | rebound inbound ARGS``, as a shell runs it for an MTA."""
    src = tmp_path / "message.eml"
    src.write_bytes(message)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    env.update(REBOUND_REDIS_URL=redis_url, REBOUND_SECRET_KEY=SECRET, REBOUND_DNS_CHECKS="false",
               REBOUND_MODEL_DIR=str(tmp_path / "models"), REBOUND_DATA_DIR=str(tmp_path / "data"))
    p = subprocess.run(["sh", "-c", f"cat {shlex.quote(str(src))} | {shlex.quote(str(REBOUND))} inbound {args}"],
                       env=env, capture_output=True, timeout=120)
    lines = p.stdout.decode().strip().splitlines()
    return p.returncode, json.loads(lines[-1]) if lines else {}, p.stderr.decode()


def test_a_bounce_piped_in_is_stored_exit_0(api, redis_url, tmp_path):
    status, out, _ = pipe(dsn("ann@example.org", "bounces@sender.example"), api.tenant, redis_url, tmp_path)
    assert status == 0 and out["outcome"] == "stored" and out["accepted"] == 1
    assert [r["code"] for r in api.get("/v1/recipients/ann@example.org").json()["reasons"]] == ["previously_bounced"]
    [entry] = api.get("/v1/recipients/ann@example.org/history").json()["events"]
    assert entry["extra"]["via"] == "pipe"


def test_routed_by_the_envelope_recipient(api, store, redis_url, tmp_path):
    store.return_paths.add(api.tenant, "bounces@bounce.acme.test", "verp")
    rp = verp.verp_address("bounces@bounce.acme.test", "bob@example.org")
    status, out, _ = pipe(dsn(None, rp, diagnostic="550 5.1.1 no such user here"), f"--recipient {rp}",
                          redis_url, tmp_path)
    assert status == 0 and out["tenant"] == api.tenant
    assert api.get("/v1/recipients/bob@example.org").json()["sendable"] is False


def test_not_a_message_or_not_a_report_is_65(api, redis_url, tmp_path):
    status, out, err = pipe(not_a_report("bounces@sender.example"), api.tenant, redis_url, tmp_path)
    assert status == 65 and out["outcome"] == "not_a_report" and "not a delivery report" in err
    status, out, _ = pipe(b"\x00\x01 binary garbage \xff" * 50, api.tenant, redis_url, tmp_path)
    assert status == 65


def test_unknown_tenant_or_return_path_is_67(api, redis_url, tmp_path):
    message = dsn("cid@example.org", "x@example.net")
    assert pipe(message, "no-such-tenant", redis_url, tmp_path)[0] == 67
    assert pipe(message, "--recipient someone@elsewhere.example", redis_url, tmp_path)[0] == 67


def test_redis_down_is_75_and_nothing_is_stored(api, redis_url, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    status, out, err = pipe(dsn("dan@example.org", "b@sender.example"), api.tenant, dead, tmp_path)
    assert status == 75 and out["error"] == "store_unavailable" and "deliver again later" in err
    assert api.get("/v1/recipients/dan@example.org").json()["sendable"] is True
    # the MTA delivers again once Redis is back: stored
    assert pipe(dsn("dan@example.org", "b@sender.example"), api.tenant, redis_url, tmp_path)[0] == 0
