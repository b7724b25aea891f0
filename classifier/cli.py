"""Command-line entry points that need nothing but the classifier (no Redis, no HTTP)."""
from __future__ import annotations

import sys

import click
import orjson

from classifier.engine import Classifier
from classifier.events import Evidence


@click.command("classify")
@click.option("--text", help="classify one diagnostic text instead of files")
@click.option("--status", help="enhanced status code that came with --text, e.g. 5.1.1")
@click.option("--reply-code", help="SMTP reply code that came with --text, e.g. 550")
def classify(text: str | None, status: str | None, reply_code: str | None) -> None:
    """Classify evidence and print the verdict as JSON."""
    if text is None and status is None and reply_code is None:
        raise click.UsageError("give --text (with --status/--reply-code)")
    verdict = Classifier().classify(Evidence(diagnostic=text or "", status=status, reply_code=reply_code))
    out = {"status": status, "reply_code": reply_code, "diagnostic": text, **verdict.to_dict()}
    sys.stdout.buffer.write(orjson.dumps(out) + b"\n")


COMMANDS = [classify]
