"""The Redis Cluster URL of REBOUND_REDIS_URL, parsed without importing the Redis client
(`rebound config` validates the settings and must start at once: tests/webhook/cli/test_startup.py)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    ssl: bool
    options: dict


def parse_cluster_url(url: str) -> ClusterUrl:
    """``redis+cluster://[user:password@]host:port[,host:port...][/0][?option=value]``.

    Raises ValueError, with what is wrong, for anything else (a database other than 0 among
    them: Redis Cluster has only database 0, and silently using 0 would mix two
    deployments' keys)."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    rest, _, path = rest.partition("/")
    userinfo, _, hosts = rest.rpartition("@")
    username = password = None
    if userinfo:
        user, sep, pw = userinfo.partition(":")
        username, password = (unquote(user) or None), (unquote(pw) if sep else None)
    db = path.strip("/")
    if db not in ("", "0"):
        raise ValueError(f"Redis Cluster has only database 0; remove /{db} from the URL "
                         "(give each deployment its own REBOUND_KEY_PREFIX instead)")
    nodes = []
    for part in hosts.split(","):
        host, sep, port = part.strip().rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"each cluster node must be host:port, got {part.strip()!r}")
        nodes.append((host, int(port)))
    options = dict(parse_qsl(query))
    if options.pop("db", "0") != "0":
        raise ValueError("Redis Cluster has only database 0; remove db= from the URL")
    return ClusterUrl(tuple(nodes), username, password, scheme == "rediss+cluster", options)
