"""OpenSMTPD: "This is the MAILER-DAEMON, please DO NOT REPLY to this email."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "opensmtpd",
    header_matcher(subject=r"^Delivery status notification: (?:error|delayed|success)",
                   body=r"This is the MAILER-DAEMON, please DO NOT REPLY",
                   received=r"\(OpenSMTPD\)"),
    ndr.Dialect(stop=re.compile(r"^\s*Below is a copy of the original message", re.I | re.M),
                delayed=re.compile(r"A message is delayed|only a temporary failure report", re.I)),
)
