"""The one way Rebound makes outgoing HTTP calls (SNS signing certificates, SNS subscription
confirmations).

Small on purpose: GET only, a timeout on connect and read, a size limit, no redirects, TLS
verified against the system's CAs. Callers decide which URLs are acceptable *before*
calling (see ``webhook.esp.sns``); this module never decides that a URL is safe.

Tests replace the ``connect_to`` map and the TLS context to send "sns.<region>.amazonaws.com"
to a local HTTPS server that presents a certificate of a test CA: everything else (TLS with
SNI, certificate verification, HTTP) is the production path.
"""
from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

USER_AGENT = "rebound-webhooks/1"


class FetchError(Exception):
    """The URL could not be fetched (network, TLS, status or size)."""


class Fetcher:
    def __init__(self, timeout: float = 5.0, max_bytes: int = 256 * 1024,
                 ssl_context: ssl.SSLContext | None = None,
                 connect_to: dict[str, tuple[str, int]] | None = None):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ssl_context = ssl_context or ssl.create_default_context()
        #: "host:port" -> (address, port) to connect to instead (like curl --connect-to)
        self.connect_to = dict(connect_to or {})

    def get(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, port, timeout=self.timeout, context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=self.timeout)
        target = self.connect_to.get(f"{parts.hostname}:{port}")
        if target is not None:
            # connect elsewhere, but keep the name for SNI, certificate checks and Host
            conn._create_connection = lambda _addr, timeout, source: socket.create_connection(  # type: ignore[attr-defined]
                target, timeout, source)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            resp = conn.getresponse()
            body = resp.read(self.max_bytes + 1)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise FetchError(f"GET {parts.hostname}{parts.path} failed: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200:
            raise FetchError(f"GET {parts.hostname}{parts.path} answered {resp.status}")
        if len(body) > self.max_bytes:
            raise FetchError(f"GET {parts.hostname}{parts.path}: body larger than {self.max_bytes} bytes")
        return body
