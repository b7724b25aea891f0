"""Fixtures for the intakes: one SMTP listener per test session (a real aiosmtpd server on a
free loopback port, storing into the session's Redis), reset between tests; the app of these
tests shares its secret key, so return paths set through the app verify in the listener."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from webhook.settings import Settings

SECRET = Fernet.generate_key().decode()


@pytest.fixture
def settings(make_settings, redis_url, tmp_path):
    return make_settings(redis_url, secret_key=SECRET, data_dir=tmp_path / "data")


def intake_settings(redis_url: str, tmp, **kw) -> Settings:
    kw.setdefault("dns_checks", False)
    kw.setdefault("model_dir", tmp / "models")
    kw.setdefault("log_level", "warning")
    kw.setdefault("max_body_bytes", 256 * 1024)           # the SIZE tests send a little more than this
    return Settings(redis_url=redis_url, secret_key=SECRET, data_dir=tmp / "data", **kw)


@pytest.fixture(scope="session")
def intake_services(redis_server, tmp_path_factory):
    from webhook.intake.runtime import build_services

    return build_services(intake_settings(redis_server, tmp_path_factory.mktemp("intake")))


@pytest.fixture(scope="session")
def smtp_session(intake_services):
    from webhook.intake.smtp import SmtpServer

    server = SmtpServer(intake_services.settings, intake_services, host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_session, redis_url):
    """The session's listener, with no routes remembered from an earlier test."""
    smtp_session.router.forget()
    return smtp_session


@pytest.fixture
def store(app):
    return app.extensions["rebound"].store


@pytest.fixture(scope="session")
def dovecot():
    """A Dovecot of the session's own; its directory is outside pytest's (mode 0700, which
    Dovecot's unprivileged processes cannot enter when the tests run as root)."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.webhook.intake.dovecot import Dovecot

    root = Path(tempfile.mkdtemp(prefix="rebound-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
