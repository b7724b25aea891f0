"""Postfix: "Undelivered Mail Returned to Sender", recipient lines ``<addr>: host ... said: ...``;
also the postmaster notice "Postfix SMTP server: errors from ..." with a session transcript."""
import re

from classifier.parse import ndr
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record
from classifier.parse.text import clean_address, find_reply, find_status, unfold

DIALECT = ndr.Dialect(start=re.compile(r"^\s*The mail system\s*$", re.M),
                      delayed=re.compile(r"has not yet been delivered|still being retried|Delayed Mail", re.I))

_SESSION = re.compile(r"^\s*Transcript of session follows", re.I | re.M)
_TURN = re.compile(r"^[ \t]*(In|Out):[ \t]*(.*)$")
_CONTINUATION = re.compile(r"^[ \t]{3,}\S")
_COMMANDS = {"MAIL": "MAIL", "RCPT": "RCPT", "DATA": "DATA", "BDAT": "DATA", "EHLO": "HELO", "HELO": "HELO",
             "STARTTLS": "STARTTLS", "AUTH": "AUTH"}


def session(text: str, exclude: frozenset[str] = frozenset()) -> list[Record]:
    """The postmaster notice of a failed SMTP session (``In:``/``Out:`` lines): the server
    refused a client's message. Failed recipients are the ``RCPT TO`` addresses; the failure
    is the server's last 4xx/5xx reply and the phase is the command it answered (a reply to
    one ``RCPT TO`` concerns that recipient only)."""
    m = _SESSION.search(text)
    if not m:
        return []
    turns: list[list[str]] = []
    for line in text[m.end():m.end() + 20000].split("\n"):
        t = _TURN.match(line)
        if t:
            turns.append([t.group(1), t.group(2).strip()])
        elif turns and _CONTINUATION.match(line):
            turns[-1][1] += " " + line.strip()
    rcpts: list[str] = []
    command, failure, failed_rcpt = None, None, None
    for who, said in turns:
        if who == "In":
            verb = said.split(" ", 1)[0].split(":", 1)[0].upper()
            command = _COMMANDS.get(verb, command if verb == "" else None)
            if verb == "RCPT":
                addr = clean_address(said.split(":", 1)[-1])
                if addr and addr.lower() not in exclude:
                    rcpts.append(addr)
            continue
        if said[:1] in ("4", "5") and said[:3].isdigit():
            failure = (said, command)
            failed_rcpt = rcpts[-1] if command == "RCPT" and rcpts else None
    if failure is None:
        return []
    reply, phase = failure
    out = []
    for addr in dict.fromkeys([failed_rcpt] if failed_rcpt else rcpts):
        diag = unfold(reply)
        out.append(Record(recipient=addr, diagnostic=diag, action="delayed" if reply[0] == "4" else "failed",
                          status=find_status(diag), reply_code=find_reply(diag), smtp_phase=phase))
    return out


def _extract(msg, ctx: Context) -> list[Record]:
    return ndr.scan(ctx.text, DIALECT, exclude=ctx.exclude) or session(ctx.text, ctx.exclude)


MODULE = Module(
    "postfix",
    header_matcher(subject=r"^(?:Undelivered Mail Returned to Sender|Delayed Mail \(still being retried\)|"
                           r"Mail Delivery Status Report|Successful Mail Delivery Report|"
                           r"Postfix SMTP server: errors from)",
                   from_=r"\(Mail Delivery System\)|Mail Delivery System <",
                   body=r"^This is the mail system at host |^The mail system\s*$"),
    _extract,
)
