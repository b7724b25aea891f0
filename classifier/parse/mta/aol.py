"""AOL's older NDRs: "Mail Delivery Subsystem <MAILER-DAEMON@aol.com>"."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("aol", header_matcher(from_=r"MAILER-DAEMON@aol\.com", headers=("X-AOL-IP",)))
