"""Google Groups: a post to a group that does not exist or refuses the sender.

The failed "recipient" is the group address, i.e. the To of the returned post; the reason
is always about the sender (not a member, no permission), so the text is the diagnostic.
"""
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record
from classifier.parse.text import addresses, unfold

_detect = header_matcher(from_=r"mailer-daemon@(?:googlemail|gmail|google)\.com", headers=("X-Google-Smtp-Source",),
                         all_of=True)
_GROUPS = re.compile(r"Google (?:Groups|グループ)|groups\.google\.com", re.I)


def detect(msg: Loaded) -> bool:
    return _detect(msg) and bool(_GROUPS.search(msg.head))


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    report, original = ndr.split_original(ctx.text)
    targets = []
    if msg.original is not None:
        targets = addresses(msg.original.get("to"))
    if not targets:
        headers = original[:8000]
        m = re.search(r"^To:[ \t]*(.*(?:\n[ \t]+.*)*)", headers, re.M | re.I)
        targets = addresses(m.group(1)) if m else []
    diag = unfold(" ".join(line for line in report.splitlines() if line.strip())[:1500])
    return [Record(recipient=t, diagnostic=diag, status="5.0.0", provider_class="google-groups")
            for t in targets[:50]]


MODULE = Module("googlegroups", detect, extract, trusted=True)
