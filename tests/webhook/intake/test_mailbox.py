"""Bounce mailboxes on a real Dovecot: IMAP (IDLE, and the interval where the server has no
IDLE) and POP3; a message is moved or deleted only once stored, one Rebound cannot use is
quarantined, and a store that is down leaves everything in place."""
from __future__ import annotations

import imaplib
import poplib
import ssl
import time

import pytest

from tests.webhook.intake.messages import dsn, not_a_report
from webhook.intake.mailbox import MailboxSettings, Reader, Worker, configure, poll_once


def deliver(dovecot, user, password, *messages: bytes, folder: str = "INBOX") -> None:
    """Put messages in a mailbox the way a delivery agent would (IMAP APPEND)."""
    m = imaplib.IMAP4_SSL("127.0.0.1", dovecot.ports["imaps"], ssl_context=ssl.create_default_context(cadata=dovecot.ca_pem))
    m.login(user, password)
    for message in messages:
        assert m.append(folder, None, None, message)[0] == "OK"
    m.logout()


def folders(dovecot, user, password) -> dict[str, int]:
    """Every folder of the mailbox and how many messages it holds."""
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", dovecot.ports["imap"], ssl=False) as c:
        c.login(user, password)
        return {name: c.folder_status(name, ["MESSAGES"])[b"MESSAGES"] for _, _, name in c.list_folders()}


@pytest.fixture
def imap_box(dovecot, store, api):
    user, password = dovecot.user()
    configure(store, api.tenant, "bounces", {"host": "127.0.0.1", "port": dovecot.ports["imaps"], "tls": "ssl",
                                             "ca_pem": dovecot.ca_pem, "user": user, "password": password})
    return user, password


def test_imap_stores_then_moves_and_quarantines_what_it_cannot_use(dovecot, store, api, intake_services, imap_box):
    user, password = imap_box
    deliver(dovecot, user, password, dsn("ann@example.org", "bounces@sender.example"),
            not_a_report("bounces@sender.example"), b"\x00\x01\x02 not mail at all")
    result = poll_once(intake_services, api.tenant, "bounces")
    assert result["error"] is None and result["stored"] == 1 and result["quarantined"] == 2
    assert [r["code"] for r in api.get("/v1/recipients/ann@example.org").json()["reasons"]] == ["previously_bounced"]
    assert folders(dovecot, user, password) == {"INBOX": 0, "Rebound-Processed": 1, "Rebound-Quarantine": 2}
    [entry] = api.get("/v1/recipients/ann@example.org/history").json()["events"]
    assert entry["extra"]["via"] == "imap"
    state = store.mailboxes.state(api.tenant, "bounces")
    assert state["stored"] == 1 and state["quarantined"] == 2 and state["seen"] == 3 and "last_error" not in state


def test_a_store_that_is_down_leaves_every_message_in_place(dovecot, private_redis, tmp_path, imap_box, api):
    """The mailbox is read with a store that is then stopped: nothing is moved or lost."""
    from tests.webhook.intake.conftest import intake_settings
    from webhook.intake.runtime import build_services

    user, password = imap_box
    svc = build_services(intake_settings(private_redis.url, tmp_path))
    svc.store.tenants.r.hset(svc.store.keys.tenants(), api.tenant, b"{}")
    configure(svc.store, api.tenant, "bounces", {"host": "127.0.0.1", "port": dovecot.ports["imaps"],
                                                 "ca_pem": dovecot.ca_pem, "user": user, "password": password})
    deliver(dovecot, user, password, dsn("bob@example.org", "b@sender.example"), dsn("cat@example.org", "b@sender.example"))
    cfg = MailboxSettings.model_validate(svc.store.mailboxes.get(api.tenant, "bounces"))
    private_redis.stop()
    poll = Reader(svc, api.tenant, "bounces", cfg).poll()
    assert poll.error and "store is unavailable" in poll.error and poll.counts["stored"] == 0
    assert folders(dovecot, user, password) == {"INBOX": 2}


