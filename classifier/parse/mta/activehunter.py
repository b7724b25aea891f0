"""Active!hunter (Japanese gateway): sendmail-like, recipient lines start with ``>>>``."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple("activehunter",
                header_matcher(subject=r"^FAILURE NOTICE :", received=r"Active!Hunter"),
                ndr.Dialect(recipient=re.compile(r"^\s*>>> (?P<addr>[^\s<>@]+@[^\s<>]+)", re.M)))
