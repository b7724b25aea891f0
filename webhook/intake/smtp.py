"""The SMTP/LMTP listener for return-path domains (aiosmtpd): bounces received where they are sent.

Point the MX of your return-path domain (or your MTA's transport for it) at Rebound, and the
DSNs, NDRs, complaints and auto-replies sent to your return paths arrive here. What a
client meets, in order:

- a connection beyond ``REBOUND_SMTP_CONNECTIONS_PER_IP`` open, or beyond
  ``REBOUND_SMTP_CONNECTION_RATE`` new ones, from one address: ``421`` and closed (a real MTA
  retries later); networks in ``REBOUND_SMTP_EXEMPT`` are not limited;
- ``EHLO``: ``SIZE`` (REBOUND_MAX_BODY_BYTES), ``8BITMIME``, ``SMTPUTF8``, ``STARTTLS`` when a
  certificate is configured (``REBOUND_SMTP_TLS_CERT``/``_KEY``; required with
  ``REBOUND_SMTP_REQUIRE_TLS``); LMTP's ``LHLO`` with ``REBOUND_SMTP_LMTP``;
- ``MAIL``: a declared ``SIZE`` over the limit is ``552``; beyond ``REBOUND_SMTP_MESSAGE_RATE``
  messages from one address, ``451`` (try later);
- ``RCPT``: only addresses of the tenants' return paths (``rebound returnpath``) are accepted:
  another domain is ``550 5.7.1`` (no relay), an unknown address on a served domain
  ``550 5.1.1``; the routes could not be read at all: ``451``;
- ``DATA``: more than the size limit is ``552``; then the message is parsed, classified and
  stored (``message.take``, in a worker thread) and only then answered ``250`` (stored, or
  held for review when a signed return path does not verify); ``554 5.6.0`` for a message
  that is not a report or not mail; ``451 4.3.0`` while Redis is unavailable, so the MTA
  keeps it and retries (the retry is stored once: the same bytes are the same events).

Over SMTP one answer covers every recipient of a message (a temporary failure for one is a
451 for all: their retry is idempotent); over LMTP each recipient gets its own.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from store import CredentialsUnreadable
from webhook.errors import STORE_UNAVAILABLE
from webhook.intake import metrics
from webhook.intake.message import HELD, STORED, take
from webhook.intake.routing import NotOurs, Router, UnknownAddress
from webhook.settings import Settings

log = logging.getLogger("rebound.smtp")
DEFAULT_PORT = 2525
TEMPFAIL = "451 4.3.0 the store is unavailable; nothing was stored, try again later"
IDENT = "Rebound bounce intake"


class Gate:
    """Per-client-address limits: connections held open at once, new connections and
    messages per period (moving windows, ``limits``' in-memory limiter: one listener process
    holds the counts). Called from the event loop only."""

    def __init__(self, per_ip: int, connection_rate: str, message_rate: str, exempt: str = ""):
        self.per_ip = per_ip
        self.open: dict[str, int] = {}
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.connection_rate, self.message_rate = parse(connection_rate), parse(message_rate)
        self.exempt = [ipaddress.ip_network(p.strip(), strict=False) for p in exempt.split(",") if p.strip()]

    def _exempt(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.exempt)

    def connect(self, ip: str) -> str | None:
        """None when ``ip`` may connect (and is counted), else the reason it may not."""
        if self._exempt(ip):
            self.open[ip] = self.open.get(ip, 0) + 1
            return None
        if self.open.get(ip, 0) >= self.per_ip:
            return "too many connections from your address"
        if not self.limiter.hit(self.connection_rate, "conn", ip):
            return "too many new connections from your address"
        self.open[ip] = self.open.get(ip, 0) + 1
        return None

    def disconnect(self, ip: str) -> None:
        left = self.open.get(ip, 0) - 1
        if left > 0:
            self.open[ip] = left
        else:
            self.open.pop(ip, None)

    def message(self, ip: str) -> bool:
        return self._exempt(ip) or self.limiter.hit(self.message_rate, "msg", ip)


class _Limited:
    """The connection limits, in front of aiosmtpd's protocol (SMTP or LMTP)."""

    #: RFC 5321 asks for 1000-octet lines, but real bounces quote longer ones; a refusal
    #: would lose the bounce, so lines up to this are read (a line longer still is a 500)
    line_length_limit = 1 << 16

    def __init__(self, handler, gate: Gate, **kw):
        self.gate = gate
        self._counted: str | None = None
        self._refused = False
        super().__init__(handler, **kw)

    def connection_made(self, transport) -> None:
        if self.transport is None and self._counted is None:          # not the STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            ip = peer[0] if peer else "unknown"
            why = self.gate.connect(ip)
            if why is not None:
                metrics.SMTP_CONNECTIONS.labels("refused").inc()
                self._refused = True
                transport.write(f"421 4.7.0 {why}; try again later\r\n".encode())
                transport.close()
                return
            self._counted = ip
            metrics.SMTP_CONNECTIONS.labels("accepted").inc()
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if self._refused:
            return
        if self._counted is not None:
            self.gate.disconnect(self._counted)
            self._counted = None
        super().connection_lost(error)

    def eof_received(self):
        if self._refused:
            return False
        return super().eof_received()


class LimitedSMTP(_Limited, SMTP):
    pass


class LimitedLMTP(_Limited, LMTP):
    pass


