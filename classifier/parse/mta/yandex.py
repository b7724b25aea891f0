"""Yandex: Postfix-based NDRs in Russian and English from mailer-daemon@yandex.ru."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("yandex", header_matcher(from_=r"mailer-daemon@(?:[\w-]+\.)*yandex\.(?:ru|net|com|ua|by|kz)",
                                         headers=("X-Yandex-Front", "X-Yandex-TimeMark")))
