"""Hard limits on what the parser will look at.

Bounce mailboxes receive whatever the internet sends them: spam, binary junk, messages of
tens of megabytes, MIME bombs. A bounce's useful content is small and near the top (the
notification text, the delivery-status part, the headers of the returned message), so the
parser reads a bounded prefix and a bounded number of parts instead of failing: bad input
costs at most a few milliseconds and a few megabytes, whatever its size.
"""
from __future__ import annotations

#: Bytes of a message that are parsed; the rest (usually the returned attachment) is cut.
MAX_PARSE_BYTES = 2 * 1024 * 1024
#: A header block larger than this is not a mail header but an attack or junk.
MAX_HEADER_BYTES = 256 * 1024
#: MIME parts considered; the message is cut before the part that would exceed it.
MAX_PARTS = 64
#: How deep multiparts may nest before their content is ignored.
MAX_DEPTH = 8
#: Characters of one text part that the NDR scanners read.
MAX_TEXT_CHARS = 64 * 1024
#: Recipients reported for one message (a DSN may list many; a list bomb may list millions).
MAX_RECIPIENTS = 500
#: Wall-clock budget of one message, raw bytes to verdict, in seconds: checked between the
#: stages (parse, extraction, rules, model; see classifier.parse.budget).
TIME_BUDGET = 2.0
