"""Small text helpers shared by every format parser: addresses, codes, SMTP phases.

All patterns here are linear (no nested quantifiers) because they run over text that
anybody on the internet can write.
"""
from __future__ import annotations

import bisect
import html
import re

from classifier.parse import limits
from classifier.rules.status_codes import STATUS_RE as STATUS

# A practical address: dot-atom or quoted local part, a domain with at least one dot or a
# literal. Deliberately not RFC 5322 complete: NDR prose is the input, not headers.
ADDRESS = re.compile(
    r"""(?<![\w.+=/-])("[^"\r\n]{1,64}"|[\w!#$%&'*+/=?^`{|}~-][\w.!#$%&'*+/=?^`{|}~-]{0,127})"""
    r"""@((?:[\w-]{1,63}\.)+[\w-]{2,63}|\[[0-9A-Fa-f:.IPv]{3,45}\])(?![\w-])""",
    re.UNICODE,
)
REPLY = re.compile(r"(?<![\w.-])([245][0-5]\d)(?=[ -]|$)", re.M)
REPLY_LEADING = re.compile(r"^\W{0,3}([245][0-5]\d)(?=[ \-:;.,]|$)")
_WS = re.compile(r"\s+")
# HTML, read as text. A tag ends at the first ">" or stops at the next "<" (a stray "<" is
# text): every character is looked at by at most one tag, however many are left open.
_TAGS = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAGS = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d|/table|p|div|tr|li)\b[^<>]{0,1000}>", re.I)
_INVISIBLE_OPEN = re.compile(r"<(script|style|head)\b", re.I)
_INVISIBLE_CLOSE = re.compile(r"</(script|style|head)\s*>", re.I)
_SPACES = re.compile(r"[ \t\xa0]+")
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n){2,}")
_ANGLE = re.compile(r"<([^<>\s]{3,254})>")

# SMTP phase when the text states it, as a stable token.
_PHASES = [
    (re.compile(r"(?:in reply to|after|while sending|response to|during|error from remote mail server after|command was)\s+"
                r"(?:the\s+)?(?:'|\")?(RCPT(?:\s+TO)?|MAIL(?:\s+FROM)?|end of data|DATA|HELO|EHLO|STARTTLS|AUTH|RSET|BDAT|QUIT|CONNECT|initial connection|greeting|end of message|message body|sending message body)",
                re.I), None),
    (re.compile(r"(?:did not like our|does not like|rejected our|after our)\s+(RCPT(?:\s+TO)?|MAIL(?:\s+FROM)?|DATA|HELO|EHLO)", re.I), None),
    (re.compile(r"(?:>>>|\bIn:)\s*(RCPT\s+TO|MAIL\s+FROM|DATA|HELO|EHLO|STARTTLS|QUIT|\.)", re.I), None),
    (re.compile(r"\bSMTP[\s:]+(RCPT|MAIL|DATA)\b", re.I), None),
    (re.compile(r"\[(RCPT_TO|MAIL_FROM|DATA|EHLO|HELO|CONNECT)\]"), None),
]
_PHASE_TOKEN = {
    "rcpt": "RCPT", "rcpt to": "RCPT", "mail": "MAIL", "mail from": "MAIL",
    "data": "DATA", "end of data": "DATA", ".": "DATA", "bdat": "DATA", "end of message": "DATA",
    "message body": "DATA", "sending message body": "DATA",
    "helo": "HELO", "ehlo": "HELO", "starttls": "STARTTLS", "auth": "AUTH",
    "rset": "RSET", "quit": "QUIT", "connect": "CONN", "rcpt_to": "RCPT", "mail_from": "MAIL", "initial connection": "CONN", "greeting": "CONN",
}


def join_multiline_reply(text: str) -> str:
    """``550-5.7.1 foo 550-5.7.1 bar 550 5.7.1 baz`` -> ``550-5.7.1 foo bar baz``: the
    repeated code prefixes of a multi-line SMTP reply split phrases apart."""
    head = REPLY_LEADING.match(text)
    if not head:
        return text
    code = re.escape(head.group(1))
    again = re.compile(r"(?<=\s)" + code + r"[- ](?:[245]\.\d{1,3}\.\d{1,3}\s)?(?=\S)")
    return text[: head.end()] + again.sub("", text[head.end():])


def html_to_text(markup: str) -> str:
    """Cheap HTML-to-text, linear in the length of the markup whatever it holds (thousands
    of unclosed tags, deep nesting, huge attributes): enough to read NDR prose, not a
    renderer."""
    text = _drop_invisible(markup[: limits.MAX_TEXT_CHARS * 2])
    text = _BLOCK_TAGS.sub("\n", text)
    text = html.unescape(_TAGS.sub("", text))
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text)


