"""Trustwave MailMarshal: "Your message: ... Could not be delivered because of ..."."""
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record
from classifier.parse.text import clean_address

_detect = header_matcher(subject=r"^Undeliverable Mail: ", body=r"^Could not be delivered because of", all_of=True)
_WHY = re.compile(r"^Could not be delivered because of\s*\n(.*?)\n\s*\n", re.M | re.S)
_WHO = re.compile(r"^The following recipients were affected:\s*\n((?:[ \t]+\S+\s*\n)+)", re.M)


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    why = _WHY.search(ctx.text)
    who = _WHO.search(ctx.text)
    if not who:
        return ndr.scan(ctx.text, exclude=ctx.exclude)
    diag = ndr.diagnostic_of(why.group(1)) if why else ""
    out = []
    for line in who.group(1).splitlines():
        addr = clean_address(line.strip())
        if addr:
            rec = Record(recipient=addr, diagnostic=diag)
            ndr.fill_codes(rec)
            out.append(rec)
    return out


MODULE = Module("mailmarshal", _detect, extract)
