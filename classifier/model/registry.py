"""Where models live: skops files with metadata, an active pointer, and a live handle.

Layout of a registry directory (``REBOUND_MODEL_DIR``, by default ``models`` under
``REBOUND_DATA_DIR``, for the service and the CLI alike: :func:`default_root`)::

    models/<version>/model.skops     the estimator, saved with skops (never pickle)
    models/<version>/metadata.json   version, created, training-data fingerprint, metrics, ...
    active.json                      {"active": "<version>", "history": [older actives ...]}

Loading is the security boundary: a model file is data from disk, possibly copied from
elsewhere, so it is opened with skops and an explicit list of trusted types; a file that
names any other type, or that is not a skops file at all, is refused with
:class:`ModelFileError` before anything in it is instantiated.

:class:`ActiveModel` is what a running service holds: it re-reads ``active.json`` at most
once per ``check_every`` seconds (a ``stat``; the file is replaced atomically, so a new
inode or mtime means a new activation) and loads the newly active model, so ``rebound
models activate`` takes effect without a restart. With no active model it serves the
default model shipped in the package. A newly active model that cannot be loaded (a file
broken or put in place by hand) does not replace the one in use: the last good model goes
on serving, the failure is logged once and kept in :attr:`ActiveModel.failure`, and the
activation is tried again only when the pointer or that model's file changes.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import skops.io as sio

from classifier.model.estimator import BounceModel
from classifier.model.location import (  # noqa: F401  (re-exported)
    DEFAULT_DIR, DEFAULT_VERSION, METADATA_FILE, MODEL_FILE, POINTER_FILE, default_root,
)

log = logging.getLogger(__name__)

#: Every type a BounceModel file may reference beyond what skops trusts by default
#: (numpy, scipy and scikit-learn's public estimators). Anything else is refused.
TRUSTED_TYPES: frozenset[str] = frozenset({
    "classifier.model.estimator.BounceModel",
    "classifier.model.features.EvidenceFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
})
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class ModelFileError(Exception):
    """A model file could not be loaded safely: not a skops file, untrusted types, ..."""


class RegistryError(Exception):
    """A registry operation is impossible (unknown version, nothing to roll back to, ...)."""


def save_model(model: BounceModel, path: Path | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    os.replace(tmp, path)


def load_model(path: Path | str) -> BounceModel:
    """Load a model file with skops, trusting only :data:`TRUSTED_TYPES`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path} is not a skops model file ({type(exc).__name__}: {exc}); "
                             "models are only ever loaded with skops, never with pickle") from None
    refused = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if refused:
        raise ModelFileError(f"refusing to load {path}: it references types outside the trusted "
                             f"list: {', '.join(refused)}")
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:   # skops raises many types for corrupt content
        raise ModelFileError(f"{path} could not be loaded: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, BounceModel):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a BounceModel")
    return model


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: BounceModel
    metadata: dict


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


