"""gunicorn's threaded worker, except that no thread waits for a client to send its request.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes
arrive; the thread then reads the rest of the request, blocking. Ten clients announcing a
body larger than what they send held all 2 x 4 threads for minutes, and /healthz and every
lookup with them (issue 15). Here the worker's main loop, which already watches every socket,
reads each request whole (request line, headers and body, chunked or not), without
blocking, before a thread gets it; a thread only ever runs a request that is all in
memory. A slow client costs a buffer, not a thread.

Bounds, all answered by the main loop, with the JSON error shape of the service and the
connection closed (lingering, so the client reads the answer even while it is still
sending):

- a request must arrive whole within ``REBOUND_BODY_TIMEOUT`` of its first byte: 408;
- a body over ``REBOUND_MAX_BODY_BYTES`` (announced, or counted while chunks arrive): 413,
  before the rest is read and before any route runs;
- a header block over 64 KiB: 431;
- the bytes buffered by one worker's pending requests stay under a memory budget (eight
  times the largest body, at least 64 MiB): beyond it a request is answered 503 with
  Retry-After instead of growing the worker without bound;
- one client address may have at most ``PER_CLIENT`` requests being received at once per
  worker (a connection budget): beyond it, 429 with Retry-After.

``Expect: 100-continue`` is answered here once the announced length is known to fit. A
buffering reverse proxy in front (README, compose.yaml) remains the production setup: it
also keeps idle connections and TLS away from the workers.
"""
from __future__ import annotations

import errno
import re
import selectors
import time
from collections import Counter
from functools import partial

from gunicorn import http
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

from webhook.guard import error_body, too_large_message

MAX_HEADER = 64 * 1024
PER_CLIENT = 64
LINGER = 2.0
MIN_BUFFER_BUDGET = 64 << 20

_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.I | re.M)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.I | re.M)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")

STATUS = {408: "Request Timeout", 413: "Content Too Large", 429: "Too Many Requests",
          431: "Request Header Fields Too Large", 503: "Service Unavailable"}
REFUSALS = {408: ("body_timeout", "the request did not arrive whole within {timeout:g} s (REBOUND_BODY_TIMEOUT)"),
            429: ("too_many_uploads", "too many requests from your address are being received at once; retry"),
            431: ("header_too_large", "the header block is larger than 65536 bytes"),
            503: ("busy", "the service is receiving too much at once; retry")}


class Incomplete(Exception):
    """More bytes are needed."""


