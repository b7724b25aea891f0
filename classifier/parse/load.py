"""Raw bytes to the few pieces of a message that bounce parsing reads.

flanker parses the MIME structure; when it refuses a message (broken boundaries, which
real bounces have more often than one would think) Python's own ``email`` parser in its
lenient compat32 mode takes over. Either way the result is the same :class:`Loaded`
shape, so the format parsers never see which library read the message.

What is kept: the top-level headers (decoded), the readable text parts of the
notification (HTML turned into text), the delivery-status and feedback-report parts as
text, and the headers of the returned original message when it is attached.
"""
from __future__ import annotations

import codecs
import contextlib
import email
import email.header
import email.policy
import io
import logging
import re
from dataclasses import dataclass, field

from classifier.parse import limits
from classifier.parse.text import html_to_text


class MessageError(ValueError):
    """The input is not something the parser can read as an email; the text says why."""


class NotAnEmail(MessageError):
    pass


class HeaderTooLarge(MessageError):
    pass


class UnreadableMessage(MessageError):
    """The parser failed on the input in a way no check foresaw (a bug or a new kind of
    breakage): the input is reported as unreadable instead of crashing the caller."""


with contextlib.redirect_stderr(io.StringIO()):  # flanker's address grammar chatters on import
    from flanker import mime as _flanker_mime
    from flanker.mime.message.part import Stream as _FlankerStream
    from flanker.mime.message.part import _decode_body as _flanker_decode
    from flanker.mime.message.part import _decode_transfer_encoding as _flanker_transfer_decode
logging.getLogger("flanker").setLevel(logging.ERROR)


class Headers:
    """Case-insensitive, multi-valued, decoded and unfolded header values."""

    __slots__ = ("_d", "items")

    def __init__(self, items: list[tuple[str, str]] | None = None):
        self.items: list[tuple[str, str]] = []
        self._d: dict[str, list[str]] = {}
        for name, value in items or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        if "\n" in value:
            value = _UNFOLD.sub(" ", value)
        value = value.strip()
        self.items.append((name, value))
        self._d.setdefault(name.lower(), []).append(value)

    def get(self, name: str, default: str = "") -> str:
        values = self._d.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return self._d.get(name.lower(), [])

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._d

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class Loaded:
    headers: Headers
    content_type: str = "text/plain"
    report_type: str = ""
    #: Readable parts of the notification itself (not of the returned message).
    texts: list[str] = field(default_factory=list)
    #: message/delivery-status (and message/global-delivery-status) parts.
    dsn: list[str] = field(default_factory=list)
    #: message/feedback-report parts (ARF).
    feedback: list[str] = field(default_factory=list)
    #: Headers of the returned original message, when it is attached as a MIME part.
    original: Headers | None = None
    truncated: bool = False
    parser: str = "flanker"
    #: Final-Recipient fields in the bytes parsed: how many recipients a DSN names, whether
    #: or not they were all read
    named_recipients: int = 0

    @property
    def head(self) -> str:
        """The start of the notification text: where every MTA puts its telltale lines."""
        cached = self.__dict__.get("_head")
        if cached is None:
            cached = "\n".join(t[:n] for t, n in zip(self.texts[:2], (1500, 500)))
            self.__dict__["_head"] = cached
        return cached

    @property
    def received_head(self) -> str:
        """The first few Received headers, where relays and gateways name themselves."""
        cached = self.__dict__.get("_received")
        if cached is None:
            cached = self.__dict__["_received"] = "\n".join(self.headers.get_all("received")[:4])
        return cached

    def lowered(self, name: str) -> str:
        """A header's first value (``received``: the first four) lower-cased, cached."""
        cache = self.__dict__.setdefault("_lowered", {})
        value = cache.get(name)
        if value is None:
            value = cache[name] = (self.received_head if name == "received" else self.headers.get(name)).lower()
        return value

    @property
    def head_lower(self) -> str:
        cached = self.__dict__.get("_head_lower")
        if cached is None:
            cached = self.__dict__["_head_lower"] = self.head.lower()
        return cached


