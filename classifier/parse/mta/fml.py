"""fml mailing-list manager: a post refused because the sender is not a member.

The failed "recipient" is the list address (the To of the refused post).
"""
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record
from classifier.parse.text import addresses

_detect = header_matcher(headers=("X-MLServer",), message_id=r"\.FML", body=r"^You are not a member of this mailing list",
                         subject=r"are not member \(.+ ML\)")


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    report, original = ndr.split_original(ctx.text)
    m = re.search(r"mailing list <([^>]+)>", report)
    targets = [m.group(1)] if m else []
    if not targets and msg.original is not None:
        targets = addresses(msg.original.get("to"))
    return [Record(recipient=t, diagnostic=ndr.diagnostic_of(report), status="5.0.0") for t in targets[:5]]


MODULE = Module("fml", _detect, extract, trusted=True)
