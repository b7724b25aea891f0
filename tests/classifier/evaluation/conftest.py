"""Small labelled sets written for these tests: DSNs composed here, labels naming them."""
from __future__ import annotations

import json

DSN = """From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <{n}@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {text}

--BOUNDARY--
"""


def write_sets(root, messages: dict[str, list[tuple[str, str, str, str, str]]]) -> tuple:
    """``messages``: {family: [(recipient, status, diagnostic, reason, hard), ...]} written as
    one corpus ``tiny`` under ``root/shared/corpora`` with its labels under ``root/labels``.
    Returns (shared, labels_dir)."""
    shared, labels = root / "shared", root / "labels"
    msgs = shared / "corpora" / "tiny" / "messages"
    msgs.mkdir(parents=True)
    (labels / "corpora").mkdir(parents=True)
    (labels / "responses").mkdir()
    rows, n = [], 0
    for family, items in messages.items():
        for rcpt, status, text, reason, hard in items:
            n += 1
            name = f"m{n:02d}.eml"
            (msgs / name).write_text(DSN.format(n=n, rcpt=rcpt, status=status, text=text))
            rows.append({"file": f"tiny/messages/{name}", "source": "tiny", "family": family, "bounce": True,
                         "expected": [{"recipient": rcpt, "reason": reason, "hardbounce": hard}],
                         "license": "test"})
    (labels / "corpora" / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return shared, labels