_UNFOLD = re.compile(r"\r?\n[ \t]+")
_HEADER_LINE = re.compile(rb"^(?:From |[!-9;-~]{1,76}:)")
_HEADER_END = re.compile(rb"\r?\n\r?\n")

_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                             "message/global", "message/global-headers", "message/partial"})


def _precheck(raw: bytes) -> tuple[bytes, bool]:
    """Reject what is not mail, and cut what is too big, before any parser runs."""
    if not isinstance(raw, (bytes, bytearray)):
        raise NotAnEmail("input must be bytes")
    stripped = raw.lstrip(b"\r\n\t ")
    if not stripped:
        raise NotAnEmail("empty input: no header, no body")
    if not _HEADER_LINE.match(stripped[:1000]):
        raise NotAnEmail("input does not start with a mail header (Name: value)")
    end = _HEADER_END.search(stripped, 0, limits.MAX_HEADER_BYTES + 4)
    if end is None and len(stripped) > limits.MAX_HEADER_BYTES:
        raise HeaderTooLarge(f"header block exceeds {limits.MAX_HEADER_BYTES} bytes")
    head = stripped[: end.start() if end else len(stripped)]
    if head.count(b"\x00") or _binary_ratio(head[:4096]) > 0.3:
        raise NotAnEmail("header block contains binary data")
    truncated = False
    if len(stripped) > limits.MAX_PARSE_BYTES:
        stripped, truncated = stripped[: limits.MAX_PARSE_BYTES], True
    # A MIME bomb is many parts; cut the message before the part that exceeds the cap.
    cut = part_cut(stripped)
    if cut is not None:
        stripped, truncated = stripped[:cut], True
    return bytes(stripped), truncated


def part_cut(data: bytes, boundaries: list[bytes] | None = None) -> int | None:
    """Where to cut ``data`` so that it has at most :data:`~limits.MAX_PARTS` MIME parts,
    or None when it has no more.

    Parts are counted by their delimiter lines (``--boundary``), which is what a MIME parser
    splits on, for every boundary the message declares (or ``boundaries``): a part needs no
    header of its own (a part without Content-Type is text/plain), so counting Content-Type
    lines let 200,000 header-less parts through to the parser (issue 15). Searched with
    ``bytes.find``, not a regular expression: a hostile 2 MiB message costs a fraction of a
    millisecond here, and the scan holds no other thread of the worker back."""
    if boundaries is None:
        boundaries = declared_boundaries(data)
    starts: list[int] = []
    for boundary in boundaries:
        needle, at = b"\n--" + boundary, 0
        for _ in range(limits.MAX_PARTS + 1):
            at = data.find(needle, at)
            if at < 0:
                break
            at += 1
            starts.append(at)
    if len(starts) <= limits.MAX_PARTS:
        return None
    return sorted(starts)[limits.MAX_PARTS]


def declared_boundaries(data: bytes) -> list[bytes]:
    """The distinct ``boundary=`` parameters of the message (at most MAX_PARTS + 1 of them:
    each multipart declares one, and beyond that many the parts are over the cap anyway)."""
    lowered = data.lower()
    found: dict[bytes, None] = {}
    at = lowered.find(b"boundary")
    while at >= 0 and len(found) <= limits.MAX_PARTS:
        m = _BOUNDARY_PARAM.match(data, at)
        if m:
            value = m.group(2).strip(b'"')
            if value:
                found[value] = None
        at = lowered.find(b"boundary", at + 8)
    return list(found)


_CONTROL = bytes(b for b in range(256) if b < 9 or 13 < b < 32 or b == 127)


def _binary_ratio(chunk: bytes) -> float:
    if not chunk:
        return 0.0
    return (len(chunk) - len(chunk.translate(None, _CONTROL))) / len(chunk)


