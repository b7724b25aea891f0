"""The intakes from the shell: ``rebound inbound``, ``rebound smtp``, ``rebound returnpath ...``
and ``rebound mailbox ...``. Heavy modules are imported inside the commands: ``rebound
inbound`` runs once per bounce under an MTA and must start fast."""
from __future__ import annotations

import sys

import click
import orjson

from webhook.cli.common import ADDRESS, TENANT


def _emit(obj) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.flush()


# -- rebound inbound ----------------------------------------------------------------------

@click.command("inbound")
@click.argument("tenant", type=TENANT, required=False)
@click.option("--recipient", "-r", metavar="ADDRESS",
              help="the envelope recipient (Postfix ${recipient}): routes by return path, VERP and signed tokens")
def inbound(tenant: str | None, recipient: str | None) -> None:
    """Take one message from standard input (an MTA's pipe) and store what it reports.

    \b
    Exit status (sysexits): 0 stored or held for review, 75 the store is unavailable
    (the MTA retries later), 65 not a message or not a report (or too large), 67 no such
    tenant or return path, 64 neither TENANT nor --recipient given.
    """
    from webhook.intake.pipe import run

    status, out = run(tenant, recipient)
    if status:
        click.echo(f"rebound inbound: {out.get('message') or out.get('error')}", err=True)
    _emit(out)
    sys.exit(status)


# -- rebound smtp ---------------------------------------------------------------------------

@click.command("smtp")
@click.option("--host", help="address to bind (default REBOUND_SMTP_HOST, 127.0.0.1)")
@click.option("--port", type=click.IntRange(0, 65535), help="port (default REBOUND_SMTP_PORT, else 2525)")
@click.option("--lmtp", is_flag=True, default=None, help="speak LMTP (default REBOUND_SMTP_LMTP)")
def smtp(host: str | None, port: int | None, lmtp: bool | None) -> None:
    """Run the SMTP/LMTP listener for the return-path domains (until SIGTERM or Ctrl-C)."""
    from webhook.cli.common import load_settings
    from webhook.intake.runner import running_store
    from webhook.intake.smtp import SmtpServer

    settings = load_settings(smtp_lmtp=lmtp)
    with running_store(settings) as svc:
        server = SmtpServer(svc.settings, svc, host=host, port=port)
        try:
            server.serve_forever(lambda s: click.echo(
                f"rebound {'lmtp' if settings.smtp_lmtp else 'smtp'}: listening on {s.host}:{s.port}", err=True))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {server.host}:{server.port}: {exc}") from None


# -- rebound returnpath ---------------------------------------------------------------------

@click.group("returnpath")
def returnpath() -> None:
    """Return-path addresses whose bounces Rebound takes (SMTP listener, pipe), per tenant."""


def _route_out(route, key: bytes | None = None) -> dict:
    out = {"tenant": route.tenant, **route.to_dict()}
    if key is not None:
        out["signing_key"] = key.hex()
        out["note"] = "the signing key is shown only now: keep it where your sender makes return paths"
    return out


@returnpath.command("add")
@click.argument("tenant", type=TENANT)
@click.argument("address")
@click.option("--format", "fmt", type=click.Choice(["plain", "verp", "signed"]), default="plain", show_default=True,
              help="plain: this address; verp: PREFIX+local=domain@...; signed: PREFIX-TOKEN@... (see README)")
@click.option("--max-age-days", type=click.IntRange(1, 365), default=30, show_default=True,
              help="signed: how long a token stays valid")
@click.option("--rotate-key", is_flag=True, help="signed: a new signing key (the old one stays valid max-age-days)")
def returnpath_add(tenant: str, address: str, fmt: str, max_age_days: int, rotate_key: bool) -> None:
    """Route bounces sent to ADDRESS to TENANT (prints a signed route's key, once)."""
    from store.returnpath import ReturnPathError
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        try:
            route, key = store.return_paths.add(tenant, address, fmt, max_age_days=max_age_days, rotate=rotate_key)
        except ReturnPathError as exc:
            raise click.UsageError(str(exc)) from None
    _emit(_route_out(route, key))


