"""Raw message in, per-recipient evidence out: :func:`parse_message`.

The order of reading follows how much a format can be trusted:

1. ARF feedback reports (and mailto unsubscribe requests): complaints.
2. RFC 3464 delivery-status parts (also when an MTA wrote the fields into its text):
   recipients, actions and codes from the machine-readable fields, completed by the
   module of the MTA that wrote the human-readable part (diagnostic, SMTP phase).
3. Human-written NDRs, read by the module of the MTA/provider that wrote them
   (:mod:`classifier.parse.mta`), gated by header signals that the message is a bounce.
4. RFC 3834 auto-replies and out-of-office messages: ``vacation``, recipient = sender.

Anything else is "not a bounce": a :class:`Report` without recipients. Input that is not
mail at all raises :class:`MessageError` (a ``ValueError``) with a message that says why;
it is the only exception :func:`parse_message` raises for what it is given (a failure no
check foresaw becomes :class:`UnreadableMessage`, one of them).
"""
from __future__ import annotations

import functools
import re

from classifier.events import Evidence, Kind
from classifier.parse import arf, correlation, freetext, limits, mta, ndr
from classifier.parse import dsn as dsn_mod
from classifier.parse.budget import Budget, OverBudget
from classifier.parse.load import (
    HeaderTooLarge,
    Loaded,
    MessageError,
    NotAnEmail,
    UnreadableMessage,
    load,
)
from classifier.parse.report import MessageInfo, RecipientResult, Record, Report
from classifier.parse.signals import is_autoreply, looks_like_bounce
from classifier.parse.text import (
    addresses,
    clean_address,
    find_status,
    join_multiline_reply,
    strip_field_type,
    unfold,
)

__all__ = ["parse_message", "Report", "RecipientResult", "MessageInfo", "MessageError", "NotAnEmail",
           "HeaderTooLarge", "UnreadableMessage", "Budget", "OverBudget"]

_EMBEDDED_DSN = re.compile(r"^(?:Final-Recipient|Original-Recipient)[ \t]*:", re.I | re.M)
_KIND_OF_ACTION = {
    "failed": Kind.BOUNCE, "delayed": Kind.DEFERRAL, "delivered": Kind.DELIVERED,
    "relayed": Kind.DELIVERED, "expanded": Kind.DELIVERED, "complaint": Kind.COMPLAINT,
    "autoreply": Kind.BOUNCE,
}
_ACTION_WORDS = {"failure": "failed", "fail": "failed", "deferred": "delayed", "delay": "delayed",
                 "deliverable": "delivered", "success": "delivered"}


