"""The outermost WSGI layer: every request's body is whole and within the limit before any
route sees it.

A body without Content-Length (``Transfer-Encoding: chunked``) used to reach the routes
through werkzeug's limited stream, which stops reading at ``REBOUND_MAX_BODY_BYTES`` and
says nothing: a 300,000-row import was stored cut, the row at the cut stored half (issue
15). Here such a body is read to the limit plus one byte; one byte more is a 413 before
anything is parsed or stored, on every route (the fast lookup path included). A body that
fits is handed on as a plain in-memory stream with its Content-Length, so nothing after
this layer can meet a chunked body again.

Reading a body has a deadline (``REBOUND_BODY_TIMEOUT``): a client announcing more than it
sends (or sending a byte a second) gets a 408 once it is spent instead of holding a thread.
Under ``rebound serve`` the body is already in memory when the request reaches a thread
(``webhook.worker``), and this deadline is only a second line.
"""
from __future__ import annotations

import io
import socket
import time

import orjson

TOO_LARGE = "413 Content Too Large"
TIMEOUT = "408 Request Timeout"
BAD = "400 Bad Request"
CHUNK = 64 * 1024


def error_body(error: str, message: str) -> bytes:
    return orjson.dumps({"error": error, "message": message})


def too_large_message(limit: int) -> str:
    return f"the body is larger than the {limit} bytes accepted (REBOUND_MAX_BODY_BYTES); nothing was stored"


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


def read_body(stream, length: int | None, limit: int, deadline: float, sock=None) -> bytes:
    """The whole body: ``length`` bytes, or (chunked, ``length`` None) up to the end of the
    stream. BodyTooLarge beyond ``limit``, BodyTimeout when ``deadline`` (monotonic) passes
    first; ``sock`` (the client's socket, when the server gives it) gets the time left as its
    timeout before each read, so a stalled client cannot block one read past the deadline."""
    if length is not None and length > limit:
        raise BodyTooLarge
    want = limit + 1 if length is None else length
    parts, got = [], 0
    while got < want:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BodyTimeout
        if sock is not None:
            sock.settimeout(left)
        try:
            chunk = stream.read(min(CHUNK, want - got))
        except (socket.timeout, TimeoutError):
            raise BodyTimeout from None
        except OSError as exc:
            if "timed out" in str(exc):
                raise BodyTimeout from None
            raise
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if length is None and got > limit:
        raise BodyTooLarge
    return b"".join(parts)


class BodyGuard:
    """WSGI middleware: bodies whole, bounded and read within a deadline (see module doc)."""

    def __init__(self, app, max_bytes: int, timeout: float, on_refused=None):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        #: called with (status code, reason) for each request refused here (metrics)
        self.on_refused = on_refused or (lambda status, reason: None)

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        raw_length = environ.get("CONTENT_LENGTH", "")
        if not chunked and not raw_length.strip():
            return self.app(environ, start_response)        # no body (GET, HEAD, an empty POST)
        try:
            length = None if chunked else int(raw_length)
            if length is not None and length < 0:
                raise ValueError
        except ValueError:
            return self._refuse(start_response, BAD, "invalid_content_length", "Content-Length is not a number")
        if length == 0:
            return self.app(environ, start_response)
        sock = environ.get("gunicorn.socket")
        previous = sock.gettimeout() if sock is not None else None
        try:
            body = read_body(environ["wsgi.input"], length, self.max_bytes,
                             time.monotonic() + self.timeout, sock)
        except BodyTooLarge:
            return self._refuse(start_response, TOO_LARGE, "payload_too_large", too_large_message(self.max_bytes))
        except BodyTimeout:
            return self._refuse(start_response, TIMEOUT, "body_timeout",
                                f"the body did not arrive within {self.timeout:g} s (REBOUND_BODY_TIMEOUT)")
        finally:
            if sock is not None:
                try:
                    sock.settimeout(previous)
                except OSError:
                    pass
        if length is not None and len(body) < length:
            return self._refuse(start_response, BAD, "incomplete_body",
                                f"the body ended after {len(body)} of the {length} bytes announced")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)

    def _refuse(self, start_response, status: str, error: str, message: str):
        self.on_refused(int(status[:3]), error)
        body = error_body(error, message)
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                ("Connection", "close")])
        return [body]
