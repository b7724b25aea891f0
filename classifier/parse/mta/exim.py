"""Exim: "Mail delivery failed: returning message to sender", indented address lines."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

DIALECT = ndr.Dialect(
    start=re.compile(r"(?:following address(?:\(es\)|es)?|address(?:\(es\))?) (?:failed|has been delayed|"
                     r"have been delayed|has not yet been delivered)[^\n]*:?[ \t]*$|"
                     r"could not be delivered to one or more[^\n]*\n", re.I | re.M),
    stop=re.compile(r"^-{3,} ?(?:This is a copy of|The header of the original|Original message)|"
                    r"^Included is a copy of the message header", re.I | re.M),
    delayed=re.compile(r"has not yet been delivered|has been delayed|No action is required on your part|"
                       r"Delay reason:|message delayed", re.I),
)

MODULE = simple(
    "exim",
    header_matcher(subject=r"^(?:Mail delivery failed|Warning: message \S+ delayed|"
                           r"Mail failure|error\(s\) in forwarding or filtering)",
                   headers=("X-Failed-Recipients",),
                   body=r"^This message was created automatically by mail delivery software"),
    DIALECT,
)
