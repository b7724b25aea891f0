"""Running the intakes: the store they need from the shell, and the background process
``rebound serve`` starts for them.

``rebound serve`` starts one intake process beside gunicorn when ``REBOUND_SMTP_PORT`` is set
(the SMTP/LMTP listener) or ``REBOUND_MAILBOX_WATCH`` is on (the mailbox poller, which finds
mailboxes as they are configured). It runs with the service's settings and its Redis, writes
its metrics to the service's multiprocess directory (so /metrics shows them), stops with the
service, and stops by itself if the service dies without telling it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger("rebound.intake")
#: how often a service without mailboxes looks whether one was configured
WAIT_FOR_MAILBOX = 10.0
#: without a listener to start, the poller waits this long before it imports anything, so that
#: it never competes with gunicorn's workers starting (a first request answered late)
QUIET_START = 15.0


@contextlib.contextmanager
def running_store(settings, tenant: str | None = None):
    """Services on the command's Redis (the configured one, or the embedded one, started if
    need be: :func:`webhook.cli.common.command_redis`); ``tenant`` must exist."""
    import click

    from webhook.cli.common import command_redis
    from webhook.intake.runtime import build_services

    with command_redis(settings) as settings:
        svc = build_services(settings)
        svc.store.ping()
        if tenant is not None and not svc.store.tenants.exists(tenant):
            raise click.BadParameter(f"no tenant {tenant!r} (`rebound tenants list` lists them)", param_hint="TENANT")
        yield svc


def wanted(settings) -> bool:
    """Whether ``rebound serve`` has an intake process to start."""
    return settings.smtp_port is not None or settings.mailbox_watch


def spawn(settings) -> subprocess.Popen:
    """Start the intake process for ``rebound serve`` (its environment carries the settings,
    the Redis URL of the embedded server included, and the metrics directory)."""
    env = dict(os.environ)
    if settings.redis_url:
        env["REBOUND_REDIS_URL"] = settings.redis_url
    return subprocess.Popen([sys.executable, "-m", "webhook.intake.runner", str(os.getpid())], env=env)


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(Exception):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(proc.pid)


def main(parent: int) -> None:
    """The intake process: the listener and/or the mailbox poller until SIGTERM, or until the
    service that started it is gone. With no listener to run, it stays small (no classifier
    loaded, nothing heavy imported) until a mailbox is configured: most services have none,
    and their start must not compete with a second one loading a model."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    orphaned = lambda: os.getppid() != parent                    # noqa: E731 - the service died without us
    if not os.environ.get("REBOUND_SMTP_PORT") and done.wait(QUIET_START):
        return

    from webhook.logs import configure as configure_logs
    from webhook.settings import Settings

    settings = Settings.from_env()
    configure_logs(settings.log_level)
    server = watcher = None
    if settings.smtp_port is None:
        from webhook.services import build_store

        store = build_store(settings)
        while not done.is_set() and not orphaned():
            try:
                if store.mailboxes.index():
                    break
            except Exception:                                    # noqa: BLE001 - Redis away: look again later
                pass
            done.wait(WAIT_FOR_MAILBOX)
        if done.is_set() or orphaned():
            return
    from webhook.intake.runtime import build_services

    svc = build_services(settings, load_model=settings.smtp_port is not None)
    if settings.smtp_port is not None:
        from webhook.intake.smtp import SmtpServer

        server = SmtpServer(settings, svc).start()
        log.info("smtp listener started", extra={"host": server.host, "port": server.port})
    if settings.mailbox_watch:
        from webhook.intake.mailbox import Watcher

        watcher = Watcher(svc).start()
    while not done.wait(1.0):
        if orphaned():
            break
    if watcher is not None:
        watcher.stop()
    if server is not None:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