def parse_message(raw: bytes, budget: Budget | None = None) -> Report:
    """Read one raw RFC 5322 message (a DSN, NDR, ARF report or auto-reply). Raises
    :class:`MessageError`, and nothing else, for input it cannot read, and
    :class:`~classifier.parse.budget.OverBudget` (one of them) when ``budget`` (by default the
    message's own, :data:`~classifier.parse.limits.TIME_BUDGET`) is spent after a stage;
    the caller passes the same budget on to classification."""
    budget = budget or Budget()
    try:
        return _parse(raw, budget)
    except MessageError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke, the caller gets the documented error
        raise UnreadableMessage(f"the message could not be read ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _parse(raw: bytes, budget: Budget) -> Report:
    msg = load(raw, budget)
    budget.check("extraction")
    text = _unquote("\n\n".join(msg.texts)[: limits.MAX_TEXT_CHARS * 2])
    report_text, quoted = ndr.split_original(text)
    original = msg.original or correlation.quoted_original(quoted)
    ctx = mta.Context(text=text, exclude=_senders(msg, original),
                      settle=functools.partial(freetext.settle_local_part, reporter=msg.headers.get("from"),
                                               original=original))

    fmt, module, records = "none", None, []
    dsn = _dsn(msg, text)
    if arf.is_arf(msg):
        fmt, records = "arf", arf.extract(msg)
    elif dsn is not None and dsn.recipients:
        fmt = "dsn"
        module = mta.detect(msg)
        records = _from_dsn(dsn)
        # a module that recognised the headers but not the text (a relay's headers on
        # another MTA's report) must not hide what the generic scanner can read
        texts = (module.extract(msg, ctx) if module else []) or ndr.scan(text, exclude=ctx.exclude)
        _merge_text(records, texts)
        _complete_from_report(records, msg, report_text, ctx.exclude)
        ndr.merge_duplicates(records)           # one recipient named in several blocks
    else:
        bouncy = looks_like_bounce(msg)
        if not bouncy and arf.is_unsubscribe_request(msg):
            fmt, records = "arf", arf.extract_unsubscribe(msg)
        elif not bouncy and is_autoreply(msg):
            fmt, records = "autoreply", _autoreply(msg, report_text)
        else:
            module = mta.detect(msg)
            if module is not None and (bouncy or module.trusted):
                fmt, records = "ndr", module.extract(msg, ctx)
                if not records:
                    records = _fallback_recipients(msg, original, report_text, ctx)
            elif bouncy:
                fmt, records = "ndr", _fallback_recipients(msg, original, report_text, ctx)

    if fmt in ("dsn", "ndr"):
        records = _without_reporter(records, msg)
    dsn_message = dsn.message if dsn is not None else {}
    dropped = max(0, len(records) - limits.MAX_RECIPIENTS)
    if fmt == "dsn":                          # counted in the bytes: also those past a cut part
        dropped = max(dsn.dropped, msg.named_recipients - len(records[: limits.MAX_RECIPIENTS]))
    info = _message_info(msg, fmt, module, dsn_message, original, dropped)
    results = tuple(_result(rec, module, info) for rec in records[: limits.MAX_RECIPIENTS])
    budget.check("classification")
    return Report(message=info, recipients=results)


# --- building blocks --------------------------------------------------------------------

_QUOTED = re.compile(r"^[ \t]?>[ \t]?", re.M)
_HEADER_FIELD = re.compile(r"^[A-Za-z][\w-]{0,40}:[ \t]")


def _unquote(text: str) -> str:
    """A bounce forwarded inline ("> " on every line) reads like the bounce itself: keep
    the quoted lines, unquoted, without the forwarded message's own header block."""
    lines = text.split("\n")
    quoted = [ln for ln in lines if _QUOTED.match(ln)]
    if len(quoted) < 5 or len(quoted) * 3 < len(lines):
        return text
    body = [_QUOTED.sub("", ln, count=1) for ln in quoted]
    i = 0
    while i < len(body) and (_HEADER_FIELD.match(body[i]) or (i and body[i][:1] in " \t" and body[i].strip())):
        i += 1
    return "\n".join(body[i:])


def _senders(msg: Loaded, original) -> frozenset[str]:
    """Addresses that are the sender's, never a failed recipient (the bounce goes to them)."""
    found = set()
    for value in msg.headers.get_all("to")[:3]:
        found.update(a.lower() for a in addresses(value)[:20])
    if original is not None:
        for name in ("from", "return-path", "sender", "reply-to"):
            found.update(a.lower() for a in addresses(original.get(name))[:5])
    return frozenset(found)


def _without_reporter(records: list[Record], msg: Loaded) -> list[Record]:
    """The reporting system's own addresses (the bounce's From, Sender, Reply-To: its
    MAILER-DAEMON, its postmaster) are named in reports as a contact, never as a failed
    recipient."""
    own = {a.lower() for name in ("from", "sender", "reply-to") for a in addresses(msg.headers.get(name))[:5]}
    if not own:
        return records
    return [r for r in records if (r.recipient or "").lower() not in own]


def _dsn(msg: Loaded, text: str):
    if msg.dsn:
        parsed = dsn_mod.parse_dsn("\n\n".join(msg.dsn), limits.MAX_RECIPIENTS)
        if parsed.recipients:
            return parsed
    m = _EMBEDDED_DSN.search(text)
    if m:
        # Fields written into the text: start at the per-message block if there is one.
        start = text.rfind("\n\n", 0, m.start())
        block_start = max(0, text.rfind("Reporting-MTA", 0, m.start()))
        begin = min(block_start, start + 1) if block_start else start + 1
        return dsn_mod.parse_dsn(text[max(0, begin): m.start() + 20000], limits.MAX_RECIPIENTS)
    return None


def _from_dsn(dsn) -> list[Record]:
    out = []
    for r in dsn.recipients:
        dtype, diag = r.diagnostic
        action = r.action
        action = _ACTION_WORDS.get(action, action)
        status = find_status(r.status)
        if diag:
            in_diag = find_status(diag)
            # X.0.0 says nothing; the code the remote server gave is more precise
            if in_diag and (not status or (status.endswith(".0.0") and in_diag[0] == status[0])):
                status = in_diag
        if action not in _KIND_OF_ACTION:
            action = {"2": "delivered", "4": "delayed"}.get((status or "5")[0], "failed")
        rec = Record(recipient=r.final or r.original, original_recipient=r.original, action=action,
                     status=status, diagnostic=diag, diagnostic_type=dtype, remote_mta=r.remote_mta,
                     last_attempt=r.fields.get("last-attempt-date"))
        ndr.fill_codes(rec)
        out.append(rec)
    return out


def _merge_text(records: list[Record], texts: list[Record]) -> None:
    """Complete DSN records with what the human-readable part says about the same address."""
    by_addr = {(t.recipient or "").lower(): t for t in texts}
    for rec in records:
        t = by_addr.get((rec.recipient or "").lower()) or by_addr.get((rec.original_recipient or "").lower())
        if t is None and len(texts) == 1 and len(records) == 1:
            t = texts[0]
        if t is None:
            continue
        if not rec.recipient:
            rec.recipient = t.recipient
        if not rec.diagnostic or (len(rec.diagnostic) < 12 and len(t.diagnostic) > len(rec.diagnostic)):
            rec.diagnostic = t.diagnostic
            rec.reply_code = rec.reply_code or t.reply_code
            rec.status = rec.status or t.status
        rec.smtp_phase = rec.smtp_phase or t.smtp_phase
        rec.reply_code = rec.reply_code or t.reply_code
    if not records:
        records.extend(texts)


def _complete_from_report(records: list[Record], msg: Loaded, report_text: str, exclude) -> None:
    """DSN records that the human-readable part did not name (a pipe, a file, a path):
    take the recipient from X-Failed-Recipients or the report, the diagnostic from the
    report when the DSN has none."""
    if len(records) != 1:
        return
    rec = records[0]
    if not rec.recipient:
        failed = [a for v in msg.headers.get_all("x-failed-recipients") for a in addresses(v)]
        named = ndr.named_addresses(report_text, exclude)
        rec.recipient = (failed or named or [None])[0]
    if not rec.diagnostic and report_text.strip():
        rec.diagnostic = ndr.diagnostic_of(report_text, max_lines=16)
        ndr.fill_codes(rec)


def _fallback_recipients(msg: Loaded, original, report_text: str, ctx: mta.Context) -> list[Record]:
    """A bounce that no dialect could read: X-Failed-Recipients, else the addresses its text
    names near failure words, else the recipient the sender encoded in the return path
    (VERP), else the recipient of the returned original."""
    targets = []
    for value in msg.headers.get_all("x-failed-recipients"):
        targets.extend(addresses(value))
    if not targets:
        named = freetext.failed_records(report_text, ctx.exclude, ctx.settle)
        if named:
            return named
        found = _verp_recipient(msg) or freetext.original_recipient(original, ctx.exclude)
        targets = [found] if found else []
    diag = ndr.diagnostic_of(report_text, max_lines=16)
    out = []
    for t in dict.fromkeys(targets):
        rec = Record(recipient=t, diagnostic=diag)
        ndr.fill_codes(rec)
        out.append(rec)
    return out


def _verp_recipient(msg: Loaded) -> str | None:
    """The recipient a VERP return path encodes (``bounces+ana=dest.example@sender``), from
    the address the bounce was delivered to."""
    for name in ("to", "delivered-to", "x-original-to"):
        for value in msg.headers.get_all(name)[:1]:
            found = correlation.verp_recipient(value)
            if found:
                return found
    return None


def _autoreply(msg: Loaded, report_text: str) -> list[Record]:
    sender = clean_address(msg.headers.get("from")) or clean_address(msg.headers.get("reply-to"))
    # the auto-reply's subject echoes the original's ("Automatic reply: <subject>"): kept as
    # a Subject field, which evidence masks (classifier.privacy); the kind decides the verdict
    return [Record(recipient=sender, action="autoreply", provider_class="auto-reply",
                   diagnostic="Subject: " + unfold(msg.headers.get("subject"))[:300])]


def _message_info(msg: Loaded, fmt: str, module, dsn_message: dict, original, dropped: int = 0) -> MessageInfo:
    corr = correlation.collect(original)
    for name, value in correlation.collect(msg.headers).items():
        corr.setdefault(name, value)
    if dsn_message.get("original-envelope-id"):
        corr["original-envelope-id"] = dsn_message["original-envelope-id"]
    original_id = correlation.message_id(original.get("message-id")) if original is not None else None
    sender = None
    for value in (dsn_message.get("x-postfix-sender", ""), dsn_message.get("x-sendgrid-sender", ""),
                  original.get("return-path") if original is not None else "",
                  original.get("from") if original is not None else ""):
        sender = clean_address(value)
        if sender:
            break
    verp = None
    for value in msg.headers.get_all("to")[:1] + msg.headers.get_all("delivered-to")[:1] + \
            msg.headers.get_all("x-original-to")[:1] + ([sender] if sender else []):
        verp = correlation.verp_recipient(value)
        if verp:
            break
    feedback_type = None
    if fmt == "arf":
        fields = arf.feedback_fields(msg)
        feedback_type = (fields.get("feedback-type") or [None])[0]
    reporting = strip_field_type(dsn_message.get("reporting-mta", ""))[1] or None
    return MessageInfo(
        format=fmt, provider=module.name if module else None, reporting_mta=reporting,
        arrival_date=dsn_message.get("arrival-date"), original_message_id=original_id,
        original_sender=sender, correlation=corr, verp_recipient=verp,
        subject=msg.headers.get("subject") or None, feedback_type=feedback_type,
        truncated=msg.truncated, recipients_dropped=dropped, parser=msg.parser,
    )


def _prefer_specific_status(rec: Record) -> None:
    """``X.0.0`` says nothing: the remote server's own code in the diagnostic is better."""
    if rec.diagnostic and (not rec.status or rec.status[1:] == ".0.0"):
        found = find_status(rec.diagnostic)
        if found and (not rec.status or found[0] == rec.status[0]):
            rec.status = found


def _result(rec: Record, module, info: MessageInfo) -> RecipientResult:
    if not rec.recipient and info.verp_recipient and rec.action not in ("complaint", "autoreply"):
        rec.recipient = info.verp_recipient
    kind = _KIND_OF_ACTION.get(rec.action, Kind.BOUNCE)
    diagnostic = join_multiline_reply(rec.diagnostic)
    _prefer_specific_status(rec)
    if rec.diagnostic_type and rec.diagnostic_type not in ("smtp", "esmtp", "lmtp"):
        # keep the type of non-SMTP diagnostics: a local delivery agent failing (x-unix) is
        # a different story from a remote server refusing
        diagnostic = f"{rec.diagnostic_type}; {diagnostic}"
    provider = module.name if module else ("arf" if info.format == "arf" else info.format)
    evidence = Evidence(
        diagnostic=diagnostic[:4000], status=rec.status, reply_code=rec.reply_code,
        smtp_phase=rec.smtp_phase, remote_mta=rec.remote_mta, provider=provider,
        provider_class=rec.provider_class, kind=kind,
    )
    recipient = clean_address(rec.recipient) if rec.recipient else None
    return RecipientResult(recipient=recipient, action=rec.action, evidence=evidence,
                           original_recipient=rec.original_recipient, last_attempt=rec.last_attempt,
                           feedback_type=rec.feedback_type)
