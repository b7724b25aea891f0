"""A real Postfix (Debian's package) for the tests: its own main.cf/master.cf, queue and data
directories, smtpd on a free loopback port, no DNS. Mail for ``remote.test`` goes to a local
SMTP server standing in for the recipients' MX (``Remote``: it refuses ``unknown-*``
mailboxes with 550 5.1.1); the bounces Postfix writes go to ``bounce.test``, i.e. to Rebound's
listener. Started and stopped with ``postfix -c DIR``; never the machine's own Postfix."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


def _binary() -> str:
    if not os.path.exists("/usr/sbin/postfix"):
        message = "postfix is not installed: `apt-get install -y postfix` (./setup.sh test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("Postfix's master runs as root: these tests need root (CI and ./setup.sh test run as root)")
    return "/usr/sbin/postfix"


class Remote:
    """The recipients' MX: refuses unknown-* at RCPT, accepts the rest."""

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.split("@")[0].startswith("unknown-"):
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"

        async def handle_DATA(self, server, session, envelope):
            return "250 2.0.0 OK"

    def __init__(self):
        self.port = free_port()
        self.controller = Controller(self.Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "Remote":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class Postfix:
    def __init__(self, root: Path, rebound_port: int, remote_port: int):
        self.binary = _binary()
        self.root, self.port = root, free_port()
        self.rebound_port, self.remote_port = rebound_port, remote_port

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # postfix logs its own complaints to the terminal only: `script` gives it one
        return subprocess.run(["script", "-qc", " ".join([self.binary, "-c", str(self.root / "etc"), *args]),
                               "/dev/null"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def start(self) -> "Postfix":
        r = self.root
        for d in ("etc", "queue", "data"):
            (r / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(r / "data", "postfix")
        (r / "etc" / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mta.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtp_host_lookup = native
transport_maps = inline:{{remote.test=smtp:[127.0.0.1]:{self.remote_port}, bounce.test=smtp:[127.0.0.1]:{self.rebound_port}}}
default_verp_delimiters = +=
smtpd_authorized_verp_clients = 127.0.0.0/8
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
""")
        master = (Path("/usr/share/postfix/master.cf.dist").read_text()
                  .replace("smtp      inet  n       -       y", f"127.0.0.1:{self.port} inet n - n"))
        lines = []
        for line in master.splitlines():              # no chroot: the queue is not set up as one
            parts = line.split()
            if len(parts) >= 8 and not line[0].isspace() and parts[1] in ("unix", "inet", "fifo", "pass", "unix-dgram"):
                parts[4] = "n"
                line = " ".join(parts)
            lines.append(line)
        (r / "etc" / "master.cf").write_text("\n".join(lines) + "\n")
        p = self._run("start")
        pid = r / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 30
        while not pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not pid.exists():
            raise RuntimeError(f"postfix did not start: {p.stdout}{p.stderr}\n{self.log()}")
        return self

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def flush(self) -> None:
        """Deliver the deferred queue now (what its next queue run would do)."""
        self._run("flush")

    def stop(self) -> None:
        self._run("stop")
        pid = self.root / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 20
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
