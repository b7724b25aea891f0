"""Failed recipients of free-text NDRs: the addresses a report names near its failure words.

Many mail systems write no recipient block that :func:`classifier.parse.ndr.scan` could
read: "Intended recipient: a@b", "Unknown user: a@b", "Local mailbox a@b is unavailable",
"Delivery to this address "a@b" has been postponed", "dda:SMTP=a@b". What they share is
that the failed address stands close to words that say delivery failed. So an address of
the report's own text (never of the returned original) is taken when such words are
within a bounded window of it, unless it is the sender's, a contact address, the reporting
system's own (postmaster, MAILER-DAEMON) or a field of a summarised original header other
than To. Each address gets the text around it as its diagnostic, so two recipients of one
report keep their own reasons.

Every pattern is linear and every window bounded: the text is whatever the internet sent.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from publicsuffixlist import PublicSuffixList

from classifier.parse import limits
from classifier.parse.ndr import (
    DELAYED,
    PERMANENT,
    diagnostic_of,
    fill_codes,
    is_contact,
    merge_duplicates,
    split_original,
)
from classifier.parse.report import Record
from classifier.parse.text import ADDRESS, unfold

#: Characters before / after an address in which a failure word ties it to the failure.
WINDOW_BEFORE = 200
WINDOW_AFTER = 160
#: Characters between an address and a failure word that make them one statement.
CLOSE = 40
#: Most characters of text a recipient's diagnostic is taken from.
DIAGNOSTIC_CHARS = 600
#: Characters of a report read at all (its own text: the original is cut off first).
REPORT_CHARS = 20000

# Words that say a delivery failed, was refused or put off, or name the recipient as such.
FAILURE_WORDS = re.compile(
    r"\b(?:undeliver\w{0,8}|not (?:be )?delivered|(?:could|can) ?n[o']t (?:be )?deliver\w{0,3}|unable to deliver|"
    r"delivery (?:has )?failed|failed|failure|invalid|unknown|no such|does ?n[o']t exist|not exist|"
    r"not found|no longer|malformed|not (?:a )?valid|rejected|refused|unavailable|(?:over|exceeded?) (?:disk )?quota|"
    r"overquota|quota|mailbox (?:is )?full|full mailbox|intended recipient|recipients?(?:\(s\))?|"
    r"returned|bounced?|error|not accepting|did not (?:exactly )?match|no match(?:es)?|denied|blocked|"
    r"postponed|delayed|did not reach|not reach|could not be reached|unreachable|permanent(?:ly)?|"
    r"temporar(?:y|ily)|addressee|userid|user id|"
    # the same in the languages NDRs come in most after English
    r"unzustellbar|nicht zugestellt|konnte nicht|existiert nicht|unbekannt|n'existe pas|non distribu\w{0,4}|"
    r"impossible de (?:distribuer|remettre)|inconnu|no (?:se )?(?:pudo|puede) entregar|no existe|desconocido|"
    r"non (?:è stato|recapitat\w)|inesistente|sconosciuto|не доставлено|не существует|неизвестн\w{0,4})\b",
    re.I)
# An address field of a summarised original header ("From: a@b", "Cc: ..."): a party of
# the returned message. To is the one that may be the failed recipient.
_HEADER_LABEL = re.compile(
    r"(?:^|\n)[ \t>*-]{0,8}(?:(?P<to>to|envelope-to|x-original-to|delivered-to)|"
    r"(?:x-|original-|envelope-|resent-)?(?:from|sender)|mail from|cc|bcc|reply-to|"
    r"return-path|errors-to|message-id|in-reply-to|references|received|subject|list-[\w-]+)[ \t]*:[^\n]*$",
    re.I)
# The reporting system's own mailboxes; named in a report as who is writing, not who failed.
_DAEMON_LOCAL = re.compile(
    r"^(?:mailer-?daemon|postmaster|mail-?daemon|mail\.?delivery\.?(?:system|subsystem)?|"
    r"abuse|hostmaster|no-?reply)$", re.I)
# Mentions of one address looked at (a summary line, a transcript, a quoted reply ...).
_MAX_MENTIONS = 4
# An address given as who sent the message ("not accepting mail from a@b").
_SENDER_BEFORE = re.compile(r"\b(?:from|sender|sent by)[ \t]*:?[ \t]*[<\"'(\[]?$", re.I)
# An address written as the display name of the next one ("a@b <c@d>"): c@d is the mailbox.
_DISPLAY_NAME_OF = re.compile(r"[ \t]{0,4}<[^<>\s@]{1,64}@")
# What separates the entries of a list of addresses.
_LIST_GAP = re.compile(r"[\s>*,;:\"'()\[\]<-]{1,40}")
# Wrappers that glue an address to a label: X.400 "dda:SMTP=a@b", "RFC822=a@b".
_GLUED = re.compile(r"(?i)(?<=smtp)=|(?<=rfc822)=")


def failed_addresses(report: str, exclude: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """``(address, start, end)`` for each address of ``report`` (a report's own text) that
    stands within the window of a failure word, in order of appearance. When some stand
    right by one (:data:`CLOSE` characters, or in a list that starts there), only those:
    the others are examples and directory hints of the boilerplate; when none does, only
    the first one. Addresses named only on a summarised To: line come last, and only when
    there are no others."""
    report = _GLUED.sub(":", report[:REPORT_CHARS])
    near: list[tuple[str, int, int]] = []
    close: list[tuple[str, int, int]] = []
    in_to: list[tuple[str, int, int]] = []
    prev_end = -1
    seen: dict[str, int] = {}
    for m in ADDRESS.finditer(report):
        addr = f"{m.group(1)}@{m.group(2)}".strip("'\"")
        if addr.lower() in exclude or _DAEMON_LOCAL.match(m.group(1).strip('"')) or addr[0] in "/|" or \
                _SENDER_BEFORE.search(report, max(0, m.start() - 16), m.start()) or \
                _DISPLAY_NAME_OF.match(report, m.end()):
            continue
        label = _header_label(report, m.start())
        if label == "other" or is_contact(report, m.start()):
            continue
        start, end = m.start(), m.end()
        seen[addr.lower()] = times = seen.get(addr.lower(), 0) + 1
        if times > _MAX_MENTIONS:
            continue
        if _failure_within(report, start, end, CLOSE) or \
                (prev_end >= 0 and _LIST_GAP.fullmatch(report, prev_end, start)):
            close.append((addr, start, end))
            prev_end = end
        elif _failure_within(report, start, end, WINDOW_BEFORE, WINDOW_AFTER):
            (in_to if label == "to" else near).append((addr, start, end))
        if len(close) + len(near) >= limits.MAX_RECIPIENTS:
            break
    if not close and near:
        # nothing stands right by a failure word: the first address the window ties to one
        first = near[0][0].lower()
        near = [n for n in near if n[0].lower() == first]
    return close or near or in_to


def _failure_within(report: str, start: int, end: int, before: int, after: int | None = None) -> bool:
    after = before if after is None else after
    return FAILURE_WORDS.search(report, max(0, start - before), start) is not None or \
        FAILURE_WORDS.search(report, end, end + after) is not None


def _header_label(report: str, start: int) -> str | None:
    """``"to"`` / ``"other"`` when the address sits on a header-like line of a summarised
    original, else None."""
    line_start = report.rfind("\n", max(0, start - 400), start)
    m = _HEADER_LABEL.match(report, line_start if line_start >= 0 else max(0, start - 400), start)
    if m is None or (line_start < 0 and start > 400):
        return None
    return "to" if m.group("to") else "other"


def diagnostic_near(report: str, start: int, end: int, bounds: tuple[int, int | None] = (0, None)) -> str:
    """What the report says about the address at ``start:end``: its line and the lines that
    follow, up to the line of the next other recipient, a paragraph gap of two blank lines
    or :data:`DIAGNOSTIC_CHARS`; when that names no failure, the paragraph before it too,
    but nothing of the previous other recipient's. ``bounds``: where the previous other
    recipient ends and the next one starts (:func:`neighbours`)."""
    prev_end, next_start = bounds
    addr = report[start:end].lower()
    line_start = report.rfind("\n", max(0, start - DIAGNOSTIC_CHARS // 2), start) + 1 or max(0, start - 200)
    stop = min(len(report), line_start + DIAGNOSTIC_CHARS)
    if next_start is not None and next_start > end:
        stop = min(stop, report.rfind("\n", end, next_start) + 1 or next_start)
    gap = report.find("\n\n\n", end, stop)
    if gap >= 0:
        stop = gap
    text = report[line_start:stop]
    if len(_meaningful(text, addr)) < 12 or not FAILURE_WORDS.search(text.lower().replace(addr, " ")):
        floor = max(prev_end, line_start - 300, 0)
        if floor == prev_end > 0:                   # from the line after the previous recipient's
            nl = report.find("\n", floor, line_start)
            floor = nl + 1 if nl >= 0 else line_start
        before = report[floor:line_start]
        para = before.rfind("\n\n", 0, max(0, len(before) - 2))
        text = before[para + 2 if para >= 0 else 0:] + text
    # a line that starts like boilerplate ("Delivery to the following recipient failed: a@b,
    # 550 ...") may be all the report says
    return diagnostic_of(text, max_lines=8) or unfold(text)[:DIAGNOSTIC_CHARS]


def _meaningful(text: str, addr: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower().replace(addr, ""))


def failed_records(text: str, exclude: frozenset[str] = frozenset(),
                   settle: Callable[[str], str | None] | None = None) -> list[Record]:
    """Records for the failed recipients of a free-text report (``text``: the notification,
    with or without the returned original, which is cut off here). ``settle``: the address a
    bare local part stands for (:func:`settle_local_part`); without it a report that names
    no address yields nothing."""
    report, _ = split_original(text[: limits.MAX_TEXT_CHARS])
    report = _GLUED.sub(":", report[:REPORT_CHARS])
    found = failed_addresses(report, exclude)
    if not found and settle is not None:
        found = bare_recipients(report, settle, exclude)
    # a deferral says it will retry, and nowhere that it gave up
    delayed = bool(found) and DELAYED.search(report) is not None and PERMANENT.search(report) is None
    records = []
    for (addr, start, end), bounds in zip(found, neighbours(found)):
        rec = Record(recipient=addr, diagnostic=diagnostic_near(report, start, end, bounds),
                     action="delayed" if delayed else "failed")
        fill_codes(rec)
        records.append(rec)
    merge_duplicates(records)
    return records


def neighbours(found: list[tuple[str, int, int]]) -> list[tuple[int, int | None]]:
    """For each entry, where the previous entry naming another address ends and the next
    one starts (0 / None where there is none): two passes."""
    out: list[tuple[int, int | None]] = []
    prev_end = 0
    for i, (addr, _, _) in enumerate(found):
        if i and found[i - 1][0].lower() != addr.lower():
            prev_end = found[i - 1][2]
        out.append((prev_end, None))
    nxt: int | None = None
    for i in range(len(found) - 1, -1, -1):
        if i + 1 < len(found) and found[i + 1][0].lower() != found[i][0].lower():
            nxt = found[i + 1][1]
        out[i] = (out[i][0], nxt)
    return out


# A heading that announces a list of recipients ("... to the following recipients:").
_LIST_HEADING = re.compile(r"\bfollowing\b[^\n]{0,200}:[ \t]*$", re.I | re.M)
# A list entry that is a bare local part, alone or before its reason ("userx    no match").
_BARE_ENTRY = re.compile(r"[ \t*>-]{0,8}([A-Za-z0-9][\w.+-]{0,63})(?:(?:[ \t]{2,}|[ \t]+(?=[\"(\[:]))[^\n]*|[ \t]*)$")
_MAX_BARE = 20


def bare_recipients(report: str, settle: Callable[[str], str | None],
                    exclude: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """``(address, start, end)`` for the bare local parts listed under a heading that
    announces failed recipients ("not delivered to the following:" then "userx  No match"),
    each the address ``settle`` completes it to (none: not taken)."""
    heading = _LIST_HEADING.search(report)
    if heading is None or not FAILURE_WORDS.search(report, max(0, heading.start() - 200), heading.end()):
        return []
    out: list[tuple[str, int, int]] = []
    lines = report[heading.end(): heading.end() + 4000].split("\n")[1:_MAX_BARE + 3]
    pos = heading.end() + 1
    for line in lines:
        line_start, pos = pos, pos + len(line) + 1
        if not line.strip():
            if out:
                break
            continue
        m = _BARE_ENTRY.fullmatch(line)
        if m is None or not any(c.isalpha() for c in m.group(1)):
            break
        addr = None if _DAEMON_LOCAL.match(m.group(1)) else settle(m.group(1))
        if addr and addr.lower() not in exclude:
            out.append((addr, line_start + m.start(1), line_start + m.end(1)))
    return out


def settle_local_part(local: str, reporter: str | None, original=None) -> str | None:
    """The address a report means by a bare local part: the returned original's recipient
    with that local part (To, Cc, envelope fields, Received "for"), else that local part at
    the registrable domain of the reporting system (``MAILER-DAEMON@mx2.its.example.edu``
    -> ``example.edu``), whose mailboxes it names that way."""
    if original is not None:
        for name, value in original.items[:200]:
            low = name.lower()
            if low in ("to", "cc", "received") or low in _ENVELOPE_FIELDS:
                for addr in _addresses(value):
                    if addr.split("@", 1)[0].lower() == local.lower():
                        return addr
    m = ADDRESS.search(reporter or "")
    if m is None or m.group(2).startswith("["):
        return None
    domain = _psl().privatesuffix(m.group(2).lower())
    return f"{local}@{domain}" if domain else None


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


# Header fields of a returned original that name the envelope recipient it was delivered to.
_ENVELOPE_FIELDS = ("envelope-to", "x-envelope-to", "x-original-to", "delivered-to", "x-rcpt-to",
                    "x-hmxmroriginalrecipient")
_RECEIVED_FOR = re.compile(r"\bfor\s+<?(" + ADDRESS.pattern + r")>?\s*(?:;|\(|$)", re.I)
_LIST_FIELDS = ("list-id", "list-post", "x-beenthere", "x-mailman-version", "mailing-list", "x-list")


def original_recipient(original, exclude: frozenset[str] = frozenset()) -> str | None:
    """The one recipient of the returned original (its headers), for a report that names
    nobody. Its To, when it names one address and the message did not come through a
    mailing list (whose To and Cc are the conversation's, not the subscriber's); else the
    envelope recipient of its most recent hop (a Received "for <a@b>", Envelope-To,
    X-Original-To, Delivered-To, ...), the address the failing system was given."""
    if original is None:
        return None
    if not any(name in original for name in _LIST_FIELDS):
        to = [a for a in _addresses(original.get("to")) if a.lower() not in exclude]
        if len(to) == 1 and not original.get("cc"):
            return to[0]
    for name, value in original.items[:200]:
        low = name.lower()
        if low == "received":
            m = _RECEIVED_FOR.search(value[:2000])
            found = [f"{m.group(2)}@{m.group(3)}"] if m else []
        elif low in _ENVELOPE_FIELDS:
            found = _addresses(value)
        else:
            continue
        found = [a for a in found if a.lower() not in exclude]
        if len(found) == 1:
            return found[0]
    return None


def _addresses(value: str) -> list[str]:
    return [f"{m.group(1)}@{m.group(2)}" for m in ADDRESS.finditer(value[:2000])][:5]
