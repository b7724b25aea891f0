"""McAfee Email Gateway: "--- The following addresses had delivery problems ---"."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("mcafee", header_matcher(headers=("X-NAI-Header",), body=r"following addresses had delivery problems"))