class Framing:
    """Where one HTTP/1.x request ends in the bytes received so far.

    ``feed`` returns None while more is needed, the length of the request once it is
    whole, or raises Refuse; anything it does not understand (a malformed length, an odd
    chunk line) is "whole" as far as this goes: gunicorn's parser, run on the bytes, then
    answers the 400 itself without waiting for more.
    """

    def __init__(self, max_body: int):
        self.max_body = max_body
        self.header_end: int | None = None
        self.length: int | None = None      # Content-Length
        self.chunked = False
        self.pos = 0                         # chunked: where the next chunk line starts
        self.body = 0                        # chunked: body bytes so far
        self.expect_continue = False

    def feed(self, buf: bytearray) -> int | None:
        if self.header_end is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER:
                    raise Refuse(431)
                return None
            self.header_end = end + 4
            head = bytes(buf[:end])
            te = _TRANSFER_ENCODING.findall(head)
            cl = _CONTENT_LENGTH.findall(head)
            if te:
                if cl or len(te) > 1 or te[0].lower().replace(b" ", b"").split(b",")[-1] != b"chunked":
                    return self.header_end            # gunicorn refuses these framings
                self.chunked, self.pos = True, self.header_end
            elif cl:
                if len(cl) > 1 or not cl[0].isdigit():
                    return self.header_end
                self.length = int(cl[0])
                if self.length > self.max_body:
                    raise Refuse(413)
            self.expect_continue = bool(_EXPECT_CONTINUE.search(head))
        if self.chunked:
            return self._chunks(buf)
        end = self.header_end + (self.length or 0)
        return end if len(buf) >= end else None

    def _chunks(self, buf: bytearray) -> int | None:
        while True:
            line_end = buf.find(b"\r\n", self.pos)
            if line_end < 0:
                if len(buf) - self.pos > 4096:
                    return len(buf)                   # not a chunk line: gunicorn says 400
                return None
            size_text = bytes(buf[self.pos:line_end]).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                return len(buf)
            size = int(size_text, 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    if buf[line_end:line_end + 4] == b"\r\n\r\n":
                        return line_end + 4
                    return None
                return trailer_end + 4
            self.body += size
            if self.body > self.max_body:
                raise Refuse(413)
            nxt = line_end + 2 + size + 2
            if len(buf) < nxt:
                return None
            self.pos = nxt


class Refuse(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class Receiving:
    """A connection whose request is being read by the main loop."""

    __slots__ = ("buf", "conn", "deadline", "framing", "ip", "sent_continue")

    def __init__(self, conn, max_body: int, deadline: float, buf: bytes = b""):
        self.conn = conn
        self.buf = bytearray(buf)
        self.framing = Framing(max_body)
        self.deadline = deadline
        self.ip = conn.client[0] if isinstance(conn.client, tuple) else str(conn.client)
        self.sent_continue = False


class BufferingWorker(ThreadWorker):
    """See the module docstring. Settings come from the app's (``wsgi.settings``)."""

    def init_process(self):
        settings = self.app.settings
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout
        self.buffer_budget = max(8 * self.max_body, MIN_BUFFER_BUDGET)
        self.receiving: dict[int, Receiving] = {}
        self.buffered = 0
        self.per_client: Counter = Counter()
        self.lingering: dict[int, tuple] = {}
        super().init_process()

    # -- the hand-over points of ThreadWorker ------------------------------------------------
    def enqueue_req(self, conn):
        if getattr(conn, "whole", False) or self.cfg.is_ssl:
            conn.whole = False
            return super().enqueue_req(conn)
        pending = b""
        if conn.parser is not None and not conn.is_http2:
            pending = conn.parser.unreader.take_buffered()   # pipelined: the next request's start
        elif conn.parser is not None:
            return super().enqueue_req(conn)
        rec = Receiving(conn, self.max_body, time.monotonic() + self.body_timeout, pending)
        if self.per_client[rec.ip] >= PER_CLIENT:
            return self._refuse(conn, 429, retry_after=1)
        self.per_client[rec.ip] += 1
        self.receiving[conn.sock.fileno()] = rec
        self.buffered += len(rec.buf)
        conn.sock.setblocking(False)
        if rec.buf and self._progress(rec):
            return
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, rec))

    def murder_keepalived(self, force=False):
        super().murder_keepalived(force)
        now = time.monotonic()
        for rec in [r for r in self.receiving.values() if force or r.deadline <= now]:
            self._forget(rec, unregister=True)
            if rec.buf:
                self._refuse(rec.conn, 408)
            else:
                self._close(rec.conn)             # connected, said nothing: like an idle keep-alive
        for fd, (conn, until) in list(self.lingering.items()):
            if force or until <= now:
                self._end_linger(fd)

    # -- reading -----------------------------------------------------------------------------
    def _on_readable(self, rec: Receiving, sock) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._forget(rec, unregister=True)
                self._close(rec.conn)
                return
            if not data:
                self._forget(rec, unregister=True)
                if rec.buf:
                    self._hand_over(rec)           # gunicorn's parser reports what is missing
                else:
                    self._close(rec.conn)
                return
            rec.buf += data
            self.buffered += len(data)
            if self._progress(rec, registered=True):
                return
            if len(data) < 65536:
                break

    def _progress(self, rec: Receiving, registered: bool = False) -> bool:
        """Look at what has arrived; True when the connection has left the reading state."""
        try:
            end = rec.framing.feed(rec.buf)
            if end is None and self.buffered > self.buffer_budget:
                raise Refuse(503)
        except Refuse as r:
            self._forget(rec, unregister=registered)
            self._refuse(rec.conn, r.status, retry_after=1 if r.status in (429, 503) else None)
            return True
        if end is not None:
            self._forget(rec, unregister=registered)
            self._hand_over(rec)
            return True
        if rec.framing.expect_continue and not rec.sent_continue and rec.framing.header_end is not None:
            rec.sent_continue = True
            try:
                rec.conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                pass
        return False

    def _forget(self, rec: Receiving, unregister: bool = False) -> None:
        fd = rec.conn.sock.fileno()
        if self.receiving.pop(fd, None) is None:
            return
        self.buffered -= len(rec.buf)
        self.per_client[rec.ip] -= 1
        if self.per_client[rec.ip] <= 0:
            del self.per_client[rec.ip]
        if unregister:
            try:
                self.poller.unregister(rec.conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _hand_over(self, rec: Receiving) -> None:
        conn = rec.conn
        conn.sock.setblocking(True)
        if conn.parser is None:
            if negotiation.prior_knowledge_allowed(self.cfg, conn.client):
                conn.data_ready = True                # HTTP/2 preface: gunicorn's own path
                conn.parser = None
            else:
                conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
                conn.initialized = True
        if conn.parser is not None:
            conn.parser.unreader.unread(bytes(rec.buf))
        else:
            return self._refuse(conn, 503, retry_after=1)
        conn.data_ready = True
        conn.whole = True
        self.enqueue_req(conn)

    # -- answering from the main loop ------------------------------------------------------------
    def _refuse(self, conn, status: int, retry_after: int | None = None) -> None:
        if status == 413:
            error, message = "payload_too_large", too_large_message(self.max_body)
        else:
            error, template = REFUSALS[status]
            message = template.format(timeout=self.body_timeout)
        from webhook import metrics

        metrics.REFUSED_EARLY.labels(str(status), error).inc()
        body = error_body(error, message)
        head = [f"HTTP/1.1 {status} {STATUS[status]}", "Content-Type: application/json",
                f"Content-Length: {len(body)}", "Connection: close"]
        if retry_after:
            head.append(f"Retry-After: {retry_after}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        sock = conn.sock
        try:
            sock.setblocking(False)
            sock.send(data)                       # small: fits the socket buffer
            sock.shutdown(1)                      # SHUT_WR: the answer is complete
        except OSError:
            return self._close(conn)
        # linger: read and drop what the client still sends, so that closing does not
        # reset the connection before it has read the answer
        fd = sock.fileno()
        self.lingering[fd] = (conn, time.monotonic() + LINGER)
        self.poller.register(sock, selectors.EVENT_READ, partial(self._on_linger, fd))

    def _on_linger(self, fd: int, sock) -> None:
        try:
            while sock.recv(65536):
                pass
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
        self._end_linger(fd)

    def _end_linger(self, fd: int) -> None:
        conn, _ = self.lingering.pop(fd, (None, None))
        if conn is None:
            return
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self._close(conn)

    def _close(self, conn) -> None:
        self.nr_conns -= 1
        conn.close()