def load(raw: bytes, budget=None) -> Loaded:
    """Parse ``raw`` within the limits of :mod:`classifier.parse.limits`; ``budget`` (a
    :class:`~classifier.parse.budget.Budget`) is checked before each part is read."""
    data, truncated = _precheck(raw)
    check = budget.check if budget is not None else _no_check
    try:
        loaded = _from_flanker(data, check)
    except MessageError:                 # the budget, spent while reading the parts
        raise
    except (Exception, RecursionError):  # flanker raises many types on broken MIME
        check("parse")
        loaded = _from_stdlib(data, check)
        if not (loaded.texts or loaded.dsn or loaded.feedback):
            loaded = _repair(data, loaded, check)
    loaded.truncated = truncated or loaded.truncated
    loaded.named_recipients = named_recipients(data)
    return loaded


def _no_check(stage: str) -> None:
    pass


def named_recipients(data: bytes) -> int:
    """Final-Recipient fields (lines) in ``data``: how many recipients a DSN names."""
    return data.lower().count(b"\nfinal-recipient")


_BOUNDARY_LINE = re.compile(rb"^--([^\s-][^\r\n]{2,200}?)(?:--)?\r?$", re.M)
_BOUNDARY_PARAM = re.compile(rb"""(boundary\s*=\s*)("[^"]*"|[^;\s]+)""", re.I)


def _repair(data: bytes, loaded: Loaded, check=_no_check) -> Loaded:
    """A multipart whose declared boundary never occurs (seen in real bounces): use the
    boundary the body actually has, or failing that read the whole body as text."""
    end = _HEADER_END.search(data)
    head, body = (data[: end.start()], data[end.end():]) if end else (data, b"")
    m = _BOUNDARY_LINE.search(body)
    if m and body.count(b"--" + m.group(1)) >= 2 and _BOUNDARY_PARAM.search(head):
        fixed = _BOUNDARY_PARAM.sub(lambda p: p.group(1) + b'"' + m.group(1) + b'"', head, count=1)
        cut = part_cut(body, [m.group(1)])        # the boundary found counts parts as the declared ones do
        if cut is not None:
            body = body[:cut]
        repaired = _from_stdlib(fixed + b"\n\n" + body, check)
        repaired.truncated = repaired.truncated or cut is not None
        if repaired.texts or repaired.dsn or repaired.feedback:
            return repaired
    loaded.texts.append(body.decode("utf-8", "replace")[: limits.MAX_TEXT_CHARS * 4])
    return loaded


# --- flanker ----------------------------------------------------------------------------

def _from_flanker(data: bytes, check=_no_check) -> Loaded:
    msg = _flanker_mime.from_string(data)
    # flanker knows each part's Content-Type from its scan; asking it for the top-level
    # headers would decode every one of them (dozens of Received lines). Our own reader
    # of the raw header block does the same job for the few that are read, much faster.
    end = _HEADER_END.search(data)
    headers = parse_header_block(data[: end.start() if end else len(data)].decode("utf-8", "replace"),
                                 limit=1000)
    ctype = msg.content_type
    loaded = Loaded(headers=headers, content_type=ctype.value.lower(),
                    report_type=str(ctype.params.get("report-type", "")).lower())
    _walk_flanker(msg, loaded, 0, [0], check)
    return loaded


def _str(value) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "value"):   # flanker ContentType and friends
        params = "".join(f"; {k}={v}" for k, v in getattr(value, "params", {}).items())
        return f"{value.value}{params}"
    return str(value)


def _walk_flanker(part, loaded: Loaded, depth: int, count: list[int], check=_no_check) -> None:
    count[0] += 1
    if depth > limits.MAX_DEPTH or count[0] > limits.MAX_PARTS:
        return
    check("parse")
    ctype = part.content_type.value.lower()
    if ctype.startswith("multipart/"):
        for sub in part.parts:
            _walk_flanker(sub, loaded, depth + 1, count, check)
        return
    if ctype in _ORIGINAL_TYPES:
        enclosed = getattr(part, "enclosed", None) if ctype == "message/rfc822" else None
        if enclosed is not None and not loaded.dsn and enclosed.content_type.value.lower() == "multipart/report":
            # a bounce forwarded as an attachment: read the report inside it
            _walk_flanker(enclosed, loaded, depth + 1, count, check)
            return
        if loaded.original is None:
            loaded.original = _original_headers_flanker(part, ctype)
        return
    if ctype in _DSN_TYPES or ctype == "message/feedback-report":
        body = _read_cut(_flanker_body(part), loaded)
        (loaded.dsn if ctype in _DSN_TYPES else loaded.feedback).append(body)
        return
    if ctype in ("text/plain", "text/html", "text/enriched") or ctype == "text" or not ctype:
        body = _read_cut(_flanker_body(part), loaded)
        loaded.texts.append(html_to_text(body) if ctype == "text/html" else body)


