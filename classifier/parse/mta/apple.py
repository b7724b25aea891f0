"""iCloud / me.com: Apple's mail gateways."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("apple", header_matcher(from_=r"@(?:[\w-]+\.)*(?:icloud\.com|me\.com|mac\.com)\b.*(?:daemon|postmaster)|"
                                              r"(?:daemon|postmaster)[^@]*@(?:[\w-]+\.)*(?:icloud|apple|me|mac)\.com"))
