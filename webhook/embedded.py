"""The embedded default: a private redis-server under the data directory.

With no REBOUND_REDIS_URL, Rebound runs its own Redis on a Unix socket (no port to clash
with, no network exposure), with AOF on so acknowledged events survive a restart.

Several processes may use it at once: two `rebound serve` on the same data directory, a
CLI command while the service runs, gunicorn's workers. Last one out turns off the lights:

- Each user holds an exclusive ``flock`` on a file of its own under ``redis/users/`` for as
  long as it uses the server (forked gunicorn workers share their master's). The kernel
  releases it however the process ends, ``kill -9`` included.
- Starting, registering, unregistering and stopping happen under one lock (``redis/lock``),
  so a user that arrives while the last one leaves never finds the server half stopped.
- A user that leaves last stops the server itself (``stop``), so it is gone when the
  command returns.
- A small supervisor process (this file run as a script) is redis-server's parent: it watches
  the users' locks and stops the server when none is held any more, so a user killed
  outright never leaves it orphaned; and redis-server dies with its supervisor
  (``PR_SET_PDEATHSIG``).
- The supervisor restarts redis-server when it dies while users remain (killed, crashed,
  out of memory), on the same directory and so with its data (the AOF), after a pause that
  doubles while it keeps dying (0.1 s up to 5 s). Before, a killed server stayed dead and
  every store route answered 503 until some ``rebound`` command happened to start one
  (issue 15). A user arriving meanwhile waits for the supervisor's server instead of
  starting a second one on the same files.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # run as the supervisor: Python put this file's directory first on the path, where our
    # secrets.py would stand in for the standard library's (redis-py imports it); without
    # this the supervisor died on its first Redis call and never restarted anything
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]

import contextlib
import ctypes
import fcntl
import shutil
import signal
import subprocess
import time
import uuid
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


def _shutdown(sock: Path, pid_file: Path, timeout: float = 30.0) -> None:
    """Ask the server to stop (it writes its AOF and removes its socket first) and wait until
    its process is gone, so that a server started next never shares the AOF with it."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        pid = None
    try:
        redis.Redis(unix_socket_path=str(sock), socket_timeout=10, retry=Retry(NoBackoff(), 0)).shutdown()
    except redis.RedisError:
        pass                                 # shutdown closes the connection: expected
    deadline = time.monotonic() + timeout
    while pid is not None and _running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its parent has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)                  # no /proc (macOS): existence is all we can tell
        except OSError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class _Layout:
    """The files of one embedded server under ``<data dir>/redis``."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.sock = directory / "redis.sock"
        self.users = directory / "users"
        self.lock = directory / "lock"
        self.log = directory / "redis.log"
        self.supervisor_pid = directory / "supervisor.pid"
        self.redis_pid = directory / "redis.pid"

    @contextlib.contextmanager
    def locked(self):
        """The lock under which users come and go and the server starts and stops."""
        with open(self.lock, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def live_users(self) -> list[Path]:
        """User files whose lock is held; files left by processes that died are removed."""
        live = []
        for path in sorted(self.users.glob("*.lock")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.append(path)
            else:
                path.unlink(missing_ok=True)     # its owner is gone
            finally:
                os.close(fd)
        return live


class EmbeddedRedis:
    @staticmethod
    def has_data(data_dir: Path) -> bool:
        """A server has run under ``data_dir`` before (its AOF is there), or runs now."""
        layout = _Layout((data_dir / "redis").resolve())
        return (layout.dir / "appendonlydir").is_dir() or layout.sock.exists()

    def __init__(self, data_dir: Path):
        self.layout = _Layout((data_dir / "redis").resolve())
        self.dir = self.layout.dir
        self.sock = self.layout.sock
        self._user: tuple[int, Path] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def start(self, timeout: float = 15.0) -> "EmbeddedRedis":
        """Use the server (starting it if nobody runs it); pair with :meth:`stop`."""
        if self._user is not None:
            return self
        binary = shutil.which("redis-server")
        if binary is None and not _answers(self.sock):
            raise EmbeddedRedisError(MISSING)
        layout = self.layout
        layout.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.dir, 0o700)
        layout.users.mkdir(exist_ok=True)
        with layout.locked():
            self._register()
            try:
                if _answers(self.sock):
                    return self
                if not _supervising(layout):
                    self._launch(binary, timeout)
                    return self
            except BaseException:
                self._unregister()
                raise
        # its supervisor is bringing the server back (it needs the lock for that): wait outside it
        deadline = time.monotonic() + timeout
        while not _answers(self.sock):
            if not _supervising(layout):          # it gave up or stopped meanwhile: start one
                with layout.locked():
                    if not _answers(self.sock) and not _supervising(layout):
                        self._launch(binary, timeout)
                continue
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedRedisError("the embedded redis-server is being restarted and did not come back; "
                                         f"see {layout.log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop using the server; the last user stops it."""
        if self._user is None:
            return
        with self.layout.locked():
            self._unregister()
            if not self.layout.live_users():
                _shutdown(self.sock, self.layout.redis_pid)

    def _register(self) -> None:
        path = self.layout.users / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._user = (fd, path)

    def _unregister(self) -> None:
        fd, path = self._user
        path.unlink(missing_ok=True)
        os.close(fd)
        self._user = None

    def _launch(self, binary: str, timeout: float) -> None:
        if self.sock.exists():
            self.sock.unlink()                   # stale socket of a crashed run
        supervisor = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), str(self.layout.dir), binary],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _answers(self.sock):
            if supervisor.poll() is not None or time.monotonic() > deadline:
                log = self.layout.log
                tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                supervisor.kill()
                raise EmbeddedRedisError(f"the embedded redis-server did not start; its log ends with:\n{tail}")
            time.sleep(0.02)


