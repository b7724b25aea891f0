"""Bounce mailboxes read over IMAP (IDLE where the server has it, else every interval) or POP3.

A tenant whose bounces land in a mailbox (a hosted return-path mailbox, listmonk's or
Mautic's bounce box) gives Rebound its settings (``rebound mailbox set``, ``PUT
/v1/mailboxes/<name>``); the password is encrypted at rest like ESP credentials
(``store.mailboxes``). Each message is taken like any other (``message.take``) and only then,
once stored, moved to ``move_to`` or deleted (``after``): a message is never moved or deleted
before Redis has it. A message Rebound cannot use (not mail, not a report, too large) is moved
to the ``quarantine`` folder, never deleted. When Redis is unavailable the poll stops where it
is and leaves the rest in place for the next one; a message stored but not yet moved (a
connection lost in between) is read again next time and counts once.

POP3 has no folders: a stored message is deleted (``after=delete``) or left on the server and
remembered (``after=keep``); one that cannot be used is left there and remembered
(quarantined), so it is not read again.

IMAP uses IMAPClient (IDLE, MOVE, UIDPLUS); POP3 the standard library. TLS is on by default
(``tls=ssl``; ``starttls``; ``none`` only for a server on this host), verified against the
system's CAs or a given ``ca_pem``.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import poplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from webhook.errors import STORE_UNAVAILABLE
from webhook.intake import metrics
from webhook.intake.message import HELD, STORED, take

log = logging.getLogger("rebound.mailbox")

PORTS = {("imap", "ssl"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143,
         ("pop3", "ssl"): 995, ("pop3", "starttls"): 110, ("pop3", "none"): 110}
#: messages fetched per IMAP round trip
BATCH = 20
#: the longest an IDLE waits before it is renewed (RFC 2177: servers may drop it after 29 minutes)
IDLE_SECONDS = 300
SECRET_FIELDS = ("password",)
NAME = r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$"


class MailboxError(Exception):
    """The mailbox could not be read (connection, login, folder); ``str()`` says why."""


class MailboxSettings(BaseModel):
    """One mailbox, as set and stored."""

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["imap", "pop3"] = "imap"
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(None, ge=1, le=65535, description="default: 993/143 (IMAP), 995/110 (POP3)")
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    tls_verify: bool = True
    ca_pem: str | None = Field(None, description="a CA (PEM) to verify the server with instead of the system's")
    user: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    folder: str = Field("INBOX", min_length=1, max_length=200)
    after: Literal["move", "delete", "keep"] = "move"
    move_to: str = Field("Rebound-Processed", min_length=1, max_length=200)
    quarantine: str = Field("Rebound-Quarantine", min_length=1, max_length=200)
    interval: float | None = Field(None, ge=1, le=86400, description="seconds between polls (default REBOUND_MAILBOX_INTERVAL)")
    idle: bool = True
    enabled: bool = True

    @field_validator("ca_pem")
    @classmethod
    def _pem(cls, v: str | None) -> str | None:
        if v:
            try:
                ssl.create_default_context(cadata=v)
            except (ssl.SSLError, ValueError):
                raise ValueError("not a PEM certificate") from None
        return v or None

    @model_validator(mode="after")
    def _consistent(self) -> "MailboxSettings":
        if self.protocol == "pop3" and self.after == "move":
            raise ValueError("POP3 has no folders: after=delete or after=keep")
        if self.protocol == "imap" and self.after == "keep":
            raise ValueError("IMAP: after=move (to move_to) or after=delete")
        if self.tls == "none" and not _local(self.host):
            raise ValueError("tls=none sends the password in clear: only for a server on this host")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or PORTS[self.protocol, self.tls]

    def shown(self) -> dict:
        out = self.model_dump(exclude_none=True)
        out["password"] = "***"
        out["port"] = self.effective_port
        return out

    def fingerprint(self) -> str:
        return hashlib.blake2b(orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}"


def configure(store, tenant: str, name: str, changes: dict) -> MailboxSettings:
    """Merge ``changes`` (None or "" removes a name) into the mailbox's settings, validated
    as a whole before anything is stored; ValueError says what is wrong."""
    import re

    if not re.match(NAME, name):
        raise ValueError(f"{name!r} is not a mailbox name (lower-case letters, digits, _ and -)")
    unknown = sorted(set(changes) - set(MailboxSettings.model_fields))
    if unknown:
        raise ValueError(f"no mailbox setting {', '.join(unknown)}; settings: {', '.join(MailboxSettings.model_fields)}")
    result: list[MailboxSettings] = []

    def change(current: dict) -> dict:
        merged = dict(current)
        for k, v in changes.items():
            if v is None or v == "":
                merged.pop(k, None)
            else:
                merged[k] = v
        try:
            valid = MailboxSettings.model_validate(merged)
        except ValidationError as exc:
            raise ValueError(settings_error(exc)) from None
        result[:] = [valid]
        return valid.model_dump(exclude_none=True)

    store.mailboxes.set(tenant, name, change)
    return result[0]


def describe(store, tenant: str, name: str, settings: dict) -> dict:
    cfg = MailboxSettings.model_validate(settings)
    return {"name": name, "settings": cfg.shown(), "state": store.mailboxes.state(tenant, name)}


def _tls(cfg: MailboxSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=cfg.ca_pem) if cfg.ca_pem else ssl.create_default_context()
    if not cfg.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Poll:
    """What one poll did."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("seen", "stored", "duplicates", "held",
                                                                            "quarantined", "failed"), 0))
    error: str | None = None
    idle: bool = False

    def add(self, taken) -> str:
        """Count a message's outcome; returns what to do with it: done (stored/held) or quarantine."""
        self.counts["seen"] += 1
        if taken.outcome == STORED:
            self.counts["stored" if taken.accepted or not taken.duplicates else "duplicates"] += 1
            return "done"
        if taken.outcome == HELD:
            self.counts["held"] += 1
            return "done"
        self.counts["quarantined"] += 1
        return "quarantine"


