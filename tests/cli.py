"""Running the `rebound` command as a user does: a real process, with a clean environment."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import requests

REBOUND = [sys.executable, "-m", "webhook.cli"] if not shutil.which("rebound") else [shutil.which("rebound")]


def run(args, env=None, cwd=None, **kw):
    """`rebound ARGS...` with no REBOUND_* variable but those in ``env``; the finished process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    full_env.update(env or {})
    return subprocess.run(REBOUND + args, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=60, **kw)


def wait_ready(base: str, proc: subprocess.Popen | None = None, seconds: float = 120):
    """The answer of /readyz of a `rebound serve` that is starting (None if it never came
    within ``seconds``, or ``proc`` exited). gunicorn's master accepts connections before a
    worker has booted (imported the app, loaded the model); a request meanwhile waits in the
    backlog, on a busy machine longer than one request's timeout: such a request is asked
    again, never taken for the answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return None
        try:
            return requests.get(base + "/readyz", timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)
    return None
