"""`rebound serve`: gunicorn running the app factory, with the embedded Redis when needed, and
the intake process (SMTP listener, mailbox poller: webhook/intake/runner.py) when configured."""
from __future__ import annotations

import os
import shutil
import tempfile

from gunicorn.app.base import BaseApplication

from webhook import redact
from webhook.embedded import EmbeddedRedis
from webhook.intake import runner
from webhook.settings import Settings


def logconfig(level: str) -> dict:
    """gunicorn's own lines (start, workers, stop) in the service's JSON, at its REBOUND_LOG_LEVEL."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter",
                                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {"gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
                    "gunicorn.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False}},
    }


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from webhook import create_app   # in each worker, after fork: own Redis connections

        return create_app(self.settings)


def _post_worker_init(worker) -> None:
    """The app is loaded: move everything it allocated out of the garbage collector's way.

    Otherwise each full collection walks every module, model and table loaded at start, and
    a 10,000-address check (which allocates enough to trigger several) pays for it: about a
    third of its time in measurements (bench/bulk_check.py). Young collections, too, are
    made rarer (every 10,000 allocations instead of 700): requests make little cyclic
    garbage, and a bulk check then spends 5-10% less time collecting."""
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _preload() -> None:
    """Import what every worker needs before the workers are forked, so that they share it:
    the ``rebound`` command imports nothing heavy itself (it must start at once), and two
    workers each importing Flask, scikit-learn and flanker at the same time would take
    twice the CPU and could outlast gunicorn's boot timeout on a busy machine. Nothing is
    connected or loaded from disk here (Redis connections and the model are the workers')."""
    import classifier.model.registry  # noqa: F401  (skops, scikit-learn)
    import classifier.parse  # noqa: F401  (flanker)
    import webhook.app  # noqa: F401  (Flask, the API, the store)


def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; the embedded Redis (if this call started it) stops after."""
    metrics_dir = tempfile.mkdtemp(prefix="rebound-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _preload()
    embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir).start()
    intake = None
    try:
        if embedded is not None:
            settings = settings.model_copy(update={"redis_url": embedded.url})
        if runner.wanted(settings):
            intake = runner.spawn(settings)          # SMTP listener, mailbox poller (webhook/intake)
        _Gunicorn(settings, {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.workers,
            "threads": settings.threads,
            "worker_class": "webhook.worker.BufferingWorker",    # gthread that gives no thread to a slow upload
            "timeout": 30,
            "graceful_timeout": 20,
            "keepalive": 5,
            # the longest request line gunicorn reads (its default, 4094, answers a long
            # address in a URL with an HTML 414 of its own before the app can say why)
            "limit_request_line": 8190,
            "accesslog": None,
            "logconfig_dict": logconfig(settings.log_level),
            "child_exit": _child_exit,
            "post_worker_init": _post_worker_init,
            "when_ready": lambda server: server.log.info("using Redis at %s",
                                                         redact.url(settings.effective_redis_url)),
            "proc_name": "rebound",
        }).run()
    finally:
        if intake is not None:
            runner.stop(intake)
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
