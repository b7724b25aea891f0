"""Amazon WorkMail: DSN fields written into the text part instead of a DSN part."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("amazonworkmail", header_matcher(headers=("X-Mailer",), body=r"^Technical report:\s*$", all_of=True))
