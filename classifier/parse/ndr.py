"""Reading human-written non-delivery reports: recipient blocks in free text.

Most MTAs that do not send (or do not only send) an RFC 3464 report write the same shape:
some boilerplate, then for each failed recipient a line that starts with the address and
the remote server's answer on the following lines, then a copy of the original message.
:func:`scan` reads that shape; a module in :mod:`classifier.parse.mta` supplies the
markers of its own dialect (where the report starts, where the copy starts, how a
recipient line looks) when the defaults are not enough.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.parse import limits
from classifier.parse.report import Record
from classifier.parse.text import (
    ADDRESS,
    clean_address,
    find_phase,
    find_reply,
    find_status,
    unfold,
)

# Where a copy of the original message (or its headers) starts in a plain-text NDR. One
# alternation, one pass: the line may start with blanks (spaces and tabs only: ``\s*`` at
# every line start would run over each following blank line again, quadratic in a text of
# blank lines) and a rule of dashes, after which the marker may be on the next line.
ORIGINAL_MARKERS = re.compile(
    r"^[ \t]*(?:[-=_*#]{2,}\s*)?(?:"
    r"this is a copy of|a copy of the (?:original )?message|(?:possibly truncated )?original message|"
    r"below (?:this line )?is a copy|below is a copy|start of returned (?:message|content)|"
    r"returned message|the original message (?:follows|headers|was)|original message headers|"
    r"unsent message|message headers? follows?|headers of the original|the header of the original|"
    r"undelivered message|undeliverable message (?:attached|follows)|content-type: message/rfc822|"
    r"--- ?the header of the original message|forwarded message|"
    r"end of transcript|included is a copy|returned mail follows|"
    r"original text follows|message text follows|the message you sent|"
    r"(?:original|returned) (?:mail|e-?mail|headers?)\b"
    r")", re.I | re.M)
# ... but not when the marker sentence is about when/where the original was received.
_NOT_ORIGINAL = re.compile(r"original message was received|original message (?:was )?sent", re.I)
_HEADER_START = re.compile(
    r"^(?:Return-Path|Received|Message-Id|DKIM-Signature|X-[A-Za-z0-9-]+|From|To|Subject|Date|"
    r"MIME-Version|Content-Type|Reply-To|Delivered-To|ARC-Seal|Authentication-Results|"
    r"Reporting-MTA|Received-From-MTA|Arrival-Date|Final-Recipient|Original-Recipient|Action):[ \t]",
    re.I | re.M)

# A line that opens a recipient block: the address comes first.
RECIPIENT_LINE = re.compile(
    r"^[ \t>*-]{0,12}(?:(?:final-|original-)?recipient(?:\s+address)?:|address:|rcpt to:|"
    r"failed recipient:|<)?[ \t]*<?(" + ADDRESS.pattern + r")>?"
    r"(?=[ \t]*(?:$|[:;,.(\[]|\.\.\.|on\s|\s{2,}|-\s|\bfailed|\bdoes|\bunknown|\bcould|\bis\b|\bwas\b|\breason|\breturned|\berror|\bmailbox|\buser))",
    re.I | re.M)
# Recipient named inside a sentence, when no recipient line exists.
INLINE_RECIPIENT = re.compile(
    r"(?:(?:following|failed) recipients?[^:\n]{0,40}:\s*<?(" + ADDRESS.pattern + r")>?|"
    r"(?:message|mail|delivery|deliver(?:ed)?|sent|sending|relay(?:ed)?|address(?:ed)?)\s+"
    r"(?:has\s+been\s+|was\s+|wasn't\s+|could\s+not\s+be\s+|couldn't\s+be\s+|failed\s+)?"
    r"(?:delivered\s+|sent\s+|forwarded\s+)?(?:to|for)\s*:?\s*(?:the\s+following\s+\w+\s*:?\s*)?"
    r"[\"']?<?(" + ADDRESS.pattern + r")>?)",
    re.I)

# An address the report tells the reader to write to ("please contact postmaster@...", "for
# assistance write to help@...", "our help desk: ..."), or the reporting system's own: never
# a failed recipient, whatever its local part (a failed "support@customer" stays one).
_CONTACT_WORDS = re.compile(
    r"\b(?:contact(?:ing)?|please (?:send|write|e-?mail|mail|reply|notify|forward)|(?<!in )reply to|"
    r"e-?mail us|mail us|write to us|reach us|help ?desk|support (?:team|desk|at)|"
    r"(?:for|need) (?:further )?(?:assistance|help)|questions?|administrator|report (?:this|it|abuse)|mailto)\b",
    re.I)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n[ \t]*\n|\)\s*\n")


def is_contact(text: str, start: int) -> bool:
    """Whether the address at ``start`` is one the text asks the reader to contact: a
    contact word in the same sentence, before it (the address may be on the next line)."""
    before = text[max(0, start - 160):start]
    cut = None
    for cut in _SENTENCE_END.finditer(before):
        pass
    if cut is not None:
        before = before[cut.end():]
    return bool(_CONTACT_WORDS.search(before))


def named_addresses(text: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    """The addresses a report names that may be failed recipients: not the sender's
    (``exclude``), not the ones it gives to contact."""
    return [a for m in ADDRESS.finditer(text)
            if (a := f"{m.group(1)}@{m.group(2)}").lower() not in exclude and not is_contact(text, m.start())]


# Lines that are boilerplate in NDRs; dropped from diagnostics so phrase rules see only
# what the remote side said.
BOILERPLATE = re.compile(
    r"^\s*(?:this is (?:the|an?) (?:mail|automatically|qmail|mailer|delivery)|"
    r"i'm sorry to have to inform you|i'm afraid i wasn't able|this is a permanent error|"
    r"for further assistance|if you do so, please include|delete your own text|the mail system\s*$|"
    r"please (?:note|contact|do not reply)|you do not need to re-send|hi[.!]|"
    r"a message that you sent could not be delivered|recipients?\. this is a permanent error|"
    r"the following address(?:es)?(?:\(es\))? (?:failed|had)|this message was created automatically|"
    r"be delivered to one or more recipients|it's attached below|could not be delivered to one or more|"
    r"sorry it didn't work out|do not reply to this|delivery to the following recipients?|"
    r"----- the following addresses|\s*-{3,}\s*$|\s*[-=]{3,}.{0,60}[-=]{3,}\s*$|[-=]{3,}\s*$)", re.I)


@dataclass(frozen=True)
class Dialect:
    """How one MTA writes its NDR; every field is optional."""

    #: The report text starts after the first match (boilerplate before it is skipped).
    start: re.Pattern | None = None
    #: The copy of the original message starts at the first match.
    stop: re.Pattern | None = None
    #: A line opening a recipient block; group ``addr`` (or group 1) holds the address.
    recipient: re.Pattern | None = None
    #: The whole report is a deferral ("will keep trying").
    delayed: re.Pattern | None = None
    #: Inside a block, the remote server's own answer follows this (the rest is prose).
    answer: re.Pattern | None = None


DEFAULT = Dialect()
DELAYED = re.compile(
    r"\b(?:temporary (?:failure|problem|error)|will (?:keep|continue) (?:trying|to try)|"
    r"(?:has|have) not yet been delivered|delivery (?:has been|is) delayed|"
    r"still being retried|warning: message .* delayed|delayed mail|will be retried|"
    r"do not need to re-?send|no action is required on your part|retry for up to)", re.I)


# A report that says it gave up is no deferral, whatever else it says ("you do not need to
# resend": the sender need not, because nothing more can be done).
PERMANENT = re.compile(r"\b(?:permanent(?:ly)?|fatal|given up|giving up|gave up)\b", re.I)


def split_original(text: str, dialect: Dialect = DEFAULT) -> tuple[str, str]:
    """(report text, text of the returned original) of a plain-text NDR."""
    cut = len(text)
    if dialect.stop is not None:
        m = dialect.stop.search(text)
        if m:
            cut = m.start()
    if cut == len(text):
        for m in ORIGINAL_MARKERS.finditer(text):
            eol = text.find("\n", m.end())
            line = text[m.start(): eol if eol >= 0 else len(text)]
            if _NOT_ORIGINAL.search(line):
                continue
            cut = m.start()
            break
    head = text[:cut]
    # A header block inside the report also means the original begins there.
    for m in _HEADER_START.finditer(head):
        if _header_block_at(head, m.start()):
            cut = m.start()
            break
    return text[:cut], text[cut:]


_HEADERISH = re.compile(r"^(?:[A-Za-z][\w-]{1,40}:[ \t]|[ \t]+\S)")


def _header_block_at(text: str, start: int) -> bool:
    """Three or more header fields in a row: a message header, not a "Subject: x" line."""
    fields = 0
    for line in text[start: start + 3000].split("\n", 12)[:12]:
        if not line.strip():
            break
        if not _HEADERISH.match(line):
            return False
        fields += not line[0].isspace()
        if fields >= 3:
            return True
    return fields >= 3


def _block_recipient(m: re.Match) -> str | None:
    addr = next((v for k, v in m.groupdict().items() if k.startswith("addr") and v), None) or m.group(1)
    return clean_address(addr) if addr else None


def scan(text: str, dialect: Dialect = DEFAULT, *, exclude: frozenset[str] = frozenset()) -> list[Record]:
    """Find failed recipients and their diagnostics in the text of an NDR."""
    text = text[: limits.MAX_TEXT_CHARS]
    report, _ = split_original(text, dialect)
    if dialect.start is not None:
        m = dialect.start.search(report)
        if m:
            report = report[m.end():]
    pattern = dialect.recipient or RECIPIENT_LINE
    blocks: list[tuple[str, int, int]] = []
    excluded: list[tuple[str, int, int]] = []
    for m in pattern.finditer(report):
        addr = _block_recipient(m)
        if not addr or is_contact(report, m.start(1)):
            continue
        (excluded if addr.lower() in exclude else blocks).append((addr, m.start(), m.end()))
        if len(blocks) >= limits.MAX_RECIPIENTS:
            break
    if not blocks and excluded:
        # the sender's own address is the only one named: it bounced to itself
        blocks = excluded[:1]
    # a delay notice says so before it lists anybody
    preamble = report[: blocks[0][1]] if blocks else report
    delayed = bool((dialect.delayed or DELAYED).search(preamble)) and not PERMANENT.search(preamble)
    records: list[Record] = []
    if blocks:
        for i, (addr, start, end) in enumerate(blocks):
            stop = blocks[i + 1][1] if i + 1 < len(blocks) else len(report)
            body = _block_body(report, end, stop)
            if dialect.answer is not None:
                m = dialect.answer.search(body)
                body = body[m.end():] if m else body
            diag = diagnostic_of(body)
            reply = None if "<<<" in body else _transcript_reply(report, blocks[i - 1][2] if i else 0, start)
            if reply and unfold(reply).lower() not in diag.lower():
                # the MTA's summary ("Remote protocol error") after the remote's own words
                diag = f"{reply} {diag}".strip()
            rec = _record(addr, diag, delayed)
            if rec.smtp_phase is None:
                rec.smtp_phase = _transcript_phase(report, start)
            records.append(rec)
    else:
        for m in INLINE_RECIPIENT.finditer(report):
            addr = clean_address(m.group(1) or m.group(4))
            if addr and addr.lower() not in exclude and not is_contact(report, m.start()):
                listed, end = _listed_after(report, m.end(), exclude)
                diag = diagnostic_of(report[end:] or report)
                records.extend(_record(a, diag, delayed) for a in [addr, *listed])
                break
    merge_duplicates(records)
    if blocks and any(not r.diagnostic for r in records):
        # a bare list of addresses: the reason is written once, before the list
        shared = diagnostic_of(report[: blocks[0][1]])
        for rec in records:
            if not rec.diagnostic:
                rec.diagnostic = shared
                fill_codes(rec)
    return [r for r in records if r.recipient]


# The next address of a list written into a sentence ("to a@b, c@d and e@f").
_LISTED_NEXT = re.compile(r"[ \t]*(?:,|;|\band\b)[ \t]*[\"']?<?(" + ADDRESS.pattern + r")>?[\"']?")


def _listed_after(report: str, pos: int, exclude: frozenset[str]) -> tuple[list[str], int]:
    """The addresses listed right after the one that ends at ``pos``, and where they end."""
    found: list[str] = []
    while len(found) < limits.MAX_RECIPIENTS:
        m = _LISTED_NEXT.match(report, pos)
        if m is None:
            break
        addr = clean_address(m.group(1))
        if addr and addr.lower() not in exclude:
            found.append(addr)
        pos = m.end()
    return found, pos


def _block_body(report: str, end: int, stop: int) -> str:
    """The text of one recipient block. When the recipient line itself carries the answer
    (``<a@b>: host x said: 550 ...``, ``554 <a@b>... Host unknown``) only that line and
    its indented continuation belong to it; otherwise the lines up to the next block do."""
    nl = report.find("\n", end, stop)
    line_end = stop if nl < 0 else nl
    rest = report[end:line_end]
    if len(ADDRESS.sub("", rest).strip(" \t:;.,<>()")) < 10:
        return report[end:stop]
    out = [rest]
    for line in report[line_end:stop].split("\n")[1:]:
        if line[:1] in (" ", "\t") and line.strip():
            out.append(line)
        else:
            break
    return "\n".join(out)


_SESSION = re.compile(r"ot gniklat elihw", re.I)       # "while talking to", reversed
_TRANSCRIPT_REPLY = re.compile(r"^[ \t]*<<<[ \t]*(\S.*)$", re.M)


def _transcript_reply(report: str, begin: int, start: int) -> str | None:
    """The remote server's last reply in a session transcript between the previous recipient
    block and this one (``<<< 550 Insecure Mail Relay``), all lines of a multi-line reply.
    The recipient's own line is often only the local MTA's summary of it."""
    session = _SESSION.search(report[begin:start][::-1])    # the last "While talking to"
    if session:
        begin = start - session.start()
    cmds = _TRANSCRIPT_CMD.findall(report, begin, start)
    if cmds and cmds[-1].upper() == "QUIT":
        return None
    lines: list[str] = []
    last_end = -1
    for m in _TRANSCRIPT_REPLY.finditer(report, begin, start):
        if last_end >= 0 and report[last_end:m.start()].strip():
            lines = []                     # not contiguous: a later reply starts
        lines.append(m.group(1).strip())
        last_end = m.end()
    return unfold(" ".join(lines))[:1000] if lines else None


_TRANSCRIPT_CMD = re.compile(r"^\s*>>>\s*(RCPT|MAIL|DATA|HELO|EHLO|QUIT)\b", re.I | re.M)


def _transcript_phase(report: str, start: int) -> str | None:
    """The last command a session transcript shows before this block (``>>> RCPT To:``)."""
    last = None
    for m in _TRANSCRIPT_CMD.finditer(report, max(0, start - 1500), start + 200):
        if m.start() > start + 200:
            break
        last = m.group(1).upper()
    return {"EHLO": "HELO", "QUIT": None}.get(last, last) if last else None


def _record(addr: str, diag: str, delayed: bool) -> Record:
    rec = Record(recipient=addr, diagnostic=diag, action="delayed" if delayed else "failed")
    fill_codes(rec)
    return rec


def fill_codes(rec: Record) -> None:
    """Status, reply code and phase from the diagnostic text, where not already known."""
    diag = rec.diagnostic
    if not diag:
        return
    if not rec.status:
        rec.status = find_status(diag)
    if not rec.reply_code:
        rec.reply_code = find_reply(diag)
    if not rec.smtp_phase:
        rec.smtp_phase = find_phase(diag)


def diagnostic_of(body: str, max_lines: int = 12) -> str:
    """The meaningful lines of a block: no boilerplate, no blank runs, unfolded."""
    kept: list[str] = []
    for line in body.splitlines():
        s = line.strip()
        if not s:
            continue
        if BOILERPLATE.match(s):
            continue
        kept.append(s)
        if len(kept) >= max_lines:
            break
    return unfold(" ".join(kept)).lstrip(":;,.- ")[:2000]


def merge_duplicates(records: list[Record]) -> None:
    """The same address twice with the same action (summary line and transcript, a DSN
    block per alias expansion): keep one, with the answer that carries codes, else the
    first."""
    seen: dict[tuple[str, str], Record] = {}
    for rec in list(records):
        if not rec.recipient:
            continue
        key = (rec.recipient.lower(), rec.action)
        first = seen.get(key)
        if first is None:
            seen[key] = rec
            continue
        better = (not first.diagnostic) or \
            ((rec.status or rec.reply_code) and not (first.status or first.reply_code)) or \
            (not first.status and rec.status)
        if better and rec.diagnostic:
            first.diagnostic, first.status = rec.diagnostic, rec.status or first.status
            first.reply_code = rec.reply_code or first.reply_code
        first.smtp_phase = first.smtp_phase or rec.smtp_phase
        records.remove(rec)
