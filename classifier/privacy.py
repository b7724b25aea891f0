"""Keeping the sender's message out of evidence: echoed subjects are masked.

Non-delivery reports often quote the subject of the message that failed ("Your message
To: ann@example.org Subject: Your invoice 1234 Sent: ... did not reach"). A subject is
message content: it must not be stored in evidence, shown in answers, written to logs or
the review queue, and it is noise for the model (one campaign's subject would become a
"feature" of a failure reason). :func:`mask_subjects` replaces the echoed value, keeping
the field name so that the shape of the report is still visible; it is applied where
diagnostics enter the system (:class:`classifier.events.Evidence` and
:class:`classifier.events.Event`), so every source and every reader sees the same text.
"""
from __future__ import annotations

import re

MASK = "[subject removed]"
#: ``Subject:`` as a field label (not "multiple Subject headers", not "header field: Subject").
_LABEL = re.compile(r"\bsubject[ \t]*:[ \t]*", re.I)
#: Where an echoed subject ends: the line, or the next field of the same summary
#: (diagnostics are often unfolded onto one line: "Subject: x Sent: y", "Subject: 'x' Date: 'y'").
_END = re.compile(r"[\r\n]|\s(?:sent|date|to|from|cc|bcc|message-id|size|received|reply-to)[ \t]*:", re.I)
#: RFC 5322's line limit: no echoed subject runs further.
_MAX = 998


def mask_subjects(text: str) -> str:
    """``text`` with the value of every ``Subject:`` field replaced by :data:`MASK`."""
    if not text or ("ubject" not in text and "UBJECT" not in text):
        return text
    out: list[str] = []
    pos = 0
    while True:
        m = _LABEL.search(text, pos)
        if m is None:
            break
        end = _END.search(text, m.end(), m.end() + _MAX)
        stop = end.start() if end else min(len(text), m.end() + _MAX)
        if stop > m.end() and text[m.end():stop].strip() != MASK:
            out.append(text[pos:m.end()])
            out.append(MASK)
        else:
            out.append(text[pos:stop])
        pos = stop
    out.append(text[pos:])
    return "".join(out)
