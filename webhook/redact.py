"""How secrets appear wherever a person or a log can see them: as ``***``.

Secrets are write-only: an error message, a log line, a CLI answer or an API body may say
that a secret is set, never what it is. URLs are the sneaky case, because they carry a
password inside a value that is otherwise worth showing (which Redis a command could not
reach: ``redis://:***@redis.internal:6379/0``).
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"
#: query parameters that carry a secret (redis-py reads ``?password=``)
SECRET_PARAMETERS = frozenset({"password", "token", "secret", "api_key"})


def url(value: str | None) -> str | None:
    """``value`` with the password of its user part and secret query parameters masked.

    A user part without a colon (``redis://secret@host``) is masked whole: it is often a
    password written without the empty user name. What does not parse as a URL is masked
    whole too, since nothing tells where a password would be."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    query = "&".join(_masked_parameter(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _masked_parameter(pair: str) -> str:
    name, eq, _value = pair.partition("=")
    return f"{name}={MASK}" if eq and name.lower() in SECRET_PARAMETERS else pair
