"""Structured JSON logs on stdout, one object per line.

Logs never carry message bodies or addresses, at any level: requests are logged by route
(``/v1/recipients/<address>``), never by raw path, and events by tenant and provider.
"""
from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("werkzeug",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
