"""Sendmail (and V5 sendmail): "Returned mail: ...", "----- Transcript of session follows -----"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

DIALECT = ndr.Dialect(
    recipient=re.compile(ndr.RECIPIENT_LINE.pattern + r"|^\d{3} <(?P<addr2>[^\s<>@]+@[^\s<>]+)>\.\.\. ",
                         re.I | re.M),
    stop=re.compile(r"^\s*-{3,} ?(?:Unsent message follows|Original message follows|"
                    r"Message header follows|Returned message|Original message)", re.I | re.M),
    delayed=re.compile(r"^Warning: could not send message|will keep trying|THIS IS A WARNING MESSAGE ONLY|"
                       r"Delivery attempts will continue", re.I | re.M),
)

MODULE = simple(
    "sendmail",
    header_matcher(subject=r"^(?:Returned mail: |Warning: could not send message|Postmaster notify: |"
                           r"Return receipt)",
                   from_=r"Mail Delivery Subsystem",
                   body=r"^\s*-{3,} ?The following addresses had|^\s*-{3,} ?Transcript of session follows"),
    DIALECT,
)
