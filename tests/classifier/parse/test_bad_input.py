"""Hostile or broken input: a clear error or a "not a bounce" answer, fast, never a crash.

The time limits are generous guards (the real figures are in bench/), not benchmarks.
"""
from __future__ import annotations

import base64
import os
import time
import tracemalloc

import pytest

from classifier.parse import HeaderTooLarge, MessageError, NotAnEmail, parse_message


def nested(depth: int) -> bytes:
    head = b"From: a@sender.example\nTo: b@example.com\nSubject: nest\nMIME-Version: 1.0\n"
    body = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\n\n--n%d\n' % (i, i) for i in range(depth))
    body += b"Content-Type: text/plain\n\nbottom\n" + b"".join(b"--n%d--\n" % i for i in reversed(range(depth)))
    return head + body


def timed(raw: bytes):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        return parse_message(raw), time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("raw,error,message", [
    (b"", NotAnEmail, "empty"),
    (b"   \r\n\r\n", NotAnEmail, "empty"),
    (os.urandom(200_000), NotAnEmail, "mail header"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", NotAnEmail, "mail header"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", NotAnEmail, "mail header"),
    (b"From: a@b.example\nX-Junk: " + b"x" * 1_000_000 + b"\n\nbody\n", HeaderTooLarge, "exceeds"),
    (b"From: a@b.example\nX-Bin: \x00\x01\x02\x03\x04\x05\x06\x07\n\nbody", NotAnEmail, "binary"),
])
def test_not_mail_is_a_clear_error(raw, error, message):
    start = time.perf_counter()
    with pytest.raises(error, match=message) as info:
        parse_message(raw)
    assert isinstance(info.value, (MessageError, ValueError))
    assert time.perf_counter() - start < 2


def test_empty_body_is_not_a_bounce():
    report, seconds, _ = timed(b"From: someone@example.com\nSubject: hello\n\n")
    assert report.recipients == () and seconds < 2


def test_fifty_megabytes_are_cut_not_read():
    raw = (b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n"
           b"Content-Type: text/plain\n\n<a@example.com>: host mx said: 550 5.1.1 user unknown\n" + b"A" * 50_000_000)
    report, seconds, peak = timed(raw)
    assert seconds < 2
    assert report.message.truncated
    assert peak < 64 * 1024 * 1024          # bounded: far less than the input itself
    assert [r.recipient for r in report.recipients] == ["a@example.com"]


def test_a_thousand_nested_parts():
    report, seconds, _ = timed(nested(1000))
    assert seconds < 2 and report.message.truncated and not report.is_bounce


def test_a_thousand_sibling_parts():
    raw = (b"From: a@b.example\nContent-Type: multipart/mixed; boundary=z\n\n"
           + b"--z\nContent-Type: text/plain\n\n<x@example.com>: 550 5.1.1 unknown\n" * 1000 + b"--z--\n")
    report, seconds, _ = timed(raw)
    assert seconds < 2 and report.message.truncated


def test_broken_encodings_do_not_crash():
    raw = (b"From: =?utf-8?B?!!notbase64?= <MAILER-DAEMON@mx.example>\n"
           b"Subject: =?x-unknown-charset?Q?Undelivered=20Mail?=\n"
           b"Content-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: base64\n\n"
           b"@@@ not base64 at all \xff\xfe\n")
    report, seconds, _ = timed(raw)
    assert seconds < 2 and report.recipients == ()


def test_thousands_of_blank_lines_before_the_returned_message_are_read_in_one_pass():
    """The search for where the original message starts ran from every blank line to the end
    of the run of blank lines: minutes for a few thousand of them. The budget is 2 seconds."""
    from classifier.parse import ndr

    text = ("<x@example.net>: host mx.example.net said: 550 5.1.1 user unknown\n"
            + " \n" * 8000 + "----- Original message -----\nFrom: a@example.com\nTo: x@example.net\n")
    start = time.perf_counter()
    report, original = ndr.split_original(text)
    assert time.perf_counter() - start < 2
    assert original.startswith("----- Original message -----") and "550 5.1.1" in report
    raw = (b"From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: Undelivered Mail Returned to Sender\n\n"
           + text.encode())
    parsed, seconds, _ = timed(raw)
    assert seconds < 2 and [r.recipient for r in parsed.recipients] == ["x@example.net"]


@pytest.mark.parametrize("junk", [
    "<script>" * 16_000,                              # opened, never closed
    "<style type='text/css'>p{}" * 5_000,
    "<" * 120_000,                                    # brackets that never close
    "<div>" * 25_000 + "deep" + "</div>" * 25_000,    # deep nesting
    '<p title="' + "x" * 120_000 + '">',              # a huge attribute
])
def test_pathological_html_is_read_in_one_pass(junk):
    """HTML parts are turned into text with expressions that look at each character a bounded
    number of times; unclosed script tags used to cost seconds each (quadratic)."""
    from classifier.parse.text import html_to_text

    markup = "<p>Delivery to <b>x@example.net</b> failed:</p><p>550 5.1.1 user unknown</p>" + junk
    start = time.perf_counter()
    text = html_to_text(markup)
    assert time.perf_counter() - start < 2
    assert text.startswith("\nDelivery to x@example.net failed:\n\n550 5.1.1 user unknown\n")
    raw = (b"From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: Undelivered Mail Returned to Sender\n"
           b"Content-Type: text/html; charset=utf-8\n\n" + markup.encode())
    report, seconds, _ = timed(raw)
    assert seconds < 2
    assert [(r.recipient, r.evidence.status) for r in report.recipients] == [("x@example.net", "5.1.1")]


