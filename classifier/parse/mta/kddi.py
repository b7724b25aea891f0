"""KDDI / au (dion.ne.jp, ezweb.ne.jp relays): "Could not be delivered to: <addr>"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple("kddi",
                header_matcher(body=r"^\s*Could not be delivered to: <"),
                ndr.Dialect(recipient=re.compile(r"Could not be delivered to:\s*<?(?P<addr>[^\s<>]+@[^\s<>]+)>?", re.I)), trusted=True)
