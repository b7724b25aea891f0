"""Verizon Wireless MMS gateways: the recipient is the To of the quoted original."""
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record
from classifier.parse.text import addresses

_detect = header_matcher(from_=r"@(?:[\w-]+\.)*(?:vzwpix\.com|vtext\.com|verizon\.net|verizonwireless\.com)")


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    report, _ = ndr.split_original(ctx.text)
    m = re.search(r"^To:\s*(.+)$", ctx.text, re.M)
    targets = addresses(m.group(1)) if m else []
    diag = ndr.diagnostic_of(re.split(r"^Original Message:", report, flags=re.M | re.I)[0])
    return [Record(recipient=t, diagnostic=diag) for t in targets[:20]]


MODULE = Module("verizon", _detect, extract)
