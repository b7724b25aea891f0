"""Shared fixtures: real servers on free loopback ports, started and stopped by the tests.

Redis: a private redis-server per test session (so tests can also stop one to see what a
dead store does), unless REDIS_TEST_URL names one to use instead (CI uses the machine's
Redis this way, one database per parallel worker); either way each test starts from an empty
database.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared"
#: The one reason every test that needs ../shared gives when it is absent (a user's clone).
SHARED_ABSENT = (f"needs ../shared ({SHARED}), the project's shared corpus and ESP samples, which CI has "
                 "beside the checkout and a clone does not (README, 'Run the tests')")


def shared(*parts: str) -> Path:
    """A path in ../shared; skips the calling test (or, at import, its whole module) with
    :data:`SHARED_ABSENT` when ../shared is not there."""
    if not SHARED.is_dir():
        pytest.skip(SHARED_ABSENT, allow_module_level=True)
    return SHARED.joinpath(*parts)


def pytest_configure(config):
    """flanker writes its parser tables (ply parsetab modules) into its package on first
    import; parallel workers of a fresh install would write and read them at once, and one
    reads a half-written module. The controller imports it once before the workers start."""
    if not hasattr(config, "workerinput"):
        import flanker.addresslib.address  # noqa: F401
        import flanker.mime  # noqa: F401


def pytest_collection_modifyitems(config, items):
    """Tests marked ``shared`` are skipped, all with one reason, where ../shared is absent."""
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=SHARED_ABSENT)
    for item in items:
        if item.get_closest_marker("shared"):
            item.add_marker(skip)
OPERATOR_KEY = "operator-key-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server; ready when it says so on stdout (no polling, no sleeps)."""

    def __init__(self, workdir: Path, *args: str):
        self.workdir = workdir
        self.args = args                      # more redis-server options (e.g. --requirepass)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: `apt-get install -y redis-server` (the README's test command does it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", "", "--daemonize", "no", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = []
        for line in self.proc.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError("redis-server did not start:\n" + "".join(seen[-20:]))
        # keep draining its output so it never blocks on a full pipe
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def own_data_home(tmp_path_factory):
    """The default data directory ($XDG_DATA_HOME/rebound) of every `rebound` the tests start
    is the session's own: never the store or the models of the person running the tests."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))


def worker_database(url: str | None) -> str | None:
    """REDIS_TEST_URL's database for this pytest-xdist worker: the URL's own for the first
    (or only) worker, the next lower numbers for the others. Each test flushes its database, so
    two workers sharing one flush each other's tenants mid-test. None (start a redis-server of
    our own) when there are more workers than databases below the URL's."""
    if not url:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    if index > base:
        return None
    return urlunsplit(parts._replace(path=f"/{base - index}"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    external = worker_database(os.environ.get("REDIS_TEST_URL"))
    if external:
        yield external
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, which the test may stop."""
    server = RedisServer(tmp_path / "private-redis").start()
    yield server
    server.stop()


@pytest.fixture
def make_settings(tmp_path):
    from webhook.settings import Settings

    def make(redis_url: str, **kw) -> Settings:
        # DNS checks are off unless a test points them at its own DNS server (see dns_server)
        kw.setdefault("dns_checks", False)
        # a model registry of the test's own (empty: the packaged default model), never ./var/models
        kw.setdefault("model_dir", tmp_path / "models")
        kw.setdefault("log_level", "warning")
        return Settings(redis_url=redis_url, operator_key=OPERATOR_KEY, **kw)
    return make


@pytest.fixture
def settings(make_settings, redis_url):
    return make_settings(redis_url)


@pytest.fixture
def app(settings):
    from webhook import create_app

    return create_app(settings)


class LiveServer:
    """The app behind a real HTTP server (werkzeug, threaded) on a free loopback port."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    yield server
    server.stop()


class Api:
    """requests against the live server, authenticated as one tenant."""

    def __init__(self, base: str, tenant: str, key: str):
        self.base, self.tenant, self.key = base, tenant, key
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def __getattr__(self, method):
        def call(path, **kw):
            return self.session.request(method.upper(), self.base + path, timeout=30, **kw)
        return call


@pytest.fixture
def make_tenant(app, live_server):
    store = app.extensions["rebound"].store

    def make(name: str) -> Api:
        tenant, key = store.tenants.create(name)
        return Api(live_server.url, tenant, key)
    return make


@pytest.fixture
def api(make_tenant) -> Api:
    return make_tenant("Tenant A")


@pytest.fixture
def operator(live_server) -> Api:
    """requests against the live server with the operator key (platform routes)."""
    return Api(live_server.url, "(operator)", OPERATOR_KEY)


@pytest.fixture(scope="session")
def dns_server():
    """An authoritative DNS server on loopback serving tests/dns_server.py's zone (UDP+TCP)."""
    from tests.dns_server import DnsServer

    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def dns_settings(make_settings, redis_url, dns_server):
    """Settings whose DNS checks ask the test DNS server (canary: canary.test)."""
    return make_settings(redis_url, dns_checks=True, dns_nameservers=dns_server.nameserver, dns_timeout=0.5,
                         dns_canary="canary.test")


# -- Redis Cluster (issue 13): tests/cluster.py ---------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def slot_checked_connections():
    """Every client the store's connect() makes in a test checks that no multi-key command,
    transaction or WATCH spans two hash slots: on one server too, a step a cluster would
    refuse (CROSSSLOT) fails the test."""
    import store.client
    from tests.cluster import SlotChecker

    store.client.connection_mixin = SlotChecker
    yield
    store.client.connection_mixin = None


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master/3-replica Redis Cluster of this worker's own (tests/cluster.py)."""
    from tests.cluster import start_cluster

    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def topology_url(request) -> str:
    """An empty store on one server, then on a cluster: a test that takes this (directly, or
    through a ``redis_url`` override in its directory's conftest) runs on both."""
    if request.param == "single":
        server = request.getfixturevalue("redis_server")
        client = redis.Redis.from_url(server)
        client.flushdb()
        client.close()
        return server
    cluster = request.getfixturevalue("redis_cluster")
    cluster.flush()
    return cluster.url