def test_html_script_style_and_head_are_dropped_and_tags_become_lines():
    from classifier.parse.text import html_to_text

    markup = ("<HTML><head><title>t</title></head><body><SCRIPT>var a = '<p>';</script >"
              "<style>p {}</style><div>one</div><div>two &amp; three</div><script>unclosed")
    assert html_to_text(markup).split() == ["one", "two", "&", "three", "unclosed"]
    assert "\n\n\n" not in html_to_text("<p>a</p>" + "<br>\n \n" * 50 + "b")


NDR_TEXT = (b"\x1b$B$3$s$K$A$O\x1b(B mislabelled ISO-2022-JP \xff\xfe\x80\n"
            b"<x@example.net>: host mx.example.net said: 550 5.1.1 user unknown +AGE- +ZZZ-\n")
ENCODED = {
    b"8bit": NDR_TEXT,
    b"base64": base64.encodebytes(NDR_TEXT)[:-3] + b"@@@\n=",       # cut short and junk at the end
    b"quoted-printable": b"=ZZ=\xff=C3=28 " + NDR_TEXT.replace(b"\xff", b"=FF") + b"=\n=",
}


def ndr_with_charset(charset: bytes, encoding: bytes, multipart: bool) -> bytes:
    part = (b"Content-Type: text/plain; charset=" + charset + b"\nContent-Transfer-Encoding: " + encoding
            + b"\n\n" + ENCODED[encoding])
    head = b"From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: Undelivered Mail Returned to Sender\n"
    if multipart:
        return head + b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n" + part + b"\n--zz--\n"
    return head + part


@pytest.mark.parametrize("charset", [b"x-unknown", b"utf-7", b"iso-2022-jp", b"idna", b"punycode", b"undefined",
                                     b"unicode_escape", b"rot13", b"base64", b"utf-8\x00", b'""', b"x" * 300])
@pytest.mark.parametrize("encoding", list(ENCODED))
def test_unknown_and_broken_charsets_never_crash_the_parser(charset, encoding):
    """A charset Python does not know, or knows as something that is not a character set
    (idna, punycode, undefined: they raised UnicodeError, a NUL in the name ValueError), and
    bytes that do not fit it, in base64 or quoted-printable that is itself broken: the text
    is still read, what does not decode is replaced."""
    report = parse_message(ndr_with_charset(charset, encoding, multipart=True))
    assert [(r.recipient, r.evidence.status) for r in report.recipients] == [("x@example.net", "5.1.1")]
    if b"\x00" in charset:             # in the message's own header block: binary, not mail
        with pytest.raises(NotAnEmail, match="binary"):
            parse_message(ndr_with_charset(charset, encoding, multipart=False))
    else:
        report = parse_message(ndr_with_charset(charset, encoding, multipart=False))
        assert [(r.recipient, r.evidence.status) for r in report.recipients] == [("x@example.net", "5.1.1")]


def test_text_that_is_not_in_its_declared_charset_is_no_crash():
    for multipart in (False, True):
        report = parse_message(ndr_with_charset(b"utf-16", b"base64", multipart))   # ASCII read as UTF-16
        assert not report.is_bounce


@pytest.mark.parametrize("word", [b"=?x-unknown?Q?abc?=", b"=?utf-7?B?KwBh?=", b"=?utf-8?B?!!!?=", b"=?utf-8?Q?=ZZ=?=",
                                  b"=?iso-2022-jp?B?GyRCJCIbKEI?=", b"=?idna?Q?abc?=", b"=?undefined?Q?abc?=",
                                  b"=?rot13?Q?abc?=", b"=?utf-16?B?/w==?=", b"=?utf-8*en?Q?x?=", b"=?"])
def test_broken_encoded_words_in_headers_never_crash_the_parser(word):
    raw = (b"From: " + word + b" <MAILER-DAEMON@mx.example>\nTo: " + word + b" <a@example.com>\nSubject: "
           + word + b" Undelivered Mail\nContent-Type: multipart/report; boundary=zz\n\n"
           b"--zz\nContent-Type: text/plain\n\n<x@example.net>: 550 5.1.1 user unknown\n"
           b"--zz\nContent-Type: message/rfc822\n\nFrom: " + word + b" <a@example.com>\nSubject: " + word
           + b"\nMessage-ID: <m1@example.com>\n\nhello\n--zz--\n")
    report = parse_message(raw)
    assert [r.recipient for r in report.recipients] == ["x@example.net"]
    assert report.message.original_message_id == "m1@example.com"


def stage_clock(*readings: float):
    """A clock that reads ``readings`` one call after the other: a stage "took" the time
    between two readings, whatever the machine's speed."""
    it = iter(readings)
    return lambda: next(it)


@pytest.mark.parametrize("readings,stage", [
    ((0.0, 2.5), "parse"),                    # something before the first part took 2.5 s
    ((0.0, 0.1, 2.5), "extraction"),          # reading the (one) part took 2.4 s
    ((0.0, 0.1, 0.2, 2.5), "classification"),  # extraction took 2.3 s
])
def test_a_slow_stage_stops_the_message_with_an_over_budget_error(readings, stage):
    from classifier.parse import Budget, OverBudget

    raw = (b"From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: Undelivered Mail Returned to Sender\n\n"
           b"<x@example.net>: host mx.example.net said: 550 5.1.1 user unknown\n")
    with pytest.raises(OverBudget, match="over budget: the message took more than 2 s") as info:
        parse_message(raw, Budget(2.0, clock=stage_clock(*readings)))
    assert info.value.stage == stage and isinstance(info.value, MessageError)
    assert [r.recipient for r in parse_message(raw, Budget(2.0, clock=stage_clock(0.0, 0.5, 1.0, 1.9))).recipients] == \
        ["x@example.net"]
