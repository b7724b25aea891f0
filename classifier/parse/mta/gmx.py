"""GMX, WEB.DE and 1&1 / IONOS: "This message was created automatically by mail delivery software."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "gmx",
    header_matcher(from_=r"mailer-daemon@(?:[\w-]+\.)*(?:gmx\.(?:net|de|com|at|ch)|web\.de|kundenserver\.de|"
                         r"ionos\.(?:de|com)|1und1\.de|perfora\.net|mail\.com)",
                   headers=("X-UI-Out-Filterresults", "X-GMX-Antispam")),
    ndr.Dialect(start=re.compile(r"following address(?:\(es\))? failed:|could not be delivered to one or more", re.I),
                stop=re.compile(r"^-{3,} ?(?:This is a copy of the message|Original message)", re.I | re.M)),
)
