"""The listener's transport: STARTTLS with a configured certificate, per-address limits, LMTP."""
from __future__ import annotations

import datetime as dt
import smtplib
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.webhook.intake.conftest import intake_settings
from tests.webhook.intake.messages import dsn
from webhook.intake import verp
from webhook.intake.smtp import SmtpServer


@pytest.fixture
def listener(intake_services, redis_url, tmp_path):
    """A listener of the test's own, with the settings it asks for."""
    started = []

    def start(**kw) -> SmtpServer:
        settings = intake_settings(redis_url, tmp_path, **kw)
        started.append(SmtpServer(settings, intake_services, host="127.0.0.1", port=0).start())
        return started[-1]
    yield start
    for s in started:
        s.stop()


@pytest.fixture
def route(api, store):
    store.return_paths.add(api.tenant, "bounces@bounce.acme.test", "verp")
    return verp.verp_address("bounces@bounce.acme.test", "ann@example.org")


def certificate(tmp_path) -> tuple[str, str, str]:
    """(cert file, key file, CA PEM): a CA of the test's own and a certificate for 127.0.0.1."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])   # noqa: E731
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Rebound SMTP Test CA")).issuer_name(name("Rebound SMTP Test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=7)).add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("mx.bounce.acme.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256()))
    cert, keyfile = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(cert), str(keyfile), ca.public_bytes(serialization.Encoding.PEM).decode()


def test_starttls_with_the_configured_certificate(listener, route, api, tmp_path):
    cert, key, ca = certificate(tmp_path)
    server = listener(smtp_tls_cert=cert, smtp_tls_key=key, smtp_require_tls=True)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as s:
        s.ehlo("mta.sender.example")
        assert "starttls" in s.esmtp_features
        assert s.mail("")[0] == 530                                  # required: nothing before STARTTLS
        s.starttls(context=ssl.create_default_context(cadata=ca))    # verified against the test CA
        s.ehlo("mta.sender.example")
        assert s.mail("")[0] == 250 and s.rcpt(route)[0] == 250
        assert s.data(dsn("ann@example.org", route))[0] == 250
        assert s.sock.version().startswith("TLS")
    assert api.get("/v1/recipients/ann@example.org").json()["sendable"] is False


def test_connections_per_address_are_limited(listener, route):
    server = listener(smtp_connections_per_ip=2)
    first, second = (smtplib.SMTP("127.0.0.1", server.port, timeout=30) for _ in range(2))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as third:
            assert third.recv(200).startswith(b"421 4.7.0 too many connections")
    finally:
        first.quit()
        second.quit()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as again:      # freed: welcome again
        assert again.noop()[0] == 250


def test_messages_per_address_are_limited_unless_exempt(listener, route):
    server = listener(smtp_message_rate="2/minute")
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as s:
        s.ehlo("mta.sender.example")
        for _ in range(2):
            assert s.mail("")[0] == 250
            s.rset()
        code, text = s.mail("")
        assert code == 451 and b"too many messages" in text
    exempt = listener(smtp_message_rate="1/minute", smtp_exempt="127.0.0.0/8")
    with smtplib.SMTP("127.0.0.1", exempt.port, timeout=30) as s:
        s.ehlo("mta.sender.example")
        for _ in range(3):
            assert s.mail("")[0] == 250
            s.rset()


def test_new_connections_per_address_are_limited(listener):
    server = listener(smtp_connection_rate="2/minute")
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as s:
            s.noop()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as third:
        assert third.recv(200).startswith(b"421 4.7.0 too many new connections")


def test_lmtp_answers_each_recipient(listener, route, api):
    server = listener(smtp_lmtp=True)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        f = sock.makefile("rwb")
        def say(line: bytes) -> None:
            f.write(line + b"\r\n")
            f.flush()

        def reply() -> list[bytes]:
            lines = [f.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(f.readline())
            return lines
        assert reply()[0].startswith(b"220")
        say(b"LHLO mta.sender.example")
        assert any(b"SIZE" in line for line in reply())
        say(b"MAIL FROM:<>")
        assert reply()[0].startswith(b"250")
        say(f"RCPT TO:<{route}>".encode())
        assert reply()[0].startswith(b"250")
        say(b"RCPT TO:<nobody@elsewhere.example>")
        assert reply()[0].startswith(b"550")
        rp2 = verp.verp_address("bounces@bounce.acme.test", "bob@example.org")
        say(f"RCPT TO:<{rp2}>".encode())
        assert reply()[0].startswith(b"250")
        say(b"DATA")
        assert reply()[0].startswith(b"354")
        f.write(dsn("ann@example.org", route).replace(b"\r\n.", b"\r\n..") + b".\r\n")
        f.flush()
        first, second = reply(), reply()                               # one answer per accepted recipient
        assert first[0].startswith(b"250 2.0.0 stored: 1 new") and second[0].startswith(b"250 2.0.0 stored: 0 new")
        say(b"QUIT")
    assert api.get("/v1/recipients/ann@example.org").json()["sendable"] is False
