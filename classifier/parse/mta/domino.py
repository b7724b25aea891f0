"""IBM/HCL Domino: "Your message ... was not delivered to: ... because: ..."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "domino",
    header_matcher(subject=r"^DELIVERY (?:FAILURE|FAILED):|^Delivery Status Notification \(Failure\) from Domino",
                   body=r"^\s*was not delivered to:\s*$",
                   headers=("X-MIMETrack",)),
    ndr.Dialect(start=re.compile(r"was not delivered to:", re.I),
                recipient=re.compile(r"^\s*<?(?P<addr>[^\s<>@]+@[\w.-]+\.\w+)>?\s*$", re.M)),
)