def _read_cut(text: str, loaded: Loaded) -> str:
    """A part's text as read: at the cap it was cut (``_flanker_body``), which the result says."""
    if len(text) >= limits.MAX_TEXT_CHARS * 4:
        loaded.truncated = True
    return text


_CTE = re.compile(r"^content-transfer-encoding:[ \t]*([\w-]+)", re.I | re.M)


def _stream_body(part):
    """The decoded body of a leaf part, by flanker's own decoder, without making flanker
    parse and decode every header of the part first (only the transfer encoding is read).
    None when the part is not a plain scanned stream."""
    container = getattr(part, "_container", None)
    if not isinstance(container, _FlankerStream):
        return None
    raw = container.string[container.start: container.end + 1]
    if raw.startswith(("\n", "\r\n")):
        head, body = "", raw.lstrip("\r\n")
    else:
        cut = raw.find("\n\n")
        cut_crlf = raw.find("\r\n\r\n")
        if cut_crlf >= 0 and (cut < 0 or cut_crlf < cut):
            head, body = raw[:cut_crlf], raw[cut_crlf + 4:]
        elif cut >= 0:
            head, body = raw[:cut], raw[cut + 2:]
        else:
            head, body = raw, ""
    m = _CTE.search(head)
    encoding = m.group(1).lower() if m else "7bit"
    try:
        return _flanker_decode(part.content_type, encoding, body)
    except Exception:  # noqa: BLE001 - flanker decodes strictly, then guesses, then gives up
        return _lenient_decode(part.content_type, encoding, body)


def _lenient_decode(ctype, encoding: str, body):
    """A body flanker could not decode (bytes that do not fit the charset, a charset that is
    not one): its transfer encoding undone by flanker's own forgiving decoders, its
    charset decoded with what does not fit replaced."""
    try:
        data = _flanker_transfer_decode(encoding, body)
    except Exception:  # noqa: BLE001 - undecodable base64/quoted-printable: read as it is
        data = body
    if isinstance(data, bytes):
        try:
            charset = ctype.get_charset() if ctype.main == "text" else None
        except Exception:  # noqa: BLE001
            charset = None
        data = decode_bytes(data, charset)
    return data


def _flanker_body(part) -> str:
    try:
        body = _stream_body(part)
        if body is None:
            body = part.body
    except Exception:  # noqa: BLE001 - a part flanker cannot decode is read raw below
        body = None
    if body is None:
        # flanker gives no body for some message/* types (feedback-report): read it raw
        raw = part.to_string()
        raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        split = re.search(r"\r?\n\r?\n", raw)
        body = raw[split.end():] if split else ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    elif not isinstance(body, str):
        body = str(body)
    return _iso2022(body[: limits.MAX_TEXT_CHARS * 4])


def _iso2022(text: str) -> str:
    """7-bit ISO-2022-JP left undecoded (flanker passes it through as ASCII): decode it."""
    if "\x1b$" not in text and "\x1b(" not in text:
        return text
    try:
        return text.encode("latin-1").decode("iso2022_jp_ext", "replace")
    except (UnicodeError, LookupError):
        return text


def _original_headers_flanker(part, ctype: str) -> Headers:
    if ctype.endswith("headers") or ctype == "message/partial":
        return parse_header_block(_flanker_body(part))
    enclosed = getattr(part, "enclosed", None)
    if enclosed is None:
        return parse_header_block(_flanker_body(part))
    # flanker would decode every header of the returned message; a few are needed, and
    # reading the raw header block is an order of magnitude cheaper
    inner = _stream_body(part)          # the message/rfc822 part's body: the message itself
    if isinstance(inner, str) and inner.strip():
        return parse_header_block(inner)
    raw = enclosed.to_string()
    return parse_header_block(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)


