"""Yahoo (and AOL since it runs on Yahoo): "Sorry, we were unable to deliver your message"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "yahoo",
    header_matcher(from_=r"@(?:[\w-]+\.)*yahoo(?:-inc)?\.(?:com|co\.\w+|\w+)",
                   body=r"^Sorry, we were unable to deliver your message"),
    ndr.Dialect(stop=re.compile(r"^--- Below this line is a copy of the message", re.M)),
)
