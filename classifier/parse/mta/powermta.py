"""PowerMTA: "Hello, this is the mail server on ..." and X-PowerMTA DSN fields."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "powermta",
    header_matcher(body=r"^Hello, this is the mail server on", subject=r"^Delivery report$"),
    ndr.Dialect(recipient=re.compile(r"^<(?P<addr>[^\s<>@]+@[^\s<>]+)> delivery (?:failed|delayed)", re.M),
                delayed=re.compile(r"delivery delayed; will continue trying", re.I)),
)
