"""Bigfoot's forwarding service: sendmail-shaped NDRs from bigfoot.com."""
from classifier.parse.mta import header_matcher, sendmail, simple

MODULE = simple("bigfoot", header_matcher(from_=r"@(?:[\w-]+\.)*bigfoot\.com", received=r"bigfoot\.com"),
                sendmail.DIALECT)
