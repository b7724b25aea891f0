"""The intakes' settings over the API and from the shell: return paths, held bounces, mailboxes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.webhook.intake.conftest import SECRET
from tests.webhook.intake.messages import dsn
from tests.webhook.intake.test_smtp import send
from webhook.intake import verp

REBOUND = Path(sys.executable).with_name("rebound")


def test_return_paths_over_the_api(api, make_tenant):
    r = api.put("/v1/returnpaths/b@bounce.acme.test", json={"format": "signed"})
    assert r.status_code == 200 and len(r.json()["signing_key"]) == 64
    assert "signing_key" not in api.get("/v1/returnpaths").json()["return_paths"][0]
    token = api.post("/v1/returnpaths/b@bounce.acme.test/tokens", json={"recipient": "Ann@Example.org", "message": "m1"})
    rp = token.json()["return_path"]
    key = bytes.fromhex(r.json()["signing_key"])
    assert verp.open_token([key], "b@bounce.acme.test", rp.split("@")[0][2:], 30) == ("ann@example.org", "m1")
    other = make_tenant("Other")
    assert other.put("/v1/returnpaths/b@bounce.acme.test", json={}).status_code == 400    # taken
    assert other.post("/v1/returnpaths/b@bounce.acme.test/tokens", json={"recipient": "a@b.org"}).status_code == 404
    assert api.put("/v1/returnpaths/not an address", json={}).status_code == 400


def test_a_held_bounce_released_over_the_api(smtp, api, store):
    route, key = store.return_paths.add(api.tenant, "b@bounce.acme.test", "signed")
    rp = verp.sign(key, "b@bounce.acme.test", "someone.else@example.net")
    send(smtp, rp, dsn("ann@example.org", rp))
    [held] = api.get("/v1/returnpaths/held").json()["held"]
    assert "someone.else@example.net" in held["reason"]
    r = api.post(f"/v1/returnpaths/held/{held['id']}/release")
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert api.get("/v1/recipients/ann@example.org").json()["sendable"] is False
    assert api.get("/v1/returnpaths/held").json()["held"] == []


def test_mailboxes_over_the_api_never_show_the_password(api, dovecot):
    user, password = dovecot.user()
    r = api.put("/v1/mailboxes/bounces", json={"settings": {"host": "127.0.0.1", "port": dovecot.ports["imaps"],
                                                            "ca_pem": dovecot.ca_pem, "user": user, "password": password}})
    assert r.status_code == 200 and r.json()["settings"]["password"] == "***"
    assert password not in json.dumps(api.get("/v1/mailboxes").json())
    test = api.post("/v1/mailboxes/bounces/test").json()
    assert test["ok"] is True and test["capabilities"]["IDLE"] is True
    assert api.post("/v1/mailboxes/bounces/poll").json()["error"] is None
    assert api.get("/v1/mailboxes/bounces").json()["state"]["last_ok"] > 0
    bad = api.put("/v1/mailboxes/bounces", json={"settings": {"protocol": "pop3", "after": "move"}})
    assert bad.status_code == 400 and "POP3 has no folders" in bad.json()["message"]
    assert api.put("/v1/mailboxes/other", json={"settings": {"password": "x"}}).status_code == 400
    assert api.delete("/v1/mailboxes/bounces").json()["deleted"] is True


def cli(args: list[str], redis_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    env.update(REBOUND_REDIS_URL=redis_url, REBOUND_SECRET_KEY=SECRET, REBOUND_DNS_CHECKS="false",
               REBOUND_DATA_DIR=str(tmp_path / "data"), REBOUND_MODEL_DIR=str(tmp_path / "models"))
    return subprocess.run([str(REBOUND), *args], env=env, capture_output=True, text=True, timeout=180)


def test_mailbox_from_the_shell(api, dovecot, redis_url, tmp_path):
    user, password = dovecot.user()
    ca = tmp_path / "ca.pem"
    ca.write_text(dovecot.ca_pem)
    p = cli(["mailbox", "set", api.tenant, "host=127.0.0.1", f"port={dovecot.ports['imaps']}", f"user={user}",
             f"password={password}", f"ca_pem=@{ca}"], redis_url, tmp_path)
    assert p.returncode == 0, p.stderr
    assert password not in p.stdout and json.loads(p.stdout)["settings"]["password"] == "***"
    p = cli(["mailbox", "test", api.tenant], redis_url, tmp_path)
    assert p.returncode == 0 and json.loads(p.stdout)["ok"] is True
    p = cli(["mailbox", "poll", api.tenant], redis_url, tmp_path)
    assert p.returncode == 0 and json.loads(p.stdout)["error"] is None
    shown = json.loads(cli(["mailbox", "show", api.tenant], redis_url, tmp_path).stdout)
    assert shown["state"]["last_ok"] > 0 and shown["settings"]["password"] == "***"
    p = cli(["mailbox", "set", api.tenant, "password=wrong"], redis_url, tmp_path)
    p = cli(["mailbox", "test", api.tenant], redis_url, tmp_path)
    assert p.returncode == 1 and "AUTHENTICATIONFAILED" in p.stdout


def test_return_paths_from_the_shell(api, redis_url, tmp_path):
    p = cli(["returnpath", "add", api.tenant, "bounces@bounce.acme.test", "--format", "verp"], redis_url, tmp_path)
    assert p.returncode == 0, p.stderr
    p = cli(["returnpath", "token", api.tenant, "bounces@bounce.acme.test", "ann@example.org"], redis_url, tmp_path)
    assert json.loads(p.stdout)["return_path"] == "bounces+ann=example.org@bounce.acme.test"
    p = cli(["returnpath", "list", api.tenant], redis_url, tmp_path)
    assert json.loads(p.stdout)["format"] == "verp"
