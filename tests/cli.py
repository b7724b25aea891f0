"""Running the `rebound` command as a user does: a real process, with a clean environment."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import requests

REBOUND = [sys.executable, "-m", "webhook.cli"] if not shutil.which("rebound") else [shutil.which("rebound")]


def run(args, env=None, cwd=None, **kw):
    """`rebound ARGS...` with no REBOUND_* variable but those in ``env``; the finished process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    full_env.update(env or {})
    return subprocess.run(REBOUND + args, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=60, **kw)


def wait_ready(base: str) -> bool:
    """The worker booted; /readyz then answers at once or the test fails."""
    for _ in range(50):
        try:
            return requests.get(base + "/readyz", timeout=5).status_code == 200
        except requests.ConnectionError:
            continue
    return False
