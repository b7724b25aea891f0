"""A real Dovecot (Debian's dovecot-imapd and dovecot-pop3d) for the tests: its own config,
mail and run directories, IMAP/IMAPS/POP3/POP3S on free loopback ports, a CA of its own for
TLS. Two faces: 127.0.0.1 announces IDLE, 127.0.0.2 does not (for the interval path).
Users are made on demand, each with an empty maildir."""
from __future__ import annotations

import datetime as dt
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

PACKAGES = "dovecot-imapd dovecot-pop3d"
NO_IDLE = "127.0.0.2"
#: users made for a session (each test takes new ones)
USERS = 200


def _binary() -> str:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if found is None:
        message = f"dovecot is not installed: `apt-get install -y {PACKAGES}` (./setup.sh test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _tls_files(directory: Path) -> str:
    """A CA and a certificate for localhost/127.0.0.1 it issued; returns the CA's PEM."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Rebound Mail Test CA")).issuer_name(_name("Rebound Mail Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode()


class Dovecot:
    def __init__(self, root: Path):
        self.binary = _binary()
        self.root = root
        self.ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s")}

    def _config(self, owner: str) -> str:
        r = self.root
        return f"""
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1, {NO_IDLE}
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%u
mail_uid = {owner}
mail_gid = {owner}
first_valid_uid = 1
default_internal_user = {owner}
default_login_user = {owner}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = static
  args = uid={owner} gid={owner} home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports["imap"]}
  }}
  inet_listener imaps {{
    port = {self.ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = {self.ports["pop3s"]}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
local {NO_IDLE} {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR UIDPLUS MOVE
  }}
}}
"""

    def start(self) -> "Dovecot":
        for d in ("run", "state", "mail"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.ca_pem = _tls_files(self.root)
        self._fresh = [(f"u{secrets.token_hex(4)}", secrets.token_hex(8)) for _ in range(USERS)]
        (self.root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self._fresh))
        owner = "dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:                         # dovecot refuses to deliver as root
            uid, gid = pwd.getpwnam(owner).pw_uid, pwd.getpwnam(owner).pw_gid
            for d in ("mail", "state"):
                os.chown(self.root / d, uid, gid)
            os.chmod(self.root, 0o755)
        (self.root / "dovecot.conf").write_text(self._config(owner))
        # dovecot daemonizes: its output goes to a file (a pipe would stay open with the daemon)
        with open(self.root / "start.log", "wb") as out:
            status = subprocess.run([self.binary, "-c", str(self.root / "dovecot.conf")], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        if status != 0:
            raise RuntimeError("dovecot did not start: " + (self.root / "start.log").read_text(errors="replace"))
        deadline = time.monotonic() + 20
        for port in self.ports.values():            # up when every listener accepts a connection
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("dovecot did not listen:\n" + self.log()) from None
                    time.sleep(0.05)
        return self

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def user(self) -> tuple[str, str]:
        """A user not handed out before, with an empty mailbox: (user, password). The users
        are written before the server starts: Dovecot notices a changed passwd-file by its
        time stamp, which two quick changes within a second do not change."""
        return self._fresh.pop()

    def stop(self) -> None:
        subprocess.run([self.binary, "-c", str(self.root / "dovecot.conf"), "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        pid = self.root / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