class BounceHandler:
    """aiosmtpd's handler hooks: rate limits at MAIL, routing at RCPT, store at DATA."""

    def __init__(self, svc, router: Router, gate: Gate, executor: ThreadPoolExecutor, lmtp: bool):
        self.svc, self.router, self.gate, self.executor = svc, router, gate, executor
        self.lmtp = lmtp
        self.via = "lmtp" if lmtp else "smtp"

    async def handle_MAIL(self, server, session: Session, envelope: Envelope, address: str, options: list) -> str:
        ip = session.peer[0] if session.peer else "unknown"
        if not self.gate.message(ip):
            metrics.SMTP_MESSAGES.labels("rate_limited").inc()
            return "451 4.7.1 too many messages from your address; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        envelope.deliveries = []
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str, options: list) -> str:
        loop = asyncio.get_running_loop()
        try:
            delivery = await loop.run_in_executor(self.executor, self.router.route, address)
        except NotOurs:
            metrics.SMTP_RECIPIENTS.labels("relay_denied").inc()
            return f"550 5.7.1 <{address}>: relay access denied (this host takes bounces for its return paths only)"
        except UnknownAddress:
            metrics.SMTP_RECIPIENTS.labels("unknown").inc()
            return f"550 5.1.1 <{address}>: no such return path"
        except STORE_UNAVAILABLE:
            metrics.SMTP_RECIPIENTS.labels("tempfail").inc()
            return "451 4.3.0 the return paths cannot be read now; try again later"
        metrics.SMTP_RECIPIENTS.labels("accepted").inc()
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        envelope.deliveries.append(delivery)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        loop = asyncio.get_running_loop()
        raw = envelope.original_content
        replies = [await loop.run_in_executor(self.executor, self._take, d, raw) for d in envelope.deliveries]
        if self.lmtp:
            return "\r\n".join(replies)
        for first in ("4", "5"):                  # one answer for all: the most cautious one
            for reply in replies:
                if reply.startswith(first):
                    return reply
        return replies[0]

    def _take(self, delivery, raw: bytes) -> str:
        try:
            taken = take(self.svc, delivery.tenant, raw, via=self.via, delivery=delivery)
        except STORE_UNAVAILABLE as exc:
            metrics.SMTP_MESSAGES.labels("tempfail").inc()
            log.warning("store unavailable: message not acknowledged", extra={"error": type(exc).__name__})
            return TEMPFAIL
        except CredentialsUnreadable as exc:
            metrics.SMTP_MESSAGES.labels("tempfail").inc()
            log.error("return-path key unreadable", extra={"tenant": delivery.tenant, "why": str(exc)})
            return "451 4.3.5 this return path cannot be verified now; try again later"
        except Exception:                          # noqa: BLE001 - never lose a bounce to a bug: retry
            metrics.SMTP_MESSAGES.labels("error").inc()
            log.exception("message could not be taken", extra={"tenant": delivery.tenant})
            return "451 4.3.0 internal error; try again later"
        metrics.SMTP_MESSAGES.labels(taken.outcome).inc()
        log.info("message taken", extra={"tenant": delivery.tenant, "outcome": taken.outcome, "via": self.via,
                                         "accepted": taken.accepted, "duplicates": taken.duplicates})
        if taken.outcome == STORED:
            return f"250 2.0.0 stored: {taken.accepted} new, {taken.duplicates} known"
        if taken.outcome == HELD:
            return f"250 2.0.0 accepted as {taken.held[:12]}"
        return f"554 5.6.0 {taken.reason}"


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.smtp_tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
    return ctx


class SmtpServer:
    """The listener: its own event loop, in the calling thread (``serve_forever``) or in a
    background thread (``start``/``stop``, for tests and ``rebound serve``)."""

    def __init__(self, settings: Settings, svc, *, host: str | None = None, port: int | None = None):
        self.settings, self.svc = settings, svc
        self.host = host or settings.smtp_host
        self.port = settings.smtp_port or DEFAULT_PORT if port is None else port
        self.gate = Gate(settings.smtp_connections_per_ip, settings.smtp_connection_rate, settings.smtp_message_rate,
                         settings.smtp_exempt)
        self.router = Router(svc.store)
        self.executor = ThreadPoolExecutor(max_workers=settings.smtp_workers, thread_name_prefix="smtp")
        self.handler = BounceHandler(svc, self.router, self.gate, self.executor, settings.smtp_lmtp)
        self.tls = tls_context(settings)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    def _protocol(self):
        cls = LimitedLMTP if self.settings.smtp_lmtp else LimitedSMTP
        return cls(self.handler, self.gate, data_size_limit=self.settings.max_body_bytes, enable_SMTPUTF8=True,
                   hostname=self.settings.smtp_hostname, ident=IDENT, tls_context=self.tls,
                   require_starttls=self.settings.smtp_require_tls, timeout=300, loop=self.loop)

    async def _listen(self) -> None:
        self.server = await self.loop.create_server(self._protocol, host=self.host, port=self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("smtp listening", extra={"host": self.host, "port": self.port, "lmtp": self.settings.smtp_lmtp,
                                          "starttls": self.tls is not None})

    def start(self) -> "SmtpServer":
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._listen())
            except BaseException as exc:               # noqa: BLE001 - handed to the starting thread
                failed.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            self._close()

        self._thread = threading.Thread(target=run, name="smtp-listener", daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            raise failed[0]
        return self

    def stop(self) -> None:
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.executor.shutdown(wait=True)

    def _close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.loop.run_until_complete(self.server.wait_closed())
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def serve_forever(self, on_ready=None) -> None:
        """Run until SIGTERM or SIGINT, in this thread."""
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._listen())
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.loop.stop)
        if on_ready is not None:
            on_ready(self)
        try:
            self.loop.run_forever()
        finally:
            self._close()
            self.executor.shutdown(wait=True)
