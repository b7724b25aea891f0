"""BIGLOBE (Japanese ISP): "The following address(es) failed"-style NDRs from biglobe.ne.jp."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("biglobe", header_matcher(from_=r"postmaster@(?:[\w-]+\.)*biglobe\.ne\.jp"))
