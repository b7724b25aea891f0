"""Command-line entry points that need nothing but the classifier (no Redis, no HTTP).

``rebound classify`` reads its classifier from the environment like the service does:
``REBOUND_CLASSIFIER`` (``combined``, ``rules`` or ``model``; ``--mode`` overrides it) and
``REBOUND_MODEL_DIR`` (the model registry whose active model is used; ``models`` under
``REBOUND_DATA_DIR`` by default, as for the service; the packaged default model when the
registry has no active model).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from classifier.combine import MODES
from classifier.model.location import default_root

if TYPE_CHECKING:
    from classifier.engine import Classifier
    from classifier.parse import Report

#: An mbox file (many messages, see classifier.parse.mbox) is read up to this size.
MAX_MBOX_BYTES = 64 * 1024 * 1024


def _read(path: str) -> bytes:
    if path == "-":
        return _read_from(sys.stdin.buffer)
    with open(path, "rb") as fh:
        return _read_from(fh)


def _read_from(fh) -> bytes:
    """A bounded prefix of the input: the parser looks at no more (one byte more tells it the
    message was cut), so a huge file costs no more memory than that; an mbox file whole."""
    from classifier.parse import limits, mbox

    most = limits.MAX_PARSE_BYTES + 1
    raw = fh.read(most)
    if len(raw) == most and mbox.is_mbox(raw):
        raw += fh.read(MAX_MBOX_BYTES - len(raw))
    return raw


#: Files parsed before their recipients are classified together: the model runs once per
#: chunk, and memory stays bounded however many files are given.
CHUNK_FILES = 2000


def _parse(raw: bytes) -> Report | str:
    from classifier.parse import MessageError, parse_message

    try:
        return parse_message(raw)
    except MessageError as exc:
        return str(exc)


def classify_reports(parsed: list[tuple[str, Report | str]], classifier: Classifier) -> list[list[dict]]:
    """Output rows per parsed file (a parse error is given as its message), classifying the
    recipients of all files in one batch, within a budget of one message's time per file."""
    from classifier.parse import Budget, OverBudget, limits

    evidences = [r.evidence for _, report in parsed if not isinstance(report, str) for r in report.recipients]
    try:
        verdicts = iter(classifier.classify_many(evidences, Budget(limits.TIME_BUDGET * max(1, len(parsed)))))
    except OverBudget as exc:
        return [[_empty(name, error=report if isinstance(report, str) else str(exc))] for name, report in parsed]
    out = []
    for name, report in parsed:
        if isinstance(report, str):
            out.append([_empty(name, error=report)])
            continue
        out.append(_rows(name, report, verdicts) or [_empty(name)])
    return out


def _rows(name: str, report: Report, verdicts) -> list[dict]:
    rows = []
    for r in report.recipients:
        e = r.evidence
        verdict = next(verdicts)
        row = {"file": name, "recipient": r.recipient, "status": e.status, "reply_code": e.reply_code}
        if verdict is not None:
            row.update(reason=verdict.reason, category=verdict.category, hard=verdict.hard,
                       confidence=verdict.confidence, source=verdict.source)
        else:
            row.update(reason=None, category=None, hard=False, confidence=None, source=None)
        row.update(diagnostic=e.diagnostic or None, action=r.action, smtp_phase=e.smtp_phase,
                   remote_mta=e.remote_mta, provider=e.provider,
                   explanation=list(verdict.explanation) if verdict else [],
                   original_message_id=report.message.original_message_id)
        if verdict is not None and verdict.review:
            row["review_reason"] = verdict.review
        if r.feedback_type:
            row["feedback_type"] = r.feedback_type
        rows.append(row)
    return rows


def _empty(name: str, error: str | None = None) -> dict:
    row = {"file": name, "recipient": None, "status": None, "reply_code": None, "reason": None,
           "category": None, "hard": False, "confidence": None, "source": None, "diagnostic": None}
    if error:
        row["error"] = error
    return row


@click.command("classify")
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--jsonl", "jsonl", is_flag=True, help="one JSON object per line (the default is indented JSON)")
@click.option("--text", help="classify one diagnostic text instead of files")
@click.option("--status", help="enhanced status code that came with --text, e.g. 5.1.1")
@click.option("--reply-code", help="SMTP reply code that came with --text, e.g. 550")
@click.option("--mode", type=click.Choice(MODES), envvar="REBOUND_CLASSIFIER", default="combined",
              show_default=True, show_envvar=True,
              help="rules and model combined, rules only, or model only")
@click.option("--registry", envvar="REBOUND_MODEL_DIR", default=lambda: str(default_root()),
              show_default="models under REBOUND_DATA_DIR (default $XDG_DATA_HOME/rebound)", show_envvar=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="model registry whose active model is used (the packaged default if none)")
def classify(files: tuple[str, ...], jsonl: bool, text: str | None, status: str | None,
             reply_code: str | None, mode: str, registry: Path) -> None:
    """Classify raw bounce messages (FILE..., '-' for stdin) or one diagnostic (--text).

    Prints one JSON object per recipient found: file, recipient, status, reply_code, reason,
    category, hard, confidence, source, diagnostic. A file in which nothing was found gets one
    object with recipient and reason null; that is not an error. A file in mbox format is
    read as the messages it holds. A file that cannot be read as an email gets that line with
    an "error" field (and the reason on stderr), and the next file is read.

    Exit status: 0 when every file could be opened (whether or not it held a bounce, or an
    email at all); 2 when a file could not be opened (named on stderr) or on usage errors.
    """
    from classifier.engine import build
    from classifier.events import Evidence
    from classifier.parse import mbox

    classifier = build(mode, registry)
    out = sys.stdout.buffer
    if text is not None or status is not None or reply_code is not None:
        if files:
            raise click.UsageError("give either FILE... or --text/--status/--reply-code, not both")
        verdict = classifier.classify(Evidence(diagnostic=text or "", status=status, reply_code=reply_code))
        row = {"status": status, "reply_code": reply_code, "diagnostic": text, **verdict.to_dict()}
        out.write(orjson.dumps(row) + b"\n")
        return
    if not files:
        raise click.UsageError("give one or more FILEs ('-' for stdin), or --text")
    option = 0 if jsonl else orjson.OPT_INDENT_2
    failed = []
    for start in range(0, len(files), CHUNK_FILES):
        parsed = []
        for path in files[start:start + CHUNK_FILES]:
            try:
                raw = _read(path)
            except OSError as exc:
                failed.append(path)
                click.echo(f"rebound classify: cannot read {path}: {exc.strerror or exc}", err=True)
                continue
            parsed.extend((path, _parse(message)) for message in mbox.split(raw))
        for rows in classify_reports(parsed, classifier):
            for row in rows:
                if "error" in row:
                    click.echo(f"rebound classify: {row['file']}: not classified: {row['error']}", err=True)
                out.write(orjson.dumps(row, option=option) + b"\n")
    out.flush()
    if failed:
        raise SystemExit(2)


COMMANDS = [classify]
