"""Lotus Notes (older SMTP MTA): "------- Failure Reasons --------"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "notes",
    header_matcher(subject=r"^Undeliverable message$", body=r"^-{3,} ?Failure Reasons"),
    ndr.Dialect(start=re.compile(r"^-{3,} ?Failure Reasons\s*-*", re.M),
                stop=re.compile(r"^-{3,} ?Returned Message", re.M),
                recipient=re.compile(r"^\s*<?(?P<addr>[^\s<>@]+@[\w.-]+\.\w+)>?\s*$", re.M)),
)
