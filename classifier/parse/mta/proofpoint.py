"""Proofpoint (on premises and Essentials): NDRs carrying X-Proofpoint headers or pphosted hosts."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("proofpoint", header_matcher(headers=("X-Proofpoint-Virus-Version", "X-Proofpoint-Spam-Details"),
                                             from_=r"@(?:[\w-]+\.)*pphosted\.com", received=r"pphosted\.com"))
