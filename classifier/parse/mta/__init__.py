"""One module per MTA or mailbox provider, in Sisimai's layout, registered in one table.

Each module holds a :class:`Module`: a cheap ``detect`` over headers (and, where the
headers say nothing, the first lines of the body) and an ``extract`` that reads the
recipients of that dialect. Most dialects are the generic NDR shape with their own
markers, so most modules are a few patterns handed to :func:`simple`; the odd ones
(Exchange, Gmail, Google Groups ...) write their own ``extract``.

Order matters only when two detectors could both fire: providers that run on top of
a common MTA (Amazon SES on its own fleet, Google Groups on Gmail) come first.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from classifier.parse import freetext, ndr
from classifier.parse.load import Loaded
from classifier.parse.report import Record


@dataclass(frozen=True)
class Context:
    """What every extractor may need besides the message: the texts and who sent it."""

    text: str
    exclude: frozenset[str] = field(default_factory=frozenset)
    #: The address a report means by a bare local part (see freetext.settle_local_part).
    settle: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Module:
    name: str
    detect: Callable[[Loaded], bool]
    extract: Callable[[Loaded, Context], list[Record]]
    #: The detector alone proves the message is a report of this module (a body marker no
    #: other mail has); otherwise the message must also look like a bounce to be read.
    trusted: bool = False


class _Prefiltered:
    """A case-insensitive regex that first checks, with substring tests, that one of the
    literals every match must contain occurs at all (see classifier.rules.phrases)."""

    __slots__ = ("regex", "anchors")

    def __init__(self, pattern: str, flags: int):
        from classifier.rules.phrases import pattern_anchors
        self.regex = re.compile(pattern, flags)
        found = pattern_anchors(pattern.lower())
        self.anchors = tuple(a.lower() for a in found) if found else None

    def search(self, text: str, lowered: str):
        if self.anchors is not None:
            for a in self.anchors:
                if a in lowered:
                    return self.regex.search(text)
            return None
        return self.regex.search(text)


def header_matcher(*, from_: str | None = None, subject: str | None = None,
                   headers: tuple[str, ...] = (), received: str | None = None,
                   message_id: str | None = None, body: str | None = None,
                   all_of: bool = False) -> Callable[[Loaded], bool]:
    """A detector from regexes over From, Subject, presence of headers, Received, body start."""
    f = _Prefiltered(from_, re.I) if from_ else None
    s = _Prefiltered(subject, re.I) if subject else None
    r = _Prefiltered(received, re.I) if received else None
    i = _Prefiltered(message_id, re.I) if message_id else None
    b = _Prefiltered(body, re.I | re.M) if body else None
    names = tuple(h.lower() for h in headers)

    def tests(msg: Loaded):
        # cheapest first: each is evaluated only when needed
        if names:
            yield any(n in msg.headers for n in names)
        if f is not None:
            yield bool(f.search(msg.headers.get("from"), msg.lowered("from")))
        if s is not None:
            yield bool(s.search(msg.headers.get("subject"), msg.lowered("subject")))
        if i is not None:
            yield bool(i.search(msg.headers.get("message-id"), msg.lowered("message-id")))
        if r is not None:
            yield bool(r.search(msg.received_head, msg.lowered("received")))
        if b is not None:
            yield bool(b.search(msg.head, msg.head_lower))

    def detect(msg: Loaded) -> bool:
        if all_of:
            return all(tests(msg))
        # any-of, unrolled: this runs for every module on every message
        if names and any(n in msg.headers for n in names):
            return True
        if f is not None and f.search(msg.headers.get("from"), msg.lowered("from")):
            return True
        if s is not None and s.search(msg.headers.get("subject"), msg.lowered("subject")):
            return True
        if i is not None and i.search(msg.headers.get("message-id"), msg.lowered("message-id")):
            return True
        if r is not None and r.search(msg.received_head, msg.lowered("received")):
            return True
        return b is not None and b.search(msg.head, msg.head_lower) is not None
    return detect


def simple(name: str, detect: Callable[[Loaded], bool], dialect: ndr.Dialect = ndr.DEFAULT,
           trusted: bool = False) -> Module:
    def extract(msg: Loaded, ctx: Context) -> list[Record]:
        return ndr.scan(ctx.text, dialect, exclude=ctx.exclude) or freetext.failed_records(ctx.text, ctx.exclude, ctx.settle)
    return Module(name, detect, extract, trusted)


def _load_table() -> list[Module]:
    from classifier.parse.mta import (
        activehunter,
        amavis,
        amazonses,
        amazonworkmail,
        aol,
        apple,
        barracuda,
        bigfoot,
        biglobe,
        courier,
        docomo,
        domino,
        dragonfly,
        exchange,
        exim,
        ezweb,
        facebook,
        fml,
        gmail,
        gmx,
        googlegroups,
        imailserver,
        kddi,
        mailfoundry,
        mailmarshal,
        mailru,
        mcafee,
        messagelabs,
        mfilter,
        mimecast,
        mxlogic,
        notes,
        office365,
        opensmtpd,
        postfix,
        powermta,
        proofpoint,
        qmail,
        sendgrid,
        sendmail,
        sophos,
        trendmicro,
        verizon,
        x_generic,
        yahoo,
        yandex,
        zoho,
    )
    return [
        googlegroups.MODULE, amazonses.MODULE, amazonworkmail.MODULE, sendgrid.MODULE,
        office365.MODULE, gmail.MODULE, yahoo.MODULE, aol.MODULE, apple.MODULE,
        facebook.MODULE, zoho.MODULE, yandex.MODULE, mailru.MODULE, gmx.MODULE, verizon.MODULE,
        barracuda.MODULE, mimecast.MODULE, proofpoint.MODULE, messagelabs.MODULE, mxlogic.MODULE,
        mcafee.MODULE, trendmicro.MODULE, sophos.MODULE, mailfoundry.MODULE, mailmarshal.MODULE,
        activehunter.MODULE, amavis.MODULE, mfilter.MODULE, kddi.MODULE, ezweb.MODULE,
        docomo.MODULE, biglobe.MODULE, bigfoot.MODULE, fml.MODULE, imailserver.MODULE,
        notes.MODULE, domino.MODULE, powermta.MODULE, opensmtpd.MODULE, courier.MODULE,
        dragonfly.MODULE, qmail.MODULE, exim.MODULE, postfix.MODULE, sendmail.MODULE,
        # Exchange's subject test ("Undeliverable: ...") is broad: after every specific module
        exchange.MODULE, x_generic.MODULE,
    ]


_TABLE: list[Module] | None = None


def table() -> list[Module]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _load_table()
    return _TABLE


def detect(msg: Loaded) -> Module | None:
    for module in table():
        if module.detect(msg):
            return module
    return None
