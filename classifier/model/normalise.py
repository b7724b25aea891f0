"""Text normalisation for the model: keep the wording, mask what differs per message.

Two bounces of the same kind differ in addresses, host names, IP addresses, queue ids,
URLs, sizes and dates; none of that says anything about the reason, and left in place it
would let a model memorise noise. What carries meaning is kept as stable tokens:

- enhanced status codes ``5.7.1`` -> ``st5_7_1``; reply codes where replies stand (start of
  a line or clause, ``550-`` continuation lines) ``550`` -> ``rc550``;
- Microsoft's dotted component names ``RESOLVER.ADR.RecipientNotFound`` ->
  ``resolver_adr_recipientnotfound`` (they would otherwise look like host names);
- short vendor codes with letters and digits (``S3150``, ``TSS04``, ``AS``) stay as they are.

Masked: URLs -> ``urltok``, addresses -> ``addrtok``, IP addresses -> ``iptok``, host
names -> ``hosttok``, ids (7+ characters mixing letters and digits) -> ``idtok``, other
numbers -> ``0``.

Speed: the batch is joined into one string and each expression runs once over it. Python's
``re`` scans fast only for expressions that start with a literal, so addresses are found
from their ``@`` (the local part by matching the reversed text), and everything with a
digit or a dot inside goes through one token expression whose callback decides what it is.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from classifier.rules.status_codes import STATUS_RE

_URL = re.compile(r"(?:https?://|www\.|HTTPS?://)[^\s<>\"')\]]+")
_AT_RIGHT = re.compile(r"@[^\s<>()\[\]\"',;:@]*")      # the domain after an @
_REV_ADDR = " kotrdda "                                  # " addrtok " reversed
# A word that holds a digit or an inner dot; the possessive prefix keeps the scan linear.
_TOKEN = re.compile(r"\b[^\W\d]*+(?:\d|\.\w)[\w.-]*")
_IP4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IP6 = re.compile(r"[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}", re.I)
_HOST = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,24}", re.I)
_MS_NAME = re.compile(r"[A-Z][A-Z0-9]{2,}(?:\.[A-Za-z][A-Za-z0-9]*)+")
_IP6_SCAN = re.compile(r"(?<![\w:])[0-9a-f]{1,4}::?[0-9a-f]{0,4}:[0-9a-f:]*", re.I)
_REPLY_BEFORE = frozenset(" \n;:'\"(#<[\x1e")
# Control characters (C0 but tab, newline, carriage return and the record separator that
# joins the batch; DEL; C1) become spaces: they say nothing about a reason, and a NUL is the
# record separator of the hashed features (classifier.model.hashing).
# (A search first: most batches hold none, and str.translate is slow on non-ASCII text.)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1d\x1f\x7f-\x9f]")


def _token(m: re.Match[str]) -> str:
    tok = m.group()
    core = tok.rstrip(".-")
    if not core:
        return tok
    if core.isdigit():
        i = m.start()
        if len(core) == 3 and core[0] in "245" and (i == 0 or m.string[i - 1] in _REPLY_BEFORE):
            return f" rc{core} "
        return " 0 "
    if core[0].isdigit():
        if STATUS_RE.fullmatch(core):
            return f" st{core.replace('.', '_')} "
        if _IP4.fullmatch(core):
            return " iptok "
        head = core[:3]
        if core[3:4] == "-" and head.isdigit() and head[0] in "245":   # 550-5.1.1 ...
            rest = core[4:]
            return f" rc{head} " + (f" st{rest.replace('.', '_')} " if STATUS_RE.fullmatch(rest) else " ")
    if "." in core:
        if _MS_NAME.fullmatch(core):
            return core.replace(".", "_")
        if _HOST.fullmatch(core):
            return " hosttok "
    if len(core) >= 7 and not core.isalpha() and any(c.isalpha() for c in core):
        return " idtok "
    if not any(c.isalpha() for c in core):
        return " 0 "
    return tok


def normalise_batch(texts: Sequence[str]) -> list[str]:
    """Normalise many diagnostic texts at once; the result has the same length and order."""
    if not texts:
        return []
    joined = "\x1e".join(t.replace("\x1e", " ") for t in texts)
    if _CONTROLS.search(joined):
        joined = _CONTROLS.sub(" ", joined)
    joined = _URL.sub(" urltok ", joined)
    if "@" in joined:
        joined = _AT_RIGHT.sub("@", joined)[::-1]
        joined = _AT_RIGHT.sub(_REV_ADDR, joined)[::-1]
    if "::" in joined:
        joined = _IP6_SCAN.sub(" iptok ", joined)
    joined = _TOKEN.sub(_token, joined).lower()
    return [" ".join(s.split()) for s in joined.split("\x1e")]


def normalise(text: str) -> str:
    """One text, exactly as :func:`normalise_batch` would normalise it in a batch."""
    return normalise_batch([text])[0]
