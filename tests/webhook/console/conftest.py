"""The console's browser tests: one real service (`rebound serve`, gunicorn, with its own
Redis) and one headless Chromium (Debian's, driven by Playwright) for all of them, stopped
when this folder's tests are done (Playwright's synchronous API keeps an asyncio loop
running in the main thread while it is open, which tests after these must not inherit).

Chromium is Debian's package at /usr/bin/chromium (`./setup.sh test` installs it); Playwright
never downloads a browser of its own here. Screenshots of every page go to the session's
output folder (printed at the end) under ``console-screenshots``.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import requests

from classifier.training.dataset import data_files, load_records
from tests.conftest import REPO, Api, RedisServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
OPERATOR_KEY = "console-operator-key-for-tests"
START_SECONDS = 60


class Service:
    """`rebound serve` in a process of its own, as a user runs it."""

    def __init__(self, workdir: Path, redis_url: str, corpus: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.env = {**os.environ, "REBOUND_REDIS_URL": redis_url, "REBOUND_PORT": str(self.port),
                    "REBOUND_OPERATOR_KEY": OPERATOR_KEY, "REBOUND_DATA_DIR": str(workdir / "data"),
                    "REBOUND_MODEL_DIR": str(workdir / "models"), "REBOUND_TRAINING_DATA_DIR": str(corpus),
                    "REBOUND_DNS_CHECKS": "false", "REBOUND_MODEL_CHECK_SECONDS": "0", "REBOUND_WORKERS": "2",
                    "REBOUND_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO)}
        self.log = (workdir / "service.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "webhook.cli", "serve"], env=self.env, cwd=workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(workdir)
        except BaseException:
            self.stop()                        # never leave a service behind
            raise

    def _wait_ready(self, workdir: Path) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:            # readiness: the service answers /readyz (Redis reached, model loaded)
            if self.proc.poll() is not None:
                raise RuntimeError("rebound serve exited:\n" + (workdir / "service.log").read_text()[-3000:])
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:          # not listening yet, or still loading
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("rebound serve did not get ready:\n" + (workdir / "service.log").read_text()[-3000:])
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="package")
def small_corpus(tmp_path_factory) -> Path:
    """A sixth of the project's corpus: enough to learn from, quick to train on."""
    d = tmp_path_factory.mktemp("console-corpus")
    with (d / "sample.jsonl").open("wb") as fh:
        for rec in load_records(data_files())[::6]:
            rec.pop("source", None)
            fh.write(orjson.dumps(rec) + b"\n")
    return d


@pytest.fixture(scope="package")
def console_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("console-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def service(tmp_path_factory, console_redis, small_corpus):
    svc = Service(tmp_path_factory.mktemp("console-service"), console_redis.url, small_corpus)
    yield svc
    svc.stop()


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (`./setup.sh test` does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    d = tmp_path_factory.getbasetemp() / "console-screenshots"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture
def make_tenant(service, console_redis):
    """A new tenant of the running service and an API client for it."""
    import redis as redis_lib

    from store import Store

    client = redis_lib.Redis.from_url(console_redis.url)
    store = Store(client)
    made = []

    def make(name: str) -> Api:
        tenant, key = store.tenants.create(f"{name} {secrets.token_hex(2)}")     # one service, many tests
        made.append(tenant)
        return Api(service.url, tenant, key)
    yield make
    client.close()


@pytest.fixture
def page_for(browser, service):
    """A fresh browser context (its own cookies) signed in with a key; CSP violations,
    script errors and failed subresources are collected on ``page.errors``."""
    contexts = []

    def make(key: str, width: int = 1280, height: int = 900):
        ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=service.url)
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []
        # script errors, CSP violations, and any script, style or picture that failed to load
        # (a page answered 4xx on purpose is the test's business, not an error here)
        page.on("console", lambda m: page.errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("response", lambda r: page.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.request.resource_type not in ("document", "fetch") else None)
        if key:
            page.goto("/console/sign-in")
            page.fill("#key", key)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/console/**")
        return page
    yield make
    for ctx in contexts:
        ctx.close()


def pytest_sessionfinish(session, exitstatus):
    base = getattr(session.config, "_tmp_path_factory", None)
    if base is not None:
        d = base.getbasetemp() / "console-screenshots"
        if d.is_dir() and any(d.iterdir()):
            print(f"\nconsole screenshots: {d}")


