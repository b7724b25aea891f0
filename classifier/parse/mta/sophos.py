"""Sophos Email Appliance / Central."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("sophos", header_matcher(headers=("X-Sophos-Product-Type", "X-LASED-Version", "X-Sophos-SenderHistory"),
                                         from_=r"@(?:[\w-]+\.)*sophos\.com"))
