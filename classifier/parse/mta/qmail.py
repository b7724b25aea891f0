"""qmail (and its many descendants): "Hi. This is the qmail-send program at ..."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

DIALECT = ndr.Dialect(
    stop=re.compile(r"^--- ?(?:Below this line is a copy of the message|"
                    r"Enclosed are the original headers of the message|Below the next line)", re.I | re.M),
    delayed=re.compile(r"^This is a warning message only|I'm not going to try again; this message has been in the queue too long", re.I | re.M),
)

MODULE = simple(
    "qmail",
    header_matcher(body=r"^Hi\. This is the qmail|qmail-send program|^This is the qmail-send|"
                        r"^--- Below this line is a copy of the message",
                   received=r"\(qmail \d+ invoked (?:for bounce|from network)\)",
                   subject=r"^failure notice$"),
    DIALECT,
)