class Reader:
    """One mailbox of one tenant: connect, read what is there, act on it."""

    def __init__(self, svc, tenant: str, name: str, cfg: MailboxSettings, timeout: float = 30):
        self.svc, self.tenant, self.name, self.cfg = svc, tenant, name, cfg
        self.timeout = timeout
        self.imap = None

    # -- messages -----------------------------------------------------------------------
    def _take(self, raw: bytes, poll: Poll) -> str:
        if len(raw) > self.svc.settings.max_body_bytes:
            poll.counts["seen"] += 1
            poll.counts["quarantined"] += 1
            metrics.MAILBOX_MESSAGES.labels(self.cfg.protocol, "too_large").inc()
            return "quarantine"
        taken = take(self.svc, self.tenant, raw, via=self.cfg.protocol)       # raises if Redis is down
        metrics.MAILBOX_MESSAGES.labels(self.cfg.protocol, taken.outcome).inc()
        return poll.add(taken)

    # -- IMAP ------------------------------------------------------------------------------
    def connect_imap(self):
        from imapclient import IMAPClient

        cfg = self.cfg
        try:
            client = IMAPClient(cfg.host, cfg.effective_port, ssl=cfg.tls == "ssl",
                                ssl_context=_tls(cfg) if cfg.tls == "ssl" else None, timeout=self.timeout)
            if cfg.tls == "starttls":
                client.starttls(_tls(cfg))
            client.login(cfg.user, cfg.password)
            client.select_folder(cfg.folder)
        except Exception as exc:                       # noqa: BLE001 - socket, TLS, IMAP errors alike
            raise MailboxError(f"{cfg.host}:{cfg.effective_port}: {type(exc).__name__}: {exc}") from None
        self.imap = client
        return client

    def poll_imap(self, poll: Poll) -> None:
        client = self.imap or self.connect_imap()
        uids = client.search(["NOT", "DELETED"])
        for start in range(0, len(uids), BATCH):
            batch = uids[start:start + BATCH]
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            done, quarantine = [], []
            try:
                for uid in batch:
                    raw = fetched.get(uid, {}).get(b"BODY[]")
                    if raw is None:
                        continue
                    (done if self._take(raw, poll) == "done" else quarantine).append(uid)
            finally:                                  # what is stored is moved even if the rest failed
                self._imap_dispose(client, done, quarantine)

    def _imap_dispose(self, client, done: list, quarantine: list) -> None:
        cfg = self.cfg
        if quarantine:
            self._imap_move(client, quarantine, cfg.quarantine)
        if done:
            if cfg.after == "move":
                self._imap_move(client, done, cfg.move_to)
            else:
                client.delete_messages(done)
                self._imap_expunge(client, done)

    def _imap_move(self, client, uids: list, folder: str) -> None:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        if client.has_capability("MOVE"):
            client.move(uids, folder)
        else:                                         # COPY, then delete: never deleted before copied
            client.copy(uids, folder)
            client.delete_messages(uids)
            self._imap_expunge(client, uids)

    @staticmethod
    def _imap_expunge(client, uids: list) -> None:
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    def idle_wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait in IDLE for new mail (True) up to ``seconds``; False when the server has no IDLE."""
        client = self.imap
        if client is None or not self.cfg.idle or not client.has_capability("IDLE"):
            return False
        client.idle()
        try:
            deadline = time.monotonic() + seconds
            while not stop.is_set() and time.monotonic() < deadline:
                if any(r[1] in (b"EXISTS", b"RECENT") for r in client.idle_check(timeout=1) if len(r) > 1):
                    break
        finally:
            client.idle_done()
        return True

    def close(self) -> None:
        if self.imap is not None:
            try:
                self.imap.logout()
            except Exception:                          # noqa: BLE001 - the connection may be gone already
                pass
            self.imap = None

    # -- POP3 ------------------------------------------------------------------------------
    def connect_pop3(self) -> poplib.POP3:
        cfg = self.cfg
        try:
            if cfg.tls == "ssl":
                pop = poplib.POP3_SSL(cfg.host, cfg.effective_port, timeout=self.timeout, context=_tls(cfg))
            else:
                pop = poplib.POP3(cfg.host, cfg.effective_port, timeout=self.timeout)
                if cfg.tls == "starttls":
                    pop.stls(_tls(cfg))
            pop.user(cfg.user)
            pop.pass_(cfg.password)
        except (OSError, poplib.error_proto, ssl.SSLError) as exc:
            raise MailboxError(f"{cfg.host}:{cfg.effective_port}: {type(exc).__name__}: {exc}") from None
        return pop

    def poll_pop3(self, poll: Poll) -> None:
        store = self.svc.store.mailboxes
        pop = self.connect_pop3()
        try:
            listing = [line.decode("ascii", "replace").split(" ", 1) for line in pop.uidl()[1]]
            kept = store.kept(self.tenant, self.name)
            present = set()
            for number, uid in listing:
                present.add(uid)
                if uid in kept:
                    continue
                raw = b"\r\n".join(pop.retr(int(number))[1]) + b"\r\n"
                if self._take(raw, poll) == "done" and self.cfg.after == "delete":
                    pop.dele(int(number))
                else:
                    store.keep(self.tenant, self.name, uid)
            store.forget_kept(self.tenant, self.name, kept - present)
        finally:
            try:
                pop.quit()                              # deletions take effect here, once stored
            except (OSError, poplib.error_proto):
                pass

    # -- one poll ------------------------------------------------------------------------
    def poll(self) -> Poll:
        """Read everything there is now; record the outcome in the store and the metrics."""
        poll = Poll()
        try:
            if self.cfg.protocol == "imap":
                self.poll_imap(poll)
            else:
                self.poll_pop3(poll)
        except STORE_UNAVAILABLE as exc:
            poll.error = f"the store is unavailable ({type(exc).__name__}); messages left in place"
        except MailboxError as exc:
            poll.error = str(exc)
        except Exception as exc:                       # noqa: BLE001 - a broken connection mid-poll
            poll.error = f"{type(exc).__name__}: {exc}"
            self.close()
        metrics.MAILBOX_POLLS.labels(self.cfg.protocol, "error" if poll.error else "ok").inc()
        if poll.error is None:
            metrics.MAILBOX_LAST_SUCCESS.labels(self.cfg.protocol).set(time.time())
        try:
            store = self.svc.store.mailboxes
            store.record(self.tenant, self.name, poll.counts)
            store.polled(self.tenant, self.name, poll.error)
        except STORE_UNAVAILABLE:
            pass
        if poll.error:
            log.warning("mailbox poll failed", extra={"tenant": self.tenant, "mailbox": self.name, "why": poll.error})
        return poll

    def test(self) -> dict:
        """Connect, log in, open the folder; touch nothing. What a person needs to know."""
        cfg = self.cfg
        out = {"ok": True, "protocol": cfg.protocol, "host": cfg.host, "port": cfg.effective_port}
        try:
            if cfg.protocol == "imap":
                client = self.connect_imap()
                out["messages"] = len(client.search(["NOT", "DELETED"]))
                out["capabilities"] = {c: client.has_capability(c) for c in ("IDLE", "MOVE", "UIDPLUS")}
                out["folders"] = {f: client.folder_exists(f) for f in {cfg.move_to, cfg.quarantine}
                                  if cfg.after == "move" or f == cfg.quarantine}
            else:
                pop = self.connect_pop3()
                out["messages"] = pop.stat()[0]
                pop.quit()
        except (MailboxError, OSError, socket.timeout) as exc:
            out.update(ok=False, error=str(exc))
        finally:
            self.close()
        return out


def poll_once(svc, tenant: str, name: str) -> dict:
    """Read one mailbox once (``rebound mailbox poll``)."""
    cfg = MailboxSettings.model_validate(svc.store.mailboxes.get(tenant, name))
    reader = Reader(svc, tenant, name, cfg)
    try:
        poll = reader.poll()
    finally:
        reader.close()
    return {"tenant": tenant, "mailbox": name, **poll.counts, "error": poll.error}


class Worker(threading.Thread):
    """Keeps one mailbox read: IMAP IDLE where the server has it, else every interval; after
    an error, again after a pause that grows to the interval."""

    def __init__(self, svc, tenant: str, name: str, cfg: MailboxSettings):
        super().__init__(name=f"mailbox-{tenant}-{name}", daemon=True)
        self.svc, self.tenant, self.name, self.cfg = svc, tenant, name, cfg
        self.stopping = threading.Event()
        self.interval = cfg.interval or svc.settings.mailbox_interval
        #: whether the server's IDLE told it about new mail (else it polled every interval)
        self.idled = False

    def run(self) -> None:
        reader = Reader(self.svc, self.tenant, self.name, self.cfg)
        pause = 1.0
        while not self.stopping.is_set():
            poll = reader.poll()
            if poll.error:
                reader.close()
                self.stopping.wait(pause)
                pause = min(pause * 2, self.interval)
                continue
            pause = 1.0
            try:
                if self.cfg.protocol == "imap" and reader.idle_wait(IDLE_SECONDS, self.stopping):
                    self.idled = True
                    continue
            except Exception as exc:                   # noqa: BLE001 - the connection dropped in IDLE
                log.info("mailbox idle ended", extra={"tenant": self.tenant, "mailbox": self.name,
                                                      "why": type(exc).__name__})
                reader.close()
                continue
            reader.close()
            self.stopping.wait(self.interval)
        reader.close()

    def stop(self) -> None:
        self.stopping.set()


class Watcher:
    """Every mailbox of every tenant, kept read: looks for new, changed and removed ones every
    ``refresh`` seconds and starts or stops their workers."""

    def __init__(self, svc, refresh: float = 10.0):
        self.svc, self.refresh = svc, refresh
        self.workers: dict[tuple[str, str], tuple[str, Worker]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mailbox-watcher", daemon=True)

    def start(self) -> "Watcher":
        self.thread.start()
        return self

    def sync(self) -> None:
        store = self.svc.store.mailboxes
        wanted: dict[tuple[str, str], MailboxSettings] = {}
        for tenant, name in store.index():
            try:
                cfg = MailboxSettings.model_validate(store.get(tenant, name) or {})
            except Exception as exc:                   # noqa: BLE001 - unreadable or invalid: skipped, said
                log.error("mailbox settings unusable", extra={"tenant": tenant, "mailbox": name, "why": str(exc)})
                continue
            if cfg.enabled:
                wanted[tenant, name] = cfg
        for key in list(self.workers):
            fp, worker = self.workers[key]
            if key not in wanted or wanted[key].fingerprint() != fp:
                worker.stop()
                del self.workers[key]
        for key, cfg in wanted.items():
            if key not in self.workers:
                worker = Worker(self.svc, *key, cfg)
                self.workers[key] = (cfg.fingerprint(), worker)
                worker.start()
        metrics.MAILBOXES_WATCHED.set(len(self.workers))

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sync()
            except Exception as exc:                   # noqa: BLE001 - Redis away: try again later
                log.warning("mailbox list unavailable", extra={"why": type(exc).__name__})
            self.stopping.wait(self.refresh)

    def stop(self) -> None:
        self.stopping.set()
        for _, worker in self.workers.values():
            worker.stop()
        for _, worker in self.workers.values():
            worker.join(timeout=10)
        self.thread.join(timeout=10)
