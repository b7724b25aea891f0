"""Postfix: "Undelivered Mail Returned to Sender", recipient lines ``<addr>: host ... said: ...``."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "postfix",
    header_matcher(subject=r"^(?:Undelivered Mail Returned to Sender|Delayed Mail \(still being retried\)|"
                           r"Mail Delivery Status Report|Successful Mail Delivery Report)",
                   from_=r"\(Mail Delivery System\)|Mail Delivery System <",
                   body=r"^This is the mail system at host |^The mail system\s*$"),
    ndr.Dialect(start=re.compile(r"^\s*The mail system\s*$", re.M),
                delayed=re.compile(r"has not yet been delivered|still being retried|Delayed Mail", re.I)),
)
