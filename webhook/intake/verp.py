"""Return-path formats that name the recipient a bounce is about.

Three formats, chosen per return-path address (``rebound returnpath add``):

- ``plain``: one address, e.g. ``bounces@bounce.example.com``; the bounce says who failed.
- ``verp``: ``bounces+ann=example.org@bounce.example.com`` names ``ann@example.org``, the
  way Postfix (``XVERP``, delimiters ``+=``), listmonk, Mautic or an app write it. Anyone
  can write such an address: it is evidence, not proof.
- ``signed``: ``bounces-<token>@bounce.example.com``, where the token names the recipient and
  the sender's message reference, and carries an HMAC-SHA256 under a key of the tenant's
  own, and the day it was made. Only the key's holder can make one, so a forged bounce cannot
  name a recipient it was not given a token for.

The token (lower-case base32, without padding, so that MTAs which fold the case of local
parts keep it intact) holds::

    version (1 byte, 1) | day (2 bytes, days since 1970-01-01, big-endian) | mac (10 bytes)
    | length of the message reference (1 byte) | message reference | recipient (UTF-8)

with ``mac`` = the first 10 bytes of HMAC-SHA256(key, "rebound-rp1" NUL return-path address
NUL day NUL message reference NUL recipient). :func:`sign` makes one; any language with
HMAC-SHA256 and base32 can, from this description.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

FORMATS = ("plain", "verp", "signed")
VERSION = 1
MAC_BYTES = 10
DOMAIN = b"rebound-rp1"
#: A message reference longer than this is cut (local parts are short: keep tokens so)
MESSAGE_MAX = 64


class TokenError(ValueError):
    """A signed return path that does not verify; ``str()`` says why."""


def split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def verp_address(return_path: str, recipient: str) -> str:
    """``bounces@bounce.example`` + ``ann@example.org`` -> ``bounces+ann=example.org@bounce.example``."""
    prefix, domain = split(return_path)
    local, rdomain = split(recipient)
    return f"{prefix}+{local}={rdomain}@{domain}"


def verp_recipient(rest: str) -> str | None:
    """``ann=example.org`` (what follows ``prefix+``) -> ``ann@example.org``; the last ``=``
    separates them (a domain has none, a local part may)."""
    local, sep, domain = rest.rpartition("=")
    if not sep or not local or "." not in domain:
        return None
    return f"{local}@{domain}"


def _day(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 86400)


def _mac(key: bytes, return_path: str, day: int, message: bytes, recipient: bytes) -> bytes:
    msg = b"\x00".join((DOMAIN, return_path.lower().encode("utf-8"), struct.pack(">H", day), message, recipient))
    return hmac.new(key, msg, hashlib.sha256).digest()[:MAC_BYTES]


def sign(key: bytes, return_path: str, recipient: str, message: str = "", now: float | None = None) -> str:
    """The signed return path for ``recipient`` (and the sender's ``message`` reference)."""
    prefix, domain = split(return_path)
    day = _day(now)
    ref = message.encode("utf-8")[:MESSAGE_MAX]
    rcpt = recipient.strip().lower().encode("utf-8")
    payload = struct.pack(">BH", VERSION, day) + _mac(key, return_path, day, ref, rcpt) + bytes([len(ref)]) + ref + rcpt
    token = base64.b32encode(payload).decode("ascii").rstrip("=").lower()
    return f"{prefix}-{token}@{domain}"


def open_token(keys: list[bytes], return_path: str, token: str, max_age_days: int,
               now: float | None = None) -> tuple[str, str]:
    """(recipient, message reference) of a token made with one of ``keys`` for ``return_path``
    within ``max_age_days``; TokenError otherwise."""
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        raise TokenError("the token is not base32") from None
    head = 1 + 2 + MAC_BYTES + 1
    if len(raw) < head + 3 or raw[0] != VERSION:
        raise TokenError("the token is not one Rebound made")
    _, day = struct.unpack(">BH", raw[:3])
    mac, size = raw[3:3 + MAC_BYTES], raw[3 + MAC_BYTES]
    ref, rcpt = raw[head:head + size], raw[head + size:]
    if not any([hmac.compare_digest(mac, _mac(k, return_path, day, ref, rcpt)) for k in keys]):
        raise TokenError("the token's signature does not verify")
    today = _day(now)
    if today - day > max_age_days:
        raise TokenError(f"the token was made {today - day} days ago; tokens are accepted for {max_age_days}")
    if day - today > 1:
        raise TokenError("the token is dated in the future")
    try:
        return rcpt.decode("utf-8"), ref.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("the token's recipient is not UTF-8") from None