@functools.lru_cache(maxsize=1)
def load_default() -> LoadedModel:
    """The model shipped in the package. Loaded once per process (it takes a second or two,
    and the file never changes while the process runs); every registry without an active
    model shares it."""
    meta = json.loads((DEFAULT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    return LoadedModel(DEFAULT_VERSION, load_model(DEFAULT_DIR / MODEL_FILE), meta)


class Registry:
    """The models of one directory: save, list, activate, roll back, load."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.models = self.root / "models"
        self.pointer = self.root / POINTER_FILE

    # -- writing ----------------------------------------------------------------------
    def save(self, model: BounceModel, metadata: dict, activate: bool = False) -> str:
        """Store a model under a new version (returned); optionally make it the active one."""
        self.models.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        fp = (metadata.get("training_data_fingerprint") or "nodata")[:8]
        for n in range(1000):
            version = f"{stamp}-{fp}" + (f"-{n}" if n else "")
            try:
                (self.models / version).mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RegistryError("could not allocate a version name")
        d = self.models / version
        save_model(model, d / MODEL_FILE)
        _write_json(d / METADATA_FILE, {**metadata, "version": version})
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        """Make ``version`` the active model; ``default`` is the model shipped in the package."""
        if version != DEFAULT_VERSION:
            self._check_version(version)
        state = self._state()
        current = state.get("active") or DEFAULT_VERSION
        history = state.get("history", [])
        if current != version:
            history = history + [current]
        self._point(version, history)

    def rollback(self) -> str:
        """Re-activate the model that was active before the current one (``default`` when
        the packaged model was in use before the first activation); return its version."""
        state = self._state()
        history = list(state.get("history", []))
        while history:
            previous = history.pop()
            if previous == DEFAULT_VERSION or (self.models / previous / MODEL_FILE).is_file():
                self._point(previous, history)
                return previous
        raise RegistryError(f"nothing to roll back to in {self.root}: no earlier active model")

    def _point(self, version: str, history: list[str]) -> None:
        _write_json(self.pointer, {"active": None if version == DEFAULT_VERSION else version, "history": history,
                                   "changed": datetime.now(timezone.utc).isoformat()})

    # -- reading ----------------------------------------------------------------------
    def _state(self) -> dict:
        try:
            return json.loads(self.pointer.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{self.pointer} is unreadable: {exc}") from None

    def active_version(self) -> str | None:
        return self._state().get("active")

    def _check_version(self, version: str) -> None:
        if not _VERSION_RE.match(version or "") or not (self.models / version / MODEL_FILE).is_file():
            known = ", ".join(v["version"] for v in self.list()) or "none"
            raise RegistryError(f"no model {version!r} in {self.root} (known: {known})")

    def metadata(self, version: str) -> dict:
        self._check_version(version)
        return json.loads((self.models / version / METADATA_FILE).read_text(encoding="utf-8"))

    def list(self) -> list[dict]:
        """Metadata of every stored model, oldest first, with ``active`` set on the active one."""
        if not self.models.is_dir():
            return []
        active = self.active_version()
        out = []
        for d in sorted(self.models.iterdir()):
            meta_file = d / METADATA_FILE
            if (d / MODEL_FILE).is_file() and meta_file.is_file():
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                meta["active"] = meta.get("version") == active
                out.append(meta)
        return sorted(out, key=lambda m: (m.get("created", ""), m.get("version", "")))

    def load(self, version: str) -> LoadedModel:
        self._check_version(version)
        return LoadedModel(version, load_model(self.models / version / MODEL_FILE), self.metadata(version))

    def resolve(self, ref: str | None) -> LoadedModel:
        """A model by reference: a version, ``active`` (or None), ``default``, or a file path."""
        if ref in (None, "active"):
            version = self.active_version()
            return self.load(version) if version else load_default()
        if ref == DEFAULT_VERSION:
            return load_default()
        p = Path(ref)
        if p.suffix == ".skops" or p.is_file():
            meta_file = p.with_name(METADATA_FILE)
            meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
            return LoadedModel(str(p), load_model(p), meta)
        return self.load(ref)


@dataclass(frozen=True)
class ActivationFailure:
    """An activated model that could not be loaded: which, why, and since when (UTC)."""

    version: str
    error: str
    since: str

    def to_dict(self) -> dict:
        return {"version": self.version, "error": self.error, "since": self.since}


class ActiveModel:
    """The model a running service should use now; follows activations without a restart,
    and keeps the last good model when a newly activated one cannot be loaded."""

    def __init__(self, root: Path | str | None, check_every: float = 5.0, clock=time.monotonic):
        self.registry = Registry(root) if root is not None else None
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._seen: tuple | None = None
        self._checked_at = float("-inf")
        #: The activation that failed, while the model in use is another (or none).
        self.failure: ActivationFailure | None = None
        self._failed_error: Exception | None = None

    def _stamp(self) -> tuple | None:
        """What says that something changed on disk: the pointer file's identity, and after a
        failed activation that model file's too (repaired in place, it is tried again)."""
        if self.registry is None:
            return None
        stamp = _file_stamp(self.registry.pointer)
        if stamp is None:
            return None
        failed = self.failure.version if self.failure else None
        if failed and _VERSION_RE.match(failed):
            return stamp + (_file_stamp(self.registry.models / failed / MODEL_FILE),)
        return stamp

    def get(self) -> LoadedModel:
        now = self._clock()
        if self._loaded is not None and now - self._checked_at < self.check_every:
            return self._loaded
        with self._lock:
            if self._loaded is not None and now - self._checked_at < self.check_every:
                return self._loaded
            self._checked_at = now
            stamp = self._stamp()
            if self._seen is None or stamp != self._seen[0]:
                self._seen = (stamp,)
                self._follow(stamp)
            if self._loaded is None:
                raise self._failed_error          # nothing good loaded yet: the caller decides
            return self._loaded

    def _follow(self, stamp: tuple | None) -> None:
        """Load the model the pointer names, unless it is the one in use; on failure keep the
        one in use and record (and log, once per failure) why."""
        version = None
        try:
            version = self.registry.active_version() if stamp else None
            current = self._loaded.version if self._loaded else None
            if self._loaded is not None and (version or DEFAULT_VERSION) == current:
                self._clear_failure()
                return
            self._loaded = self.registry.load(version) if version else load_default()
            self._clear_failure()
        except Exception as exc:  # noqa: BLE001 - ModelFileError, RegistryError, a broken metadata.json, ...
            error = f"{type(exc).__name__}: {exc}"
            if self.registry is not None:        # /readyz shows it: paths relative to the registry
                error = error.replace(f"{self.registry.root}{os.sep}", "")
            failure = ActivationFailure(version or "?", error, datetime.now(timezone.utc).isoformat())
            if self.failure is None or (self.failure.version, self.failure.error) != (failure.version, failure.error):
                log.error("model %s could not be activated, %s: %s", failure.version,
                          f"still serving {self._loaded.version}" if self._loaded else "no model loaded",
                          failure.error)
                self.failure = failure
            self._failed_error = exc
            self._seen = (self._stamp(),)        # with the failed file's stamp: retried when it changes

    def _clear_failure(self) -> None:
        if self.failure is not None:
            log.info("model %s active; the failed activation of %s is over", self._loaded.version,
                     self.failure.version)
        self.failure = self._failed_error = None

    @property
    def version(self) -> str:
        return self.get().version


def _file_stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
