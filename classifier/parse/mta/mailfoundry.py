"""MailFoundry: "Unable to deliver message to: <addr>"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple("mailfoundry",
                header_matcher(subject=r"^Message delivery has failed$", body=r"^Unable to deliver message to: <",
                               all_of=True),
                ndr.Dialect(recipient=re.compile(r"^Unable to deliver message to: <(?P<addr>[^\s<>]+)>", re.M)))
