"""Rebound's classifier: evidence in, verdict out. Knows nothing of HTTP or Redis.

The names below are imported on first use (PEP 562), not with the package: importing
``classifier.address`` or ``classifier.taxonomy`` must not load the parser, the rules and
numpy, or every ``rebound`` command would pay for them before doing anything.
"""
from __future__ import annotations

import importlib

_EXPORTS = {"Classifier": "classifier.engine", "Event": "classifier.events", "Evidence": "classifier.events",
            "Kind": "classifier.events", "Verdict": "classifier.verdict"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
