"""Ipswitch IMail Server: "Original message follows." and "Unknown user" blocks."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple("imailserver", header_matcher(headers=("X-Mailer",), body=r"^Original message follows\.", all_of=True),
                ndr.Dialect(stop=re.compile(r"^Original message follows\.", re.M)))