# --- stdlib fallback --------------------------------------------------------------------

def _from_stdlib(data: bytes, check=_no_check) -> Loaded:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    loaded = Loaded(headers=Headers([(k, decode_header(v)) for k, v in msg.items()]),
                    content_type=msg.get_content_type(),
                    report_type=str(msg.get_param("report-type") or "").lower(), parser="email")
    _walk_stdlib(msg, loaded, 0, [0], check)
    return loaded


def decode_header(value) -> str:
    """RFC 2047 decoding that never raises (broken encoded words stay as they are)."""
    if isinstance(value, email.header.Header):
        value = str(value)
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:  # noqa: BLE001 - LookupError, UnicodeError, ValueError, HeaderParseError, ...
        return value


def _payload_text(part) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        inner = part.get_payload()
        return inner if isinstance(inner, str) else ""
    return decode_bytes(payload[: limits.MAX_TEXT_CHARS * 4], part.get_content_charset())


#: Codecs Python has under names a charset parameter may carry, which are not character
#: sets: they raise on ordinary text whatever the error handler (``idna``, ``punycode``,
#: ``undefined``) or interpret escape sequences (``unicode_escape``).
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Bytes of a part as text in its declared charset; an unknown, broken or hostile charset
    (``x-unknown``, a NUL in the name, a codec that is not a character set) and bytes that
    do not fit it never raise: what cannot be decoded is replaced, and a charset Python
    cannot use is read as UTF-8."""
    try:
        codec = codecs.lookup((charset or "utf-8").strip())
        if codec.name in _NOT_CHARSETS:
            raise LookupError(codec.name)
        return payload.decode(codec.name, "replace")
    except Exception:  # noqa: BLE001 - LookupError, ValueError (NUL), UnicodeError, ...
        return payload.decode("utf-8", "replace")


def _walk_stdlib(part, loaded: Loaded, depth: int, count: list[int], check=_no_check) -> None:
    count[0] += 1
    if depth > limits.MAX_DEPTH or count[0] > limits.MAX_PARTS:
        return
    check("parse")
    ctype = part.get_content_type()
    if ctype in _ORIGINAL_TYPES:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and not loaded.dsn and \
                inner[0].get_content_type() == "multipart/report":
            _walk_stdlib(inner[0], loaded, depth + 1, count, check)
            return
        if loaded.original is None:
            if isinstance(inner, list) and inner:
                loaded.original = Headers([(k, decode_header(v)) for k, v in inner[0].items()])
            else:
                loaded.original = parse_header_block(inner if isinstance(inner, str) else "")
        return
    if ctype in _DSN_TYPES or ctype == "message/feedback-report":
        inner = part.get_payload()
        if isinstance(inner, list):   # compat32 parses DSN field groups as sub-messages
            text = "\n\n".join("\n".join(f"{k}: {v}" for k, v in m.items()) for m in inner)
        else:
            text = _read_cut(_payload_text(part), loaded)
        (loaded.dsn if ctype in _DSN_TYPES else loaded.feedback).append(text)
        return
    if part.is_multipart():
        for sub in part.get_payload():
            _walk_stdlib(sub, loaded, depth + 1, count, check)
        return
    if part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment":
        body = _read_cut(_payload_text(part), loaded)
        loaded.texts.append(html_to_text(body) if ctype == "text/html" else body)


_FIELDS = re.compile(r"^([!-9;-~]+)[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.M)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def parse_header_block(text: str, limit: int = 200) -> Headers:
    """Parse ``Name: value`` fields (with folding) up to the first blank line; lines that
    are not fields are skipped, RFC 2047 encoded words decoded."""
    text = text.replace("\r\n", "\n").lstrip("\n")
    end = _BLANK_LINE.search(text)
    if end is not None:
        text = text[: end.start() + 1]
    headers = Headers()
    for m in _FIELDS.finditer(text):
        value = m.group(2)
        if "\n" in value:
            value = _UNFOLD.sub(" ", value.replace("\r", ""))
        headers.add(m.group(1), decode_header(value))
        if len(headers.items) >= limit:
            break
    return headers
