"""au by KDDI's ezweb.ne.jp mobile gateway."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple("ezweb",
                header_matcher(from_=r"@(?:[\w-]+\.)*ezweb\.ne\.jp", received=r"ezweb\.ne\.jp"),
                ndr.Dialect(start=re.compile(r"following recipients?|was not delivered to", re.I)))
