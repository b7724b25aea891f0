"""Symantec/Broadcom MessageLabs (Email Security.cloud)."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("messagelabs", header_matcher(from_=r"@(?:[\w-]+\.)*messagelabs\.com",
                                              headers=("X-MessageLabs-Status",), received=r"messagelabs\.com"))
