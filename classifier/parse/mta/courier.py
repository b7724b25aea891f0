"""Courier MTA: "This is a delivery status notification from ..."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "courier",
    header_matcher(from_=r"Courier mail server at", body=r"^This is a delivery status notification from",
                   message_id=r"\.\w+\.courier\b|courier\.\w+"),
    ndr.Dialect(start=re.compile(r"^\s*(?:UNDELIVERABLE|DELAYED) MAIL\b|following address", re.I | re.M),
                delayed=re.compile(r"^\s*DELAYED MAIL", re.I | re.M)),
)
