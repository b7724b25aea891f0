"""DragonFly Mail Agent (dma): "This is the DragonFly Mail Agent ... at ..."."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "dragonfly",
    header_matcher(body=r"^This is the DragonFly Mail Agent", received=r"\(DragonFly Mail Agent"),
    ndr.Dialect(start=re.compile(r"There was an error delivering your mail to|following address", re.I),
                stop=re.compile(r"^Original message follows\.|^Message headers follow", re.I | re.M)),
)
