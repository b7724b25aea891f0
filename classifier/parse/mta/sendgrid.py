"""SendGrid's own NDRs: ``local:id:<addr> : ip : mx : diagnostic``."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "sendgrid",
    header_matcher(from_=r"@sendgrid\.(?:net|info|com)", body=r"automatically generated message from SendGrid",
                   headers=("X-SendGrid-Eid",)),
    ndr.Dialect(recipient=re.compile(r"^\S*<(?P<addr>[^\s<>@]+@[^\s<>]+)>\s*:", re.M),
                delayed=re.compile(r"has been delayed|will continue to try", re.I)),
)
