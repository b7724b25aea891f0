"""The embedded default: a private redis-server under the data directory.

With no REBOUND_REDIS_URL, Rebound runs its own Redis on a Unix socket (no port to clash
with, no network exposure), with AOF on so acknowledged events survive a restart. A second
command finding it already running reuses it and leaves it alone.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

MISSING = ("redis-server was not found on PATH. Rebound needs Redis: install it "
           "(Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`) "
           "or point REBOUND_REDIS_URL at a running server.")


class EmbeddedRedisError(RuntimeError):
    pass


def _answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1,
                                retry=Retry(NoBackoff(), 0)).ping())
    except redis.RedisError:
        return False


class EmbeddedRedis:
    def __init__(self, data_dir: Path):
        self.dir = (data_dir / "redis").resolve()
        self.sock = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def start(self, timeout: float = 15.0) -> "EmbeddedRedis":
        if _answers(self.sock):
            return self                              # someone else's: reuse, never stop it
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedRedisError(MISSING)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if self.sock.exists():
            self.sock.unlink()                       # stale socket of a crashed run
        log = self.dir / "redis.log"
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "", "--daemonize", "no", "--logfile", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _answers(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                self.stop()
                raise EmbeddedRedisError(f"the embedded redis-server did not start; its log ends with:\n{tail}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                redis.Redis(unix_socket_path=str(self.sock), socket_timeout=5,
                            retry=Retry(NoBackoff(), 0)).shutdown()
            except redis.RedisError:
                pass                                 # shutdown closes the connection: expected
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
