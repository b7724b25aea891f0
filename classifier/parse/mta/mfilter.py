"""m-FILTER (Japanese gateway): "-------server message" / "-------SMTP command" blocks."""
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module
from classifier.parse.report import Record
from classifier.parse.text import clean_address

_BLOCK = re.compile(r"^(?P<addr>\S+@\S+)\s*\n-{5,}server message\s*\n(?P<diag>.*?)\n-{5,}SMTP command\s*\n(?P<cmd>\S+)",
                    re.M | re.S)


def detect(msg: Loaded) -> bool:
    return "m-filter" in msg.headers.get("x-mailer").lower() or \
        "-------server message" in msg.head


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    out = []
    for m in _BLOCK.finditer(ctx.text[:20000]):
        addr = clean_address(m.group("addr"))
        if not addr:
            continue
        cmd = m.group("cmd").upper()
        rec = Record(recipient=addr, diagnostic=ndr.diagnostic_of(m.group("diag")),
                     smtp_phase={"RCPT": "RCPT", "MAIL": "MAIL", "DATA": "DATA"}.get(cmd[:4]))
        ndr.fill_codes(rec)
        out.append(rec)
    return out or ndr.scan(ctx.text, exclude=ctx.exclude)


MODULE = Module("mfilter", detect, extract, trusted=True)
