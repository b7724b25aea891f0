"""Zoho Mail: "This message was created automatically by mail delivery software." from zoho.com."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "zoho",
    header_matcher(from_=r"mailer-daemon@(?:[\w-]+\.)*zoho(?:mail)?\.(?:com|eu|in|jp)", headers=("X-ZohoMail",)),
    ndr.Dialect(start=re.compile(r"following address(?:\(es\))? failed:?|Delivery has been delayed", re.I),
                delayed=re.compile(r"Delivery has been delayed|will retry", re.I)),
)