def test_imap_delete_after_store(dovecot, store, api, intake_services, imap_box):
    user, password = imap_box
    configure(store, api.tenant, "bounces", {"after": "delete"})
    deliver(dovecot, user, password, dsn("dan@example.org", "b@sender.example"))
    assert poll_once(intake_services, api.tenant, "bounces")["stored"] == 1
    assert folders(dovecot, user, password) == {"INBOX": 0}


def test_the_same_bounce_twice_counts_once(dovecot, store, api, intake_services, imap_box):
    user, password = imap_box
    message = dsn("eve@example.org", "b@sender.example", message_id="twice")
    deliver(dovecot, user, password, message, message)
    result = poll_once(intake_services, api.tenant, "bounces")
    assert result["stored"] == 1 and result["duplicates"] == 1
    assert len(api.get("/v1/recipients/eve@example.org/history").json()["events"]) == 1


def test_pop3_deletes_what_it_stored_and_keeps_what_it_quarantined(dovecot, store, api, intake_services):
    user, password = dovecot.user()
    configure(store, api.tenant, "pop", {"protocol": "pop3", "host": "127.0.0.1", "port": dovecot.ports["pop3s"],
                                         "ca_pem": dovecot.ca_pem, "user": user, "password": password,
                                         "after": "delete"})
    deliver(dovecot, user, password, dsn("fay@example.org", "b@sender.example"), not_a_report("b@sender.example"))
    first = poll_once(intake_services, api.tenant, "pop")
    assert first["stored"] == 1 and first["quarantined"] == 1
    assert api.get("/v1/recipients/fay@example.org").json()["sendable"] is False
    again = poll_once(intake_services, api.tenant, "pop")
    assert again["seen"] == 0                                     # the quarantined one is not read again
    pop = poplib.POP3("127.0.0.1", dovecot.ports["pop3"])
    pop.user(user), pop.pass_(password)
    assert pop.stat()[0] == 1                                     # only the quarantined message is left
    pop.quit()


@pytest.mark.parametrize("face, idle", [("127.0.0.1", True), ("127.0.0.2", False)])
def test_the_watcher_reads_new_mail_with_idle_or_every_interval(dovecot, store, api, intake_services, face, idle):
    user, password = dovecot.user()
    cfg = configure(store, api.tenant, "live", {"host": face, "port": dovecot.ports["imap"], "tls": "none",
                                                "user": user, "password": password, "interval": 1})
    worker = Worker(intake_services, api.tenant, "live", cfg)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while store.mailboxes.state(api.tenant, "live").get("last_ok") is None and time.monotonic() < deadline:
            time.sleep(0.05)                                      # first poll (empty mailbox) done
        deliver(dovecot, user, password, dsn("gus@example.org", "b@sender.example"))
        while api.get("/v1/recipients/gus@example.org").json()["sendable"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.get("/v1/recipients/gus@example.org").json()["sendable"] is False
    finally:
        worker.stop()
        worker.join(timeout=30)
    assert worker.idled is idle                                   # IDLE told it, or the interval came


def test_settings_are_validated_and_the_password_is_encrypted_at_rest(store, api, redis_client):
    with pytest.raises(ValueError, match="POP3 has no folders"):
        configure(store, api.tenant, "x", {"protocol": "pop3", "host": "mail.example.com", "user": "u",
                                           "password": "p", "after": "move"})
    with pytest.raises(ValueError, match="password in clear"):
        configure(store, api.tenant, "x", {"host": "mail.example.com", "user": "u", "password": "p", "tls": "none"})
    configure(store, api.tenant, "x", {"host": "mail.example.com", "user": "u", "password": "hunter2-secret"})
    raw = b"".join(v for v in redis_client.hgetall(f"rb:t:{{{api.tenant}}}:mbx").values())
    assert b"hunter2" not in raw and b"mail.example.com" not in raw
    assert store.mailboxes.get(api.tenant, "x")["password"] == "hunter2-secret"
