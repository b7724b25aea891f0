"""Where the model registry is, without importing the model machinery (skops, scikit-learn):
every ``rebound`` command needs the path for its option defaults, few need a model."""
from __future__ import annotations

import os
from pathlib import Path


def default_root(environ=None) -> Path:
    """The registry the service uses, as its settings say: ``REBOUND_MODEL_DIR``, else
    ``models`` under ``REBOUND_DATA_DIR`` (default ``var``). The CLI reads the same
    variables, so ``rebound models activate`` changes the model of the running service."""
    environ = os.environ if environ is None else environ
    if environ.get("REBOUND_MODEL_DIR"):
        return Path(environ["REBOUND_MODEL_DIR"])
    return Path(environ.get("REBOUND_DATA_DIR") or "var") / "models"