# -- the supervisor (this file run as a script by EmbeddedRedis._launch) -------------------------

def _die_with_parent() -> None:
    """In redis-server before exec: SIGTERM when the supervisor dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


#: how often the supervisor looks at its server and its users
WATCH_SECONDS = 0.25
#: pause before a restart: doubles while the server keeps dying soon after starting
RESTART_PAUSE = (0.1, 5.0)


def _supervising(layout: _Layout) -> bool:
    """A supervisor of this directory is alive (restarting its server, maybe)."""
    try:
        pid = int(layout.supervisor_pid.read_text())
    except (OSError, ValueError):
        return False
    return pid != os.getpid() and _running(pid)


def _resign(layout: _Layout) -> None:
    """Under the lock, as the supervisor decides to go: a user arriving next starts its own
    server at once instead of waiting for this one to bring one back."""
    with contextlib.suppress(FileNotFoundError):
        if layout.supervisor_pid.read_text() == str(os.getpid()):
            layout.supervisor_pid.unlink()


def _spawn(layout: _Layout, binary: str) -> subprocess.Popen:
    if layout.sock.exists():
        layout.sock.unlink()                     # the dead server's socket
    return subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(layout.sock), "--unixsocketperm", "700",
         "--dir", str(layout.dir), "--appendonly", "yes", "--appendfsync", "everysec",
         "--save", "", "--daemonize", "no", "--logfile", str(layout.log), "--pidfile", str(layout.redis_pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent)      # noqa: PLW1509 (the supervisor runs no threads)


def _note(layout: _Layout, line: str) -> None:
    with contextlib.suppress(OSError), open(layout.log, "a") as f:
        f.write(f"{os.getpid()}:supervisor {time.strftime('%d %b %Y %H:%M:%S')} {line}\n")


def supervise(directory: Path, binary: str) -> None:
    layout = _Layout(directory)
    proc = _spawn(layout, binary)
    layout.supervisor_pid.write_text(str(os.getpid()))
    pause, started = RESTART_PAUSE[0], time.monotonic()
    while True:
        try:
            proc.wait(timeout=WATCH_SECONDS)
        except subprocess.TimeoutExpired:
            with layout.locked():
                if not layout.live_users():
                    _shutdown(layout.sock, layout.redis_pid)
                    _resign(layout)
                    break
            continue
        # the server ended: the last user stopped it, or it died under its users
        with layout.locked():
            if not layout.live_users() or _answers(layout.sock):
                _resign(layout)
                break
            pause = RESTART_PAUSE[0] if time.monotonic() - started > 30 else min(pause * 2, RESTART_PAUSE[1])
            _note(layout, f"redis-server ended (status {proc.returncode}); restarting it in {pause:g} s")
            time.sleep(pause)
            proc, started = _spawn(layout, binary), time.monotonic()
            deadline = started + 60                 # a large AOF takes a while to load
            while not _answers(layout.sock) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(FileNotFoundError):
        if layout.supervisor_pid.read_text() == str(os.getpid()):
            layout.supervisor_pid.unlink()


if __name__ == "__main__":
    supervise(Path(sys.argv[1]), sys.argv[2])
