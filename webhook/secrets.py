"""The secret key that encrypts ESP credentials at rest.

``REBOUND_SECRET_KEY`` wins when set (comma-separated Fernet keys, newest first: the first
encrypts, all decrypt, so the key itself can be rotated). Without it, the embedded default
keeps a key file ``secret.key`` under the data directory, created with mode 0600 on first
use, beside the embedded Redis it protects. Several hosts sharing one Redis must share the
key, so they need the setting.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from webhook.settings import Settings

KEY_FILE = "secret.key"


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # written whole under a temporary name, then linked into place: a concurrent worker
    # sees either no file or the complete key, and exactly one key wins
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes().strip()
        return key
    finally:
        os.unlink(tmp)


def secret_keys(settings: Settings) -> list[bytes]:
    if settings.secret_key is not None:
        return [k.strip().encode() for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
    return [_key_file(settings.data_dir.resolve())]
