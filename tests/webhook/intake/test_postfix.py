"""A real Postfix writes a real bounce and relays it to Rebound's listener: XVERP return paths,
Postfix's own DSN, the suppression there once Postfix's delivery got its 250; and with Redis
stopped mid-delivery, Postfix is told 451, keeps the bounce, and its retry is stored once."""
from __future__ import annotations

import shutil
import smtplib
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import RedisServer
from tests.webhook.intake.conftest import intake_settings
from tests.webhook.intake.postfix import Postfix, Remote


@pytest.fixture
def remote():
    server = Remote().start()
    yield server
    server.stop()


@pytest.fixture
def postfix_for(remote):
    started = []

    def start(rebound_port: int) -> Postfix:
        root = Path(tempfile.mkdtemp(prefix="rebound-postfix-"))
        root.chmod(0o755)
        started.append(Postfix(root, rebound_port, remote.port).start())
        return started[-1]
    yield start
    for p in started:
        p.stop()
        shutil.rmtree(p.root, ignore_errors=True)


def submit(postfix: Postfix, *recipients: str) -> None:
    """An application sends through Postfix with XVERP: one return path per recipient."""
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as s:
        s.ehlo("app.sender.test")
        assert "xverp" in s.esmtp_features
        s.sendmail("bounces@bounce.test", list(recipients),
                   b"From: news@sender.test\r\nSubject: Our news\r\nMessage-ID: <news-1@sender.test>\r\n\r\nHello\r\n",
                   mail_options=["XVERP"])


def wait_for(check, what: str, postfix: Postfix, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s; Postfix's log:\n{postfix.log()}")


def test_postfix_relays_its_bounce_to_the_listener(smtp, api, store, postfix_for):
    store.return_paths.add(api.tenant, "bounces@bounce.test", "verp")
    postfix = postfix_for(smtp.port)
    submit(postfix, "unknown-ann@remote.test", "bob@remote.test")
    history = wait_for(lambda: api.get("/v1/recipients/unknown-ann@remote.test/history").json()["events"],
                       "the bounce stored", postfix)
    [entry] = history
    assert entry["status"] == "5.1.1" and entry["reporter"] == "postfix"
    assert entry["extra"]["return_path"] == {"rcpt": "bounces+unknown-ann=remote.test@bounce.test", "format": "verp",
                                             "recipient": "unknown-ann@remote.test"}
    assert [r["code"] for r in api.get("/v1/recipients/unknown-ann@remote.test").json()["reasons"]] == ["previously_bounced"]
    assert api.get("/v1/recipients/bob@remote.test").json()["sendable"] is True
    assert "status=sent (250 2.0.0 stored: 1 new" in postfix.log()


def test_redis_stopped_mid_delivery_postfix_retries_and_it_is_stored_once(tmp_path, postfix_for):
    from webhook.intake.runtime import build_services
    from webhook.intake.smtp import SmtpServer

    redis = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always").start()
    svc = build_services(intake_settings(redis.url, tmp_path))
    tenant, _ = svc.store.tenants.create("Acme")
    svc.store.return_paths.add(tenant, "bounces@bounce.test", "verp")
    server = SmtpServer(svc.settings, svc, host="127.0.0.1", port=0).start()
    try:
        server.router.route("bounces+x=remote.test@bounce.test")          # routes known before Redis stops
        postfix = postfix_for(server.port)
        redis.stop()
        submit(postfix, "unknown-cid@remote.test")
        wait_for(lambda: "451 4.3.0 the store is unavailable" in postfix.log(), "Postfix told 451", postfix)
        assert "status=deferred" in postfix.log() and "stored: 1 new" not in postfix.log()
        redis.start()                                                         # its AOF: what it acknowledged
        postfix.flush()
        wait_for(lambda: "stored: 1 new" in postfix.log(), "the retry stored", postfix)
        history = svc.store.r.keys(f"rb:t:{{{tenant}.*}}:h:unknown-cid@remote.test")
        assert len(history) == 1 and svc.store.r.llen(history[0]) == 1     # once
    finally:
        server.stop()
        redis.stop()
