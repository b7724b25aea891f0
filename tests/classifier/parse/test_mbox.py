"""A bounce mailbox saved as one mbox file: ``rebound classify`` reads every message in it."""
from __future__ import annotations

import json

from click.testing import CliRunner

from classifier.parse import mbox
from tests.conftest import FIXTURES
from webhook.cli import main


def test_split_reads_each_message_and_leaves_other_files_whole():
    a = (FIXTURES / "postfix-userunknown.eml").read_bytes()
    b = (FIXTURES / "sendmail-mailboxfull.eml").read_bytes()
    box = (b"From MAILER-DAEMON  Thu Nov 26 10:00:00 2026\n" + a.rstrip(b"\n") + b"\n\n"
           b"From MAILER-DAEMON@mx.example.net Thu Nov 26 10:05:01 +0000 2026\n" + b)
    parts = mbox.split(box)
    assert [p.strip() for p in parts] == [a.strip(), b.strip()]
    assert mbox.split(a) == [a]
    # a body line that starts with "From " but has no date is no separator
    one = b"From MAILER-DAEMON  Thu Nov 26 10:00:00 2026\nSubject: x\n\nFrom here on it failed.\n"
    assert len(mbox.split(one)) == 1


def test_classify_reads_every_message_of_an_mbox(tmp_path):
    a = (FIXTURES / "postfix-userunknown.eml").read_bytes()
    b = (FIXTURES / "sendmail-mailboxfull.eml").read_bytes()
    path = tmp_path / "bounces.mbox"
    path.write_bytes(b"From MAILER-DAEMON  Thu Nov 26 10:00:00 2026\n" + a +
                     b"From MAILER-DAEMON  Thu Nov 26 10:05:00 2026\n" + b)
    result = CliRunner().invoke(main, ["classify", "--jsonl", "--mode", "rules", str(path)])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert [(r["file"], r["reason"]) for r in rows] == [(str(path), "userunknown"), (str(path), "mailboxfull")]