def _drop_invisible(text: str) -> str:
    """Remove script, style and head elements. Their closing tags are found once, up front:
    searching forward from each opening tag would read to the end of the text again for
    every one left unclosed."""
    if _INVISIBLE_OPEN.search(text) is None:
        return text
    closes: dict[str, list[tuple[int, int]]] = {}
    for m in _INVISIBLE_CLOSE.finditer(text):
        closes.setdefault(m.group(1).lower(), []).append((m.start(), m.end()))
    out, pos = [], 0
    for m in _INVISIBLE_OPEN.finditer(text):
        ends = closes.get(m.group(1).lower())
        if m.start() < pos or not ends:
            continue
        i = bisect.bisect_left(ends, (m.end(), 0))
        if i < len(ends):
            out += (text[pos:m.start()], " ")
            pos = ends[i][1]
    out.append(text[pos:])
    return "".join(out)


def unfold(text: str) -> str:
    """One line, single spaces: how diagnostics are compared and shown."""
    return _WS.sub(" ", text).strip()


def addresses(text: str) -> list[str]:
    return [f"{m.group(1)}@{m.group(2)}" for m in ADDRESS.finditer(text)]


def first_address(text: str) -> str | None:
    m = ADDRESS.search(text)
    return f"{m.group(1)}@{m.group(2)}" if m else None


def clean_address(value: str) -> str | None:
    """The address in a header or DSN field value (``rfc822; <a@b>``, ``Name <a@b>``)."""
    if not value:
        return None
    if ";" in value[:12]:
        kind, _, rest = value.partition(";")
        if kind.strip().lower() in ("rfc822", "rfc 822", "x-unknown", "unknown", "utf-8", "x-local"):
            value = rest
    m = _ANGLE.search(value)
    candidate = m.group(1) if m else value
    found = first_address(candidate)
    if found:
        return found if found.startswith('"') else found.strip("'\".,;")
    return None


_STATUS_AFTER_REPLY = re.compile(r"(?<![\d.])[45]\d\d[ -]['\"]?([45])\.(\d{1,3})\.(\d{1,3})(?!\d)")


def find_status(text: str) -> str | None:
    """The code the remote server gave with its reply (``550 5.7.1``), else the first
    failure (4.x.x/5.x.x) code in the text, else the first code at all. Relays prefix their
    own summary code ("5.1.0 - Unknown address error 550-'5.7.1 ..."): the pair wins."""
    m = _STATUS_AFTER_REPLY.search(text)
    if m:
        return f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}"
    first = None
    for m in STATUS.finditer(text):
        code = f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}"
        if m.group(1) != "2":
            return code
        first = first or code
    return first


def find_reply(text: str) -> str | None:
    """The SMTP reply code in a diagnostic: at its start, else the first failure (4xx/5xx)
    code that is not obviously a port, a size or an id; a 2xx only when nothing failed."""
    m = REPLY_LEADING.match(text)
    if m and m.group(1)[0] != "2":
        return m.group(1)
    first = m.group(1) if m else None
    for m in REPLY.finditer(text):
        start = m.start()
        before = text[max(0, start - 12):start].lower()
        if before.endswith((":", "port ", "size ", "#", "id ", "id=", "=", "size=")) and \
                not re.search(r"(said|error|host \S+|\]|out|reply|response|code):?\s*$", before):
            continue
        if m.group(1)[0] == "2":
            first = first or m.group(1)
            continue
        return m.group(1)
    return first


_QMAIL_PHASE = [
    (re.compile(r"does not like recipient|recipient (?:was )?rejected", re.I), "RCPT"),
    (re.compile(r"sender (?:was )?rejected|does not like sender", re.I), "MAIL"),
    (re.compile(r"my name was rejected", re.I), "HELO"),
    (re.compile(r"(?:failed|rejected|error) (?:after|on) (?:the )?(?:message )?(?:data|body)|after end of data", re.I), "DATA"),
]


def find_phase(text: str) -> str | None:
    for pattern, token in _QMAIL_PHASE:
        if pattern.search(text):
            return token
    for pattern, _ in _PHASES:
        m = pattern.search(text)
        if m:
            token = unfold(m.group(1)).lower()
            return _PHASE_TOKEN.get(token, _PHASE_TOKEN.get(token.split()[0], None))
    return None


def strip_field_type(value: str) -> tuple[str, str]:
    """Split ``smtp; 550 ...`` into ("smtp", "550 ...")."""
    head, sep, rest = value.partition(";")
    if sep and len(head) <= 16 and " " not in head.strip():
        return head.strip().lower(), rest.strip()
    return "", value.strip()
