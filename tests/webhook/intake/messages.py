"""Bounce messages written for these tests, in the shape real MTAs write them (RFC 3464
multipart/report as Postfix sends it; an ARF complaint as RFC 5965 shows it); no message here
is copied from a corpus."""
from __future__ import annotations

import itertools

_serial = itertools.count(1)


def dsn(recipient: str | None, to: str, *, status: str = "5.1.1",
        diagnostic: str = "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table",
        action: str = "failed", pad: int = 0, message_id: str | None = None) -> bytes:
    """A Postfix-style DSN for ``recipient`` (None: a report that names nobody), sent to the
    return path ``to``. Each call makes a distinct message unless ``message_id`` is given."""
    n = message_id or f"{next(_serial)}"
    r = recipient or "someone@example.net"
    fields = (f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
              if recipient else "")
    text = (f"<{r}>: host mx.example.net[192.0.2.25] said: " + diagnostic.format(r=r) + " (in reply to RCPT TO command)"
            if recipient else "The message could not be delivered.")
    body = (
        f"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
        f"From: Mail Delivery System <MAILER-DAEMON@mta.sender.example>\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {to}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"\r\n'
        f"Message-Id: <dsn-{n}@mta.sender.example>\r\n\r\n"
        f"This is a MIME-encapsulated message.\r\n\r\n"
        f"--B{n}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at host mta.sender.example.\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n"
        f"{text}\r\n\r\n"
        f"--B{n}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mta.sender.example\r\nArrival-Date: Tue, 1 Dec 2026 09:59:58 +0000\r\n\r\n"
        f"{fields}Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mx.example.net\r\n"
        f"Diagnostic-Code: smtp; {diagnostic.format(r=r)}\r\n\r\n"
        f"--B{n}\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{to}>\r\nFrom: news@sender.example\r\nTo: {r}\r\nSubject: Our news\r\n"
        f"Message-ID: <orig-{n}@sender.example>\r\n"
        + "".join(f"X-Padding: {'x' * 68}\r\n" for _ in range(pad // 80 + 1 if pad else 0))
        + f"\r\n--B{n}--\r\n")
    return body.encode()


def not_a_report(to: str) -> bytes:
    return (f"From: Ann <ann@example.org>\r\nTo: {to}\r\nSubject: question about my order\r\n"
            f"Message-ID: <human-{next(_serial)}@example.org>\r\n\r\nHello, where is my parcel?\r\n").encode()