@returnpath.command("remove")
@click.argument("tenant", type=TENANT)
@click.argument("address")
def returnpath_remove(tenant: str, address: str) -> None:
    """Stop taking bounces for ADDRESS (the listener refuses it within seconds)."""
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        if not store.return_paths.remove(tenant, address):
            raise click.ClickException(f"{address} is not a return path of {tenant!r}")
    _emit({"address": address.lower(), "removed": True})


@returnpath.command("list")
@click.argument("tenant", type=TENANT)
def returnpath_list(tenant: str) -> None:
    """TENANT's return paths (keys are never shown again)."""
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        for route in store.return_paths.of(tenant):
            _emit(_route_out(route))


@returnpath.command("token")
@click.argument("tenant", type=TENANT)
@click.argument("address")
@click.argument("recipient", type=ADDRESS)
@click.option("--message", default="", help="your reference of the message (kept with the bounce)")
def returnpath_token(tenant: str, address: str, recipient: str, message: str) -> None:
    """The return path to send RECIPIENT's message with: VERP or signed, per ADDRESS's format."""
    from webhook.intake import verp
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        route = store.return_paths.get(address)
        if route is None or route.tenant != tenant:
            raise click.UsageError(f"{address} is not a return path of {tenant!r}")
        if route.format == "signed":
            value = verp.sign(store.return_paths.signing_keys(route)[0], route.address, recipient, message)
        elif route.format == "verp":
            value = verp.verp_address(route.address, recipient)
        else:
            value = route.address
    _emit({"return_path": value, "format": route.format})


@returnpath.command("held")
@click.argument("tenant", type=TENANT)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def returnpath_held(tenant: str, limit: int) -> None:
    """Bounces held for review (a signed return path that did not verify), newest first."""
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        for entry in store.held.list(tenant, limit):
            _emit(entry)


@returnpath.command("release")
@click.argument("tenant", type=TENANT)
@click.argument("held_id")
def returnpath_release(tenant: str, held_id: str) -> None:
    """Apply a held bounce as an ordinary one (you checked it is genuine)."""
    from webhook.cli.common import load_settings
    from webhook.intake.message import release
    from webhook.intake.runner import running_store

    with running_store(load_settings(), tenant=tenant) as svc:
        taken = release(svc, tenant, held_id)
    if taken is None:
        raise click.ClickException(f"no held message {held_id!r} of {tenant!r} (or its message has expired)")
    _emit({"released": held_id, "outcome": taken.outcome, "accepted": taken.accepted,
           "duplicates": taken.duplicates, "recipients": taken.recipients})


@returnpath.command("drop")
@click.argument("tenant", type=TENANT)
@click.argument("held_id")
def returnpath_drop(tenant: str, held_id: str) -> None:
    """Discard a held bounce."""
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        if not store.held.drop(tenant, held_id):
            raise click.ClickException(f"no held message {held_id!r} of {tenant!r}")
    _emit({"dropped": held_id})


# -- rebound mailbox ------------------------------------------------------------------------

@click.group("mailbox")
def mailbox() -> None:
    """Bounce mailboxes Rebound reads over IMAP or POP3, per tenant (set, show, test, poll)."""


def _pairs(values: tuple[str, ...]) -> dict:
    changes = {}
    for n, item in enumerate(values, 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"value {n} is not NAME=VALUE (it is not shown: it may be a password)")
        changes[name.strip()] = value
    return changes


