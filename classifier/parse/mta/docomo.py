"""NTT docomo's mobile gateway (docomo.ne.jp)."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("docomo", header_matcher(from_=r"@(?:[\w-]+\.)*docomo\.ne\.jp.*(?:daemon|postmaster)|"
                                               r"(?:daemon|postmaster)[^@]*@(?:[\w-]+\.)*docomo\.ne\.jp"))
