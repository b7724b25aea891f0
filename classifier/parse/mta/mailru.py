"""Mail.ru: Exim-based NDRs from mailer-daemon@*.mail.ru."""
from classifier.parse.mta import exim, header_matcher, simple

MODULE = simple("mailru", header_matcher(from_=r"mailer-daemon@(?:[\w-]+\.)*(?:mail\.ru|bk\.ru|inbox\.ru|list\.ru)"),
                exim.DIALECT)
