"""``rebound inbound [TENANT] [--recipient ADDRESS] < message``: one message from an MTA's pipe.

For Postfix ``pipe(8)``, an Exim pipe transport or procmail. The message is taken like any
other (``message.take``) and the exit status tells the MTA what to do, by sysexits(3):

- 0: stored (or held for review): the MTA may forget it;
- 75 ``EX_TEMPFAIL``: the store is unavailable (or its secret key unreadable): the MTA keeps
  the message and tries again later; nothing was acknowledged;
- 65 ``EX_DATAERR``: not a message, not a report, or larger than REBOUND_MAX_BODY_BYTES;
- 67 ``EX_NOUSER``: no such tenant, or ``--recipient`` is no return path of Rebound's;
- 64 ``EX_USAGE``: neither a tenant nor a recipient given; 78 ``EX_CONFIG``: a bad setting.

``--recipient`` is the envelope recipient (Postfix ``${recipient}``): it routes the message
to its tenant by the return paths configured (``rebound returnpath``), and a VERP or signed
return path is evidence, as over SMTP. With a TENANT too, the return path must be that
tenant's. One JSON line on stdout says what happened; problems are one line on stderr.
"""
from __future__ import annotations

import sys

EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL, EX_CONFIG = 0, 64, 65, 67, 75, 78


def run(tenant: str | None, recipient: str | None, stream=None) -> tuple[int, dict]:
    """(exit status, what to print) for one message read from ``stream`` (stdin's bytes)."""
    from webhook.settings import ConfigError, Settings

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return EX_CONFIG, {"error": "invalid_configuration", "message": str(exc)}
    stream = stream or sys.stdin.buffer
    raw = stream.read(settings.max_body_bytes + 1)
    if len(raw) > settings.max_body_bytes:
        return EX_DATAERR, {"error": "too_large",
                            "message": f"the message is larger than REBOUND_MAX_BODY_BYTES ({settings.max_body_bytes})"}
    if not raw.strip():
        return EX_DATAERR, {"error": "empty_message", "message": "nothing was read from standard input"}
    if tenant is None and recipient is None:
        return EX_USAGE, {"error": "usage", "message": "give a TENANT, a --recipient, or both"}
    try:
        return _take(settings, tenant, recipient, raw)
    except _unavailable() as exc:
        return EX_TEMPFAIL, {"error": "store_unavailable",
                             "message": f"the store is unavailable ({type(exc).__name__}); nothing was stored, "
                                        "deliver again later"}


def _unavailable() -> tuple[type[BaseException], ...]:
    from store import CredentialsUnreadable
    from webhook.embedded import EmbeddedRedisError
    from webhook.errors import STORE_UNAVAILABLE

    return (*STORE_UNAVAILABLE, CredentialsUnreadable, EmbeddedRedisError)


def _take(settings, tenant: str | None, recipient: str | None, raw: bytes) -> tuple[int, dict]:
    from webhook.embedded import EmbeddedRedis
    from webhook.intake.message import HELD, STORED, take
    from webhook.intake.routing import NotOurs, Router, UnknownAddress
    from webhook.intake.runtime import build_services

    embedded = EmbeddedRedis(settings.data_dir).start() if settings.redis_url is None else None
    try:
        svc = build_services(settings)
        delivery = None
        if recipient is not None:
            try:
                delivery = Router(svc.store).route(recipient)
            except (NotOurs, UnknownAddress):
                return EX_NOUSER, {"error": "unknown_recipient",
                                   "message": f"{recipient} is no return path of Rebound's (`rebound returnpath list`)"}
            if tenant is not None and delivery.tenant != tenant:
                return EX_NOUSER, {"error": "unknown_recipient",
                                   "message": f"{recipient} is a return path of another tenant than {tenant}"}
            tenant = delivery.tenant
        elif not svc.store.tenants.exists(tenant):
            return EX_NOUSER, {"error": "unknown_tenant", "message": f"no tenant {tenant!r}"}
        taken = take(svc, tenant, raw, via="pipe", delivery=delivery)
    finally:
        if embedded is not None:
            embedded.stop()
    out = {"tenant": tenant, "outcome": taken.outcome, "format": taken.format, "accepted": taken.accepted,
           "duplicates": taken.duplicates}
    if taken.outcome in (STORED, HELD):
        if taken.held:
            out.update(held=taken.held, reason=taken.reason)
        return EX_OK, out
    return EX_DATAERR, {**out, "error": taken.error or taken.outcome, "message": taken.reason}