@mailbox.command("set")
@click.argument("tenant", type=TENANT)
@click.argument("values", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.option("--name", default="default", show_default=True, help="the mailbox's name (a tenant may have several)")
def mailbox_set(tenant: str, values: tuple[str, ...], name: str) -> None:
    """Set TENANT's mailbox NAME: host=, user=, password= (required); protocol=imap|pop3,
    port=, tls=ssl|starttls|none, tls_verify=, ca_pem=, folder=INBOX, after=move|delete|keep,
    move_to=, quarantine=, interval=, idle=, enabled=. NAME= (empty) removes a setting."""
    from webhook.intake.mailbox import configure
    from webhook.cli.common import tenant_store

    changes = _pairs(values)
    if "ca_pem" in changes and changes["ca_pem"].startswith("@"):
        with open(changes["ca_pem"][1:]) as f:                    # ca_pem=@/path/to/ca.pem
            changes["ca_pem"] = f.read()
    with tenant_store(tenant) as store:
        try:
            cfg = configure(store, tenant, name, changes)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    _emit({"tenant": tenant, "name": name, "settings": cfg.shown()})


@mailbox.command("show")
@click.argument("tenant", type=TENANT)
@click.argument("name", required=False)
def mailbox_show(tenant: str, name: str | None) -> None:
    """TENANT's mailboxes (password as ***), with their progress: last poll, errors, counts."""
    from webhook.intake.mailbox import describe
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        found = store.mailboxes.of(tenant)
        if name is not None and name not in found:
            raise click.ClickException(f"{tenant!r} has no mailbox {name!r}")
        for n, settings in found.items():
            if name is None or n == name:
                _emit(describe(store, tenant, n, settings))


@mailbox.command("delete")
@click.argument("tenant", type=TENANT)
@click.argument("name")
def mailbox_delete(tenant: str, name: str) -> None:
    """Stop reading TENANT's mailbox NAME and forget its settings."""
    from webhook.cli.common import tenant_store

    with tenant_store(tenant) as store:
        if not store.mailboxes.delete(tenant, name):
            raise click.ClickException(f"{tenant!r} has no mailbox {name!r}")
    _emit({"tenant": tenant, "name": name, "deleted": True})


@mailbox.command("test")
@click.argument("tenant", type=TENANT)
@click.argument("name", default="default")
def mailbox_test(tenant: str, name: str) -> None:
    """Connect, log in and open the folder, touching nothing; exit 1 if that fails."""
    from webhook.cli.common import load_settings
    from webhook.intake.mailbox import MailboxSettings, Reader
    from webhook.intake.runner import running_store

    with running_store(load_settings(), tenant=tenant) as svc:
        settings = svc.store.mailboxes.get(tenant, name)
        if settings is None:
            raise click.ClickException(f"{tenant!r} has no mailbox {name!r}")
        out = Reader(svc, tenant, name, MailboxSettings.model_validate(settings)).test()
    _emit(out)
    if not out["ok"]:
        sys.exit(1)


@mailbox.command("poll")
@click.argument("tenant", type=TENANT, required=False)
@click.argument("name", required=False)
@click.option("--watch", is_flag=True, help="keep reading every mailbox (IDLE or interval) until Ctrl-C")
def mailbox_poll(tenant: str | None, name: str | None, watch: bool) -> None:
    """Read mailboxes now (all, TENANT's, or one): one line per mailbox; exit 1 if one failed."""
    import signal
    import threading

    from webhook.cli.common import load_settings
    from webhook.intake.mailbox import Watcher, poll_once
    from webhook.intake.runner import running_store

    with running_store(load_settings(), tenant=tenant) as svc:
        if watch:
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            watcher = Watcher(svc).start()
            try:
                done.wait()
            except KeyboardInterrupt:
                pass
            watcher.stop()
            return
        failed = False
        for t, n in svc.store.mailboxes.index():
            if (tenant is None or t == tenant) and (name is None or n == name):
                result = poll_once(svc, t, n)
                failed |= result["error"] is not None
                _emit(result)
    if failed:
        sys.exit(1)


COMMANDS = [inbound, smtp, returnpath, mailbox]
