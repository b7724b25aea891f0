"""Where the model registry is, and the defaults of training, without importing the model
machinery (skops, scikit-learn): every ``rebound`` command needs them for its option
defaults and help, few need a model."""
from __future__ import annotations

import os
from pathlib import Path

#: The model shipped in the package, and its name in the registry.
DEFAULT_DIR = Path(__file__).resolve().parent / "default"
DEFAULT_VERSION = "default"
MODEL_FILE, METADATA_FILE, POINTER_FILE = "model.skops", "metadata.json", "active.json"

DEFAULT_SEED = 0
DEFAULT_HOLDOUT = 0.2
#: How much one analyst-verified record weighs against one generated record.
EXTRA_WEIGHT = 5.0


#: How the data directory's default is shown (`rebound config`, the README).
DATA_DIR_SHOWN = "$XDG_DATA_HOME/rebound"


def xdg_data_dir(environ=None) -> Path:
    """``$XDG_DATA_HOME/rebound`` (``~/.local/share/rebound`` when unset): an absolute place,
    so that a command finds the service's store and models from whatever directory it is
    run (a relative ``var`` gave each directory a store of its own)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base).absolute() / "rebound"


def default_data_dir(environ=None) -> Path:
    """``REBOUND_DATA_DIR``, else :func:`xdg_data_dir`."""
    environ = os.environ if environ is None else environ
    return Path(environ["REBOUND_DATA_DIR"]) if environ.get("REBOUND_DATA_DIR") else xdg_data_dir(environ)


def default_root(environ=None) -> Path:
    """The registry the service uses, as its settings say: ``REBOUND_MODEL_DIR``, else
    ``models`` under the data directory (:func:`default_data_dir`). The CLI reads the same
    variables, so ``rebound models activate`` changes the model of the running service."""
    environ = os.environ if environ is None else environ
    if environ.get("REBOUND_MODEL_DIR"):
        return Path(environ["REBOUND_MODEL_DIR"])
    return default_data_dir(environ) / "models"
