"""Several messages in one file: the mbox format, as mail systems store returned mail.

A bounce mailbox saved by a mail client or an MTA is a sequence of messages, each opened by
a ``From `` line ("From MAILER-DAEMON  Thu Jul  2 12:05:05 2020") at the start of a line;
lines of a body that begin with "From " are quoted (">From ") by the writer. :func:`split` returns the messages; a file that is not an mbox is one message.
"""
from __future__ import annotations

import re

_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
#: The separator line: "From " + envelope sender + a ctime() date (some writers add a zone).
FROM_LINE = re.compile(rb"^From \S{1,320}[ \t]+" + _DAY + rb"[ \t]+" + _MONTH +
                       rb"[ \t]+\d{1,2}[ \t]+\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]+\S{1,10})?[ \t]+\d{4}[ \t]*\r?$", re.M)
#: At most this many messages are read from one file.
MAX_MESSAGES = 10_000


def is_mbox(raw: bytes) -> bool:
    return FROM_LINE.match(raw) is not None


def split(raw: bytes) -> list[bytes]:
    """The messages of an mbox (without their ``From `` lines), else ``[raw]``."""
    if not is_mbox(raw):
        return [raw]
    # Writers are supposed to leave a blank line before a "From " line; not all do. A whole
    # ctime() date after the sender is what tells a separator from a body line.
    starts = list(FROM_LINE.finditer(raw))
    out = []
    for i, m in enumerate(starts[:MAX_MESSAGES]):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(raw)
        body = raw[m.end():end].lstrip(b"\r\n")
        if body.strip():
            out.append(body)
    return out or [raw]
