"""Trend Micro InterScan Messaging Security (IMSS) NDRs."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("trendmicro", header_matcher(headers=("X-TM-AS-Product-Ver", "X-TMASE-Version"),
                                             received=r"InterScan|TrendMicro|\(IMSS\)",
                                             body=r"^Sent <<< RCPT TO:|TrendMicro|InterScan"))
