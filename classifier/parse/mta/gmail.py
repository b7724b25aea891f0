"""Gmail and Google Workspace: "Delivery to the following recipient failed permanently"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

DIALECT = ndr.Dialect(
    stop=re.compile(r"^-{3,} ?Original message ?-{3,}|^-{3,} ?Below this line is a copy", re.I | re.M),
    recipient=re.compile(
        r"(?:^[ \t]{2,}<?(?P<addr>[^\s<>@]+@[^\s<>]+?)>?[ \t]*$|"
        r"(?:message wasn't delivered to|couldn't be delivered to|message to|delivered to|"
        r"(?:Your|the) message to) (?P<addr2>[^\s<>@]+@[^\s<>]+?)[\s,.]+(?:because|couldn't|has been|was|$))",
        re.I | re.M),
    answer=re.compile(r"The (?:error that the other server returned was|response (?:from the remote server|was)):\s*", re.I),
    delayed=re.compile(r"THIS IS A WARNING MESSAGE ONLY|has been delayed|will be retried|"
                       r"Delivery incomplete|temporary problem", re.I),
)


def _recipient(m):
    return m.group("addr") or m.group("addr2")


MODULE = simple(
    "gmail",
    header_matcher(from_=r"mailer-daemon@(?:googlemail|gmail|google)\.com",
                   headers=("X-Gm-Message-State", "X-Failed-Recipients-Google"),
                   body=r"^Delivery to the following recipient|Google tried to deliver your message|"
                        r"^\*\* (?:Address not found|Message not delivered|Message blocked) \*\*"),
    DIALECT,
)
