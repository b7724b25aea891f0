"""Mimecast gateways: NDRs from *.mimecast.com."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("mimecast", header_matcher(from_=r"@(?:[\w-]+\.)*mimecast(?:-offshore)?\.com",
                                           headers=("X-MC-Unique", "X-Mimecast-Spam-Score"),
                                           received=r"mimecast\.com"))
