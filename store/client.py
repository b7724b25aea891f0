"""The storage client: one Redis server or a Redis Cluster, behind what the store needs of it.

``REBOUND_REDIS_URL`` names one server (``redis://``, ``rediss://``, ``unix://``) or a
cluster (``redis+cluster://[user:password@]host:port,host:port``, ``rediss+cluster://`` for
TLS: a few of its nodes; the client finds the others). A cluster has only database 0.

Most of the store talks to Redis through the client (``redis.Redis`` or
``redis.cluster.RedisCluster``) with single-key commands and same-slot pipelines, which both
route. What they do not share is here, behind :func:`storage` (one per client):

- :meth:`Storage.wires`: connections of one's own, one per server written to (the primary
  owning a key's slot on a cluster), for the read batch (store/reads.py) and the ingest
  stream (store/stream.py), which pack commands and read replies themselves;
- :meth:`Storage.run`: many commands in one round trip per server, where a command Redis
  refused because it no longer has the script (NOSCRIPT: a restart, SCRIPT FLUSH, a replica
  promoted) or because its slot moved is sent again, and only that one;
- :meth:`Storage.transaction`: MULTI/EXEC (with WATCH) over keys of one slot, refusing keys of
  two slots at once, on both topologies, so a cross-slot step fails in every test run;
- :meth:`Storage.load`: server-side scripts, loaded on every node, replicas included, so a
  replica promoted by a failover has them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import redis
from redis.crc import key_slot

from store.cluster_url import ClusterUrl, is_cluster_url, parse_cluster_url  # noqa: F401 - re-exported


class ReplicasBehind(redis.exceptions.ConnectionError):
    """Fewer replicas than asked acknowledged a write in time: it may not survive a failover,
    so it is not acknowledged (503: the client retries, and dedup makes that safe)."""


class CrossSlot(ValueError):
    """Keys of two hash slots in a step that must be atomic (a bug: see store/keys.py)."""


#: Connection class mixed into every connection connect() makes (tests set a checker that
#: fails any multi-key command spanning slots, tests/cluster.py); None: plain connections.
connection_mixin: type | None = None


def _connection_class(base: type) -> type:
    if connection_mixin is None or issubclass(base, connection_mixin):
        return base
    return type(f"{connection_mixin.__name__}{base.__name__}", (connection_mixin, base), {})


def connect(url: str, *, timeout: float = 2.0, **options):
    """A client that fails fast: a dead Redis must turn into a quick 503, not a hung worker.

    One immediate retry (no backoff) covers a pooled connection that went stale across a
    Redis restart; more would only delay the 503 the client is waiting for. On a cluster,
    the client follows MOVED/ASK redirections and refreshes its map of the slots itself;
    a failover in progress (CLUSTERDOWN, TRYAGAIN, a dead primary) is retried a few times
    within ~0.5 s, then answered 503 by the service. ``options``: more of the client's
    (``decode_responses``...).
    """
    from redis.backoff import ExponentialBackoff, NoBackoff
    from redis.retry import Retry

    if is_cluster_url(url):
        from redis.cluster import ClusterNode, RedisCluster

        parsed = parse_cluster_url(url)
        kwargs = {}
        if parsed.ssl:
            kwargs["ssl"] = True
            if "ssl_cert_reqs" in parsed.options:
                kwargs["ssl_cert_reqs"] = parsed.options["ssl_cert_reqs"]
            if "ssl_ca_certs" in parsed.options:
                kwargs["ssl_ca_certs"] = parsed.options["ssl_ca_certs"]
        if connection_mixin is not None:
            kwargs["connection_class"] = _connection_class(
                redis.SSLConnection if parsed.ssl else redis.Connection)
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in parsed.nodes],
                            username=parsed.username, password=parsed.password,
                            socket_timeout=timeout, socket_connect_timeout=timeout,
                            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 3), **kwargs, **options)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                  health_check_interval=30, retry=Retry(NoBackoff(), 1), **options)
    pool = client.connection_pool
    pool.connection_class = _connection_class(pool.connection_class)
    return client


def is_cluster(client) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def node_pools(client) -> list:
    """The connection pool of every node the client knows (the one server's, or every
    cluster node's, replicas included)."""
    if not is_cluster(client):
        return [client.connection_pool]
    return [client.get_redis_connection(node).connection_pool for node in client.get_nodes()]


def set_connection_class(client, wrap: Callable[[type], type]) -> None:
    """Give every node pool of ``client``, present and future, the connection class
    ``wrap(current)`` (store/deadline.py bounds calls this way)."""
    for pool in node_pools(client):
        pool.connection_class = wrap(pool.connection_class)
    if is_cluster(client):
        manager = client.nodes_manager
        base = manager.connection_kwargs.get("connection_class", redis.Connection)
        manager.connection_kwargs["connection_class"] = wrap(base)


# -- keys and slots -------------------------------------------------------------------------------

#: Commands whose keys are not simply their first argument: name -> function of the args giving them.
_KEYS_OF: dict[str, Callable[[tuple], Iterable]] = {
    "EVALSHA": lambda a: a[3:3 + int(a[2])], "EVAL": lambda a: a[3:3 + int(a[2])],
    "FCALL": lambda a: a[3:3 + int(a[2])], "FCALL_RO": lambda a: a[3:3 + int(a[2])],
    "MGET": lambda a: a[1:], "DEL": lambda a: a[1:], "UNLINK": lambda a: a[1:], "EXISTS": lambda a: a[1:],
    "TOUCH": lambda a: a[1:], "WATCH": lambda a: a[1:], "SUNION": lambda a: a[1:], "SINTER": lambda a: a[1:],
    "SDIFF": lambda a: a[1:], "SUNIONSTORE": lambda a: a[1:], "SINTERSTORE": lambda a: a[1:],
    "SDIFFSTORE": lambda a: a[1:], "PFCOUNT": lambda a: a[1:], "PFMERGE": lambda a: a[1:],
    "MSET": lambda a: a[1::2], "MSETNX": lambda a: a[1::2], "RENAME": lambda a: a[1:3],
    "RENAMENX": lambda a: a[1:3], "SMOVE": lambda a: a[1:3], "LMOVE": lambda a: a[1:3],
    "RPOPLPUSH": lambda a: a[1:3], "COPY": lambda a: a[1:3], "ZUNIONSTORE": lambda a: [a[1], *a[3:3 + int(a[2])]],
    "ZINTERSTORE": lambda a: [a[1], *a[3:3 + int(a[2])]],
}
#: Commands with no key (they go to any node, or are the transaction's own).
_KEYLESS = frozenset({"PING", "ECHO", "MULTI", "EXEC", "DISCARD", "UNWATCH", "INFO", "SCRIPT", "FUNCTION",
                      "WAIT", "CLUSTER", "CLIENT", "HELLO", "AUTH", "SELECT", "READONLY", "TIME", "DBSIZE",
                      "FLUSHDB", "FLUSHALL", "SCAN", "CONFIG", "MEMORY", "KEYS", "RANDOMKEY", "COMMAND"})


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def keys_of(command: tuple) -> list:
    """The keys a command touches, as the cluster routes it."""
    name = _text(command[0]).upper()
    if name in _KEYLESS:
        return []
    pick = _KEYS_OF.get(name)
    if pick is not None:
        return list(pick(command))
    return [command[1]] if len(command) > 1 else []


def slot_of(key) -> int:
    return key_slot(key if isinstance(key, bytes) else str(key).encode("utf-8"))


def one_slot(keys: Iterable) -> int | None:
    """The one slot of ``keys`` (None for none); CrossSlot when they span two."""
    slots = {slot_of(k) for k in keys}
    if len(slots) > 1:
        raise CrossSlot(f"keys of {len(slots)} hash slots in one step: {sorted(map(_text, keys))[:4]}")
    return next(iter(slots), None)


# -- the storage layer ----------------------------------------------------------------------------

def storage(client) -> Storage:
    """The storage layer of ``client`` (made once per client)."""
    found = getattr(client, "_rebound_storage", None)
    if found is None:
        found = ClusterStorage(client) if is_cluster(client) else SingleStorage(client)
        try:
            client._rebound_storage = found
        except AttributeError:                       # a client class with __slots__: rebuild each time
            pass
    return found


class Storage:
    """What differs between one server and a cluster (see the module's docstring)."""

    topology = "single"
    #: replicas that must have a server's writes before a write answers (WAIT); ms to wait
    default_acks = 0
    wait_ms = 300

    def __init__(self, client):
        self.r = client
        self.min_acks = self.default_acks
        self._lock = threading.Lock()

    def durability(self, min_acks: int | None, wait_ms: int | None) -> None:
        """REBOUND_REDIS_MIN_REPLICA_ACKS (None: 1 on a cluster, 0 on one server) and
        REBOUND_REDIS_WAIT_MS."""
        self.min_acks = self.default_acks if min_acks is None else min_acks
        if wait_ms is not None:
            self.wait_ms = wait_ms

    # where commands go
    def pool_for(self, command: tuple):
        """The connection pool of the server that runs ``command`` (its first key's primary)."""
        return self.r.connection_pool

    def primaries(self) -> list:
        """(name, pool) of every server written to: the one server, or each primary."""
        return [("single", self.r.connection_pool)]

    def describe(self) -> dict:
        """The topology, for /readyz."""
        return {"topology": self.topology}

    def memory(self) -> tuple[int, int]:
        """(used, maxmemory) bytes: the server's, or the sum over the primaries (each has
        its own budget; with equal budgets the sums give the same fill ratio)."""
        used = limit = 0
        for _, pool in self.primaries():
            info = redis.Redis(connection_pool=pool).info("memory")
            used += int(info.get("used_memory", 0))
            limit += int(info.get("maxmemory", 0))
        return used, limit

    def ready(self) -> None:
        """Raises a redis error unless the store can take traffic."""
        self.r.ping()

    # server-side code
    def load(self, source: str) -> str:
        """Load a script on every node (replicas included: a promoted one has it); its sha."""
        sha = None
        for pool in node_pools(self.r):
            sha = redis.Redis(connection_pool=pool).script_load(source)
        return sha

    # many commands in one round trip
    def run(self, commands: list[tuple], reload: Callable[[], None] | None = None, *, wait: bool = True) -> list:
        """Run ``commands`` (pipelined per server, not atomic together) and give their replies
        in order, a command's error in its place. Commands Redis refused because it no longer
        has the script (NOSCRIPT: ``reload()`` loads them), because the slot moved or a
        migration is in progress, or whose connection was lost, are sent again, and only
        those (the apply script answers a replay of its own operation as its first run).
        ``wait``: each server written to has its writes on :attr:`min_acks` replicas before
        this returns (:class:`ReplicasBehind` otherwise)."""
        replies: list = [None] * len(commands)
        todo = list(range(len(commands)))
        for attempt in range(RUN_ATTEMPTS):
            stream = CommandStream(self, wait=wait)
            stream.send([commands[i] for i in todo])
            for i, reply in zip(todo, stream.collect()):
                replies[i] = reply
            again = [i for i in todo if isinstance(replies[i], RESEND)]
            if not again or attempt == RUN_ATTEMPTS - 1:
                break
            if reload is not None and any(isinstance(replies[i], redis.exceptions.NoScriptError) for i in again):
                reload()
            if any(isinstance(replies[i], (*LOST, *REDIRECTED)) for i in again):
                self.refresh()
            todo = again
        return replies

    def refresh(self) -> None:
        """After a lost connection or a redirection: learn where the slots are now."""

    # durability
    def wait_command(self) -> tuple | None:
        """The WAIT sent after a server's writes, or None when no replica ack is asked for."""
        return ("WAIT", self.min_acks, self.wait_ms) if self.min_acks > 0 else None

    def sync_replicas(self, prefix: str) -> None:
        """Have what every primary holds so far on :attr:`min_acks` replicas: a marker write
        and WAIT on one connection per primary (WAIT waits for that connection's last write;
        replication is in order, so every earlier write of that server, whoever made it, is
        covered). For requests whose writes went through other clients (a policy, a key):
        webhook/replication.py calls this before a 2xx. ReplicasBehind when short."""
        if self.min_acks <= 0:
            return
        stream = CommandStream(self, wait=True)
        stream.send([("SET", key, "1") for key in self.marker_keys(prefix)])
        for reply in stream.collect():
            if isinstance(reply, Exception):
                raise reply

    def marker_keys(self, prefix: str) -> list[str]:
        """One key per primary for :meth:`sync_replicas`."""
        return [f"{prefix}:replicated"]

    def check_acks(self, reply, where: str) -> None:
        if isinstance(reply, Exception):
            raise reply
        if int(reply) < self.min_acks:
            raise ReplicasBehind(f"{where}: {reply} of {self.min_acks} replicas acknowledged the writes within "
                                 f"{self.wait_ms} ms (REBOUND_REDIS_MIN_REPLICA_ACKS, REBOUND_REDIS_WAIT_MS)")

    # one-slot transactions
    def transaction(self, *keys):
        """A MULTI/EXEC pipeline (``watch`` it first for check-and-set) for keys of one slot;
        CrossSlot when ``keys`` span two, on either topology."""
        one_slot(keys)
        return self.r.pipeline(transaction=True)


class SingleStorage(Storage):
    pass


class ClusterStorage(Storage):
    topology = "cluster"
    default_acks = 1

    def refresh(self) -> None:
        self.r.nodes_manager.initialize()

    def marker_keys(self, prefix: str) -> list[str]:
        """A key in a slot of each primary (found once per set of primaries)."""
        names = frozenset(node.name for node in self.r.get_primaries())
        cached = getattr(self, "_markers", None)
        if cached is not None and cached[0] == (prefix, names):
            return cached[1]
        found: dict[str, str] = {}
        for i in range(100_000):
            key = f"{prefix}:replicated:{{w{i}}}"
            found.setdefault(self.r.get_node_from_key(key).name, key)
            if len(found) == len(names):
                break
        self._markers = ((prefix, names), list(found.values()))
        return self._markers[1]

    def pool_for(self, command: tuple):
        keys = keys_of(command)
        node = self.r.get_node_from_key(keys[0]) if keys else self.r.get_random_primary_node()
        return self.r.get_redis_connection(node).connection_pool

    def primaries(self) -> list:
        return [(node.name, self.r.get_redis_connection(node).connection_pool) for node in self.r.get_primaries()]

    def describe(self) -> dict:
        """The topology as a node sees it now (not the client's cached map): masters serving
        slots, and their replicas that are not failing."""
        nodes = self.r.cluster_nodes()
        healthy = [n for n in nodes.values() if not ({"fail", "fail?", "handshake", "noaddr"} & set(
            n.get("flags", "").split(",")))]
        masters = [n for n in healthy if "master" in n.get("flags", "") and n.get("slots")]
        replicas = [n for n in healthy if "slave" in n.get("flags", "")]
        return {"topology": self.topology, "primaries": len(masters), "replicas": len(replicas)}

    def ready(self) -> None:
        info = self.r.cluster_info()
        state = info.get("cluster_state") if isinstance(info, dict) else None
        if state != "ok":
            raise redis.exceptions.ConnectionError(f"cluster_state is {state!r}, not ok")


# -- connections of one's own: the read batch and the ingest stream -------------------------------

#: Reply errors after which a command is sent again through the client, which follows the
#: cluster's redirections and refreshes its slot map (the command did not run).
REDIRECTED = (redis.exceptions.AskError, redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)
#: The connection failed: what was sent on it may or may not have run.
LOST = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
#: Replies after which a command is sent again.
RESEND = (*REDIRECTED, *LOST, redis.exceptions.NoScriptError)
#: Rounds of :meth:`Storage.run` (the first try and its resends).
RUN_ATTEMPTS = 3
#: ``done``: this thread's writes since it was last reset were waited for (webhook/replication.py).
replicated = threading.local()


def pack(conn, commands: list[tuple]) -> bytes:
    """``commands`` in the Redis protocol, packed by hiredis (in C; redis-py's own packer
    costs three to five times as much). A test connection's slot checker sees each one."""
    import hiredis

    check = getattr(conn, "check_command", None)
    if check is not None:
        for command in commands:
            check(command)
    return b"".join(map(hiredis.pack_command, commands))


def read_replies(conn, count: int) -> list:
    """``count`` replies in order, a command's error reply in its place (a ResponseError).
    Those already received are taken straight from the connection's hiredis reader (about a
    microsecond each instead of the several of a ``read_response`` call through redis-py's
    layers); whenever it has no complete reply yet, ``read_response`` reads the socket and
    keeps all of redis-py's handling (timeouts, errors, closed connections)."""
    reader = getattr(getattr(conn, "_parser", None), "_reader", None)
    gets = getattr(reader, "gets", None)
    out = []
    append = out.append
    for _ in range(count):
        reply = gets() if gets is not None else _NOTHING
        if type(reply) not in _READY:                # not buffered yet (a sentinel, False) or an error
            if isinstance(reply, redis.exceptions.ResponseError):
                append(reply)
                continue
            if isinstance(reply, Exception):         # hiredis' own error type: redis-py's class for it
                append(conn._parser.parse_error(str(reply)))
                continue
            try:
                reply = conn.read_response()
            except redis.exceptions.ResponseError as exc:
                reply = exc
        append(reply)
    return out


#: What replies are, once parsed (anything else from the hiredis reader means "not buffered yet").
_READY = (list, bytes, str, int, type(None), float)
_NOTHING = object()


class Wire:
    """One connection of one's own, taken from a node's pool: commands go out as they come,
    replies are read at the end. Any failure drops the connection (never reused half-read)."""

    def __init__(self, pool):
        self.pool = pool
        self.conn = None
        self.unread = 0
        self.broken = False

    def send(self, commands: list[tuple]) -> None:
        if self.broken or not commands:
            self.unread += len(commands)
            return
        try:
            first = self.conn is None
            if first:
                self.conn = _connection(self.pool)
            self.conn.send_packed_command([pack(self.conn, commands)], check_health=first)
        except LOST:
            self.drop()
            self.broken = True
        self.unread += len(commands)

    def read(self) -> list:
        """Every unread reply; on a lost connection, that error in place of each."""
        count, self.unread = self.unread, 0
        if self.broken:
            return [redis.exceptions.ConnectionError("connection lost")] * count
        try:
            replies = read_replies(self.conn, count)
        except LOST as exc:
            self.drop()
            self.broken = True
            return [exc] * count
        return replies

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn = None

    def release(self) -> None:
        if self.conn is not None:
            if self.unread or self.broken:
                self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn = None


def _connection(pool):
    try:
        return pool.get_connection()
    except TypeError:                                # redis-py < 6 wants a command name
        return pool.get_connection("GET")


class CommandStream:
    """Commands sent as they are built, each to its server (a wire per server written to),
    and every reply read at the end: one round trip per server for the whole batch, and
    Redis works while Python still builds.

    :meth:`finish` answers exactly as if nothing had failed: a command refused for a moved
    slot, a forgotten script (NOSCRIPT: ``reload()`` loads them) or a migration in progress
    is sent again, alone; one whose connection was lost is sent again too (the apply script
    answers a replay of its own operation with the effects it had: store/apply.lua's
    operation id), so counts stay those of a first try.
    """

    def __init__(self, layer: Storage, *, wait: bool = True):
        self.layer = layer
        self.wait = layer.wait_command() if wait else None
        self.wires: dict[int, Wire] = {}
        self.commands: list[tuple] = []
        self.placed: list[Wire] = []

    def send(self, commands: list[tuple]) -> None:
        groups: dict[int, list[tuple]] = {}
        for command in commands:
            pool = self.layer.pool_for(command)
            wire = self.wires.get(id(pool))
            if wire is None:
                wire = self.wires[id(pool)] = Wire(pool)
            groups.setdefault(id(pool), []).append(command)
            self.placed.append(wire)
            self.commands.append(command)
        for key, group in groups.items():
            self.wires[key].send(group)

    def collect(self) -> list:
        """Every reply as it came, in the order sent (errors in place, nothing resent); with
        ``wait``, a WAIT on each connection after its commands first (ReplicasBehind when a
        server's replicas fall short: none of the batch is acknowledged then)."""
        try:
            wires = list(self.wires.values())
            if self.wait is not None:
                for wire in wires:
                    wire.send([self.wait])
            per_wire = {}
            for wire in wires:
                got = wire.read()
                if self.wait is not None:
                    acks = got.pop()
                    if not isinstance(acks, LOST):
                        self.layer.check_acks(acks, f"{wire.pool.connection_kwargs.get('host', 'redis')}:"
                                                    f"{wire.pool.connection_kwargs.get('port', '')}")
                per_wire[id(wire)] = iter(got)
            if self.wait is not None and wires:
                replicated.done = True
            return [next(per_wire[id(w)]) for w in self.placed]
        finally:
            self.abort()

    def finish(self, reload: Callable[[], None] | None = None) -> list:
        """Every reply, in the order sent (a command's error reply in its place), after what
        had to be sent again was (:meth:`Storage.run`)."""
        replies = self.collect()
        again = [i for i, reply in enumerate(replies) if isinstance(reply, RESEND)]
        if again:
            if reload is not None and any(isinstance(replies[i], redis.exceptions.NoScriptError) for i in again):
                reload()
            if any(isinstance(replies[i], (*LOST, *REDIRECTED)) for i in again):
                self.layer.refresh()
            for i, reply in zip(again, self.layer.run([self.commands[i] for i in again], reload,
                                                      wait=self.wait is not None)):
                replies[i] = reply
        return replies

    def abort(self) -> None:
        """Give the connections up (unread ones are dropped, not reused)."""
        for wire in self.wires.values():
            wire.release()
        self.wires = {}
