"""Facebook's mail (long gone, still in archives): "Sorry, your message could not be delivered"."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("facebook", header_matcher(from_=r"mailer-daemon@(?:[\w-]+\.)*facebook\.com"))
