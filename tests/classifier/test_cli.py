"""``rebound classify`` as users and scripts call it (design.md section 2)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from webhook.cli import main

FIELDS = {"file", "recipient", "status", "reply_code", "reason", "category", "hard", "confidence",
          "source", "diagnostic"}

from tests.conftest import FIXTURES


def rebound_executable() -> str:
    candidate = Path(sys.executable).with_name("rebound")
    return str(candidate) if candidate.exists() else shutil.which("rebound")


def run(*args, input=None):
    result = CliRunner().invoke(main, ["classify", *args], input=input, catch_exceptions=False)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, lines


def test_jsonl_one_object_per_recipient_and_a_null_line_for_non_bounces():
    files = [str(FIXTURES / "postfix-userunknown.eml"), str(FIXTURES / "not-a-bounce.eml")]
    result, lines = run("--jsonl", *files)
    assert result.exit_code == 0
    assert len(lines) == 2
    bounce, nothing = lines
    assert FIELDS <= set(bounce)
    assert bounce["file"] == files[0]
    assert (bounce["recipient"], bounce["status"], bounce["reply_code"]) == ("ada@example.net", "5.1.1", "550")
    assert (bounce["reason"], bounce["category"], bounce["hard"], bounce["source"]) == \
        ("userunknown", "nonexistent_account", True, "rule")
    assert "User unknown" in bounce["diagnostic"]
    assert nothing["file"] == files[1] and nothing["recipient"] is None and nothing["reason"] is None


def test_stdin_and_garbage_input():
    raw = (FIXTURES / "qmail-hostunknown.eml").read_bytes()
    result, lines = run("--jsonl", "-", input=raw)
    assert result.exit_code == 0 and lines[0]["file"] == "-" and lines[0]["reason"] == "hostunknown"
    result, lines = run("--jsonl", "-", input=b"\x00\x01\x02 binary junk")
    assert result.exit_code == 0
    assert lines[0]["recipient"] is None and "mail header" in lines[0]["error"]


def test_unreadable_file_is_reported_and_exits_non_zero(tmp_path):
    good = str(FIXTURES / "arf-abuse.eml")
    result, lines = run("--jsonl", good, str(tmp_path / "missing.eml"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "missing.eml" in result.stderr
    assert lines[0]["reason"] == "feedback"     # the readable file was still classified


def test_usage_errors():
    result = CliRunner().invoke(main, ["classify"])
    assert result.exit_code == 2 and "FILE" in result.output
    result = CliRunner().invoke(main, ["classify", "--text", "x", str(FIXTURES / "arf-abuse.eml")])
    assert result.exit_code == 2


def test_text_mode_still_classifies_one_diagnostic():
    result, (line,) = run("--text", "552 5.2.2 Mailbox full", "--status", "5.2.2", "--reply-code", "552")
    assert result.exit_code == 0
    assert line["reason"] == "mailboxfull" and line["explanation"]


def test_installed_entry_point_runs(tmp_path):
    exe = rebound_executable()
    proc = subprocess.run([exe, "classify", "--jsonl", str(FIXTURES / "gmail-ratelimited.eml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reason"] == "speeding"
    assert "unreachable" not in proc.stderr      # flanker's grammar noise is kept quiet


def test_a_file_that_fails_does_not_stop_the_others(tmp_path):
    """One line per file, in order, whatever each file holds; a file that is not an email
    gets its line with "recipient" null and an "error", and its reason on stderr."""
    broken = tmp_path / "broken-charset.eml"       # a charset name Python knows as a non-charset codec
    broken.write_bytes(b"From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: Undelivered Mail\n"
                       b"Content-Type: text/plain; charset=idna\nContent-Transfer-Encoding: quoted-printable\n\n"
                       b"<x@example.net>: host mx.example.net said: 550 5.1.1 user unknown =FF=FE\n")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 binary junk")
    files = [str(FIXTURES / "postfix-userunknown.eml"), str(broken), str(junk), str(FIXTURES / "arf-abuse.eml")]
    result, lines = run("--jsonl", *files)
    assert result.exit_code == 0
    assert [line["file"] for line in lines] == files
    assert [line["reason"] for line in lines] == ["userunknown", "userunknown", None, "feedback"]
    assert lines[1]["recipient"] == "x@example.net"
    assert lines[2]["recipient"] is None and "mail header" in lines[2]["error"]
    assert f"{junk}: not classified: " in result.stderr and "broken-charset" not in result.stderr
