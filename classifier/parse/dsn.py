"""RFC 3464 delivery status notifications: the machine-readable part of a bounce.

A ``message/delivery-status`` body is one block of per-message fields followed by one
block per recipient, separated by blank lines. Real ones break this in every way: no
blank lines, fields folded across lines, diagnostics cut short, field names in any case.
The reader here splits on blank lines and, failing that, starts a new recipient whenever a
recipient field repeats.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from classifier.parse.text import clean_address, strip_field_type, unfold

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]*(.*)$")
_RECIPIENT_FIELDS = frozenset({"final-recipient", "original-recipient", "x-actual-recipient"})
_PER_RECIPIENT = _RECIPIENT_FIELDS | frozenset(
    {"action", "status", "remote-mta", "diagnostic-code", "last-attempt-date", "will-retry-until",
     "final-log-id", "x-remote-mta"})


@dataclass
class DsnRecipient:
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> str | None:
        return clean_address(self.fields.get("final-recipient", ""))

    @property
    def original(self) -> str | None:
        return clean_address(self.fields.get("original-recipient", ""))

    @property
    def action(self) -> str:
        return self.fields.get("action", "").split()[0].lower() if self.fields.get("action") else ""

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    @property
    def diagnostic(self) -> tuple[str, str]:
        """(type, text): ``smtp`` / ``x-unix`` / ``x-postfix`` ..., and the text."""
        return strip_field_type(self.fields.get("diagnostic-code", ""))

    @property
    def remote_mta(self) -> str | None:
        value = self.fields.get("remote-mta", "")
        return strip_field_type(value)[1] or None if value else None


@dataclass
class Dsn:
    message: dict[str, str] = field(default_factory=dict)
    recipients: list[DsnRecipient] = field(default_factory=list)
    #: recipient blocks beyond the limit: counted, not read (the answer says how many)
    dropped: int = 0


def field_lines(text: str):
    """Yield (name, value) pairs and None for blank lines, unfolding continuation lines."""
    name = None
    value: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if name is not None:
                yield name, unfold(" ".join(value))
                name = None
            yield None
            continue
        if line[0] in " \t" and name is not None:
            value.append(line.strip())
            continue
        m = _FIELD.match(line)
        if not m:
            if name is not None:      # a wrapped line without indentation: keep it
                value.append(line.strip())
            continue
        if name is not None:
            yield name, unfold(" ".join(value))
        name, value = m.group(1).lower(), [m.group(2)]
    if name is not None:
        yield name, unfold(" ".join(value))


def parse_dsn(text: str, limit: int = 500) -> Dsn:
    dsn = Dsn()
    current: DsnRecipient | None = None
    for item in field_lines(text):
        if item is None:
            if current is not None and current.fields:
                current = None
            continue
        name, value = item
        if name in _RECIPIENT_FIELDS and current is not None and name in current.fields:
            current = None                      # a repeated recipient field: next recipient
        if current is None:
            if name not in _PER_RECIPIENT:
                dsn.message.setdefault(name, value)
                continue
            current = DsnRecipient()
            if len(dsn.recipients) >= limit:
                dsn.dropped += 1                # read no further than to count it
            else:
                dsn.recipients.append(current)
        current.fields.setdefault(name, value)
    dsn.recipients = [r for r in dsn.recipients
                      if r.final or r.original or r.fields.get("status") or r.fields.get("diagnostic-code")]
    return dsn
