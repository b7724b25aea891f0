"""A real Redis Cluster for the tests: 3 masters and 3 replicas, redis-server on free ports.

Each pytest-xdist worker starts its own (never a shared one: tests flush it), with
``redis-cli --cluster create --cluster-replicas 1`` and waits until every node says
``cluster_state:ok`` and every replica is in sync. The failover test freezes and kills nodes
of a cluster of its own (:func:`start_cluster` again), never the session's.

Also here: the slot checker that single-node runs put under the store's client
(:class:`SlotChecker`), so that a multi-key command across slots, which a cluster would
refuse, fails a test on one server too.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from store.client import CrossSlot, keys_of, one_slot
from tests.conftest import RedisServer

MASTERS, REPLICAS_PER_MASTER = 3, 1


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (so at most 55535)."""
    for _ in range(200):
        port = random.randint(20000, 55000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class ClusterNodeServer(RedisServer):
    """One redis-server in cluster mode."""

    def __init__(self, workdir: Path):
        super().__init__(workdir, "--cluster-enabled", "yes", "--cluster-config-file",
                         str(workdir / "nodes.conf"), "--cluster-node-timeout", "1000",
                         "--appendonly", "yes", "--appendfsync", "everysec")
        self.port = cluster_port()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class Cluster:
    def __init__(self, nodes: list[ClusterNodeServer]):
        self.nodes = nodes

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def roles(self) -> dict[int, str]:
        """port -> "master" or "slave", as each live node sees itself."""
        out = {}
        for node in self.nodes:
            if node.proc.poll() is None:
                try:
                    out[node.port] = node.client().info("replication")["role"]
                except redis.RedisError:
                    pass
        return out

    def node(self, port: int) -> ClusterNodeServer:
        return next(n for n in self.nodes if n.port == port)

    def replica_of(self, master: ClusterNodeServer) -> ClusterNodeServer:
        master_id = master.client().execute_command("CLUSTER", "MYID").decode()
        for node in self.nodes:
            if node is not master and node.proc.poll() is None:
                info = node.client().execute_command("CLUSTER", "NODES").decode()
                mine = next(line for line in info.splitlines() if "myself" in line)
                if mine.split()[3] == master_id:
                    return node
        raise LookupError("no replica")

    def wait_ok(self, timeout: float = 30) -> None:
        """Every live node: cluster_state ok, and every master's replicas connected and in sync."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._node_ok(n) for n in self.nodes if n.proc.poll() is None):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    @staticmethod
    def _node_ok(node: ClusterNodeServer) -> bool:
        client = node.client()
        if b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
            return False
        info = client.info("replication")
        if info["role"] == "master":
            online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                      and v.get("state") == "online"]
            return len(online) >= REPLICAS_PER_MASTER
        return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")

    def move_slot(self, slot: int, source: redis.Redis, target: redis.Redis, target_port: int) -> None:
        """Move a slot and its keys from ``source`` to ``target`` (masters) as redis-cli's
        resharding does: IMPORTING/MIGRATING, MIGRATE the keys, then SETSLOT NODE everywhere."""
        src_id, dst_id = (c.execute_command("CLUSTER", "MYID").decode() for c in (source, target))
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while keys := source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            source.execute_command("MIGRATE", "127.0.0.1", target_port, "", 0, 5000, "KEYS", *keys)
        for node in self.nodes:
            if node.proc.poll() is None and node.client().info("replication")["role"] == "master":
                node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)

    def flush(self) -> None:
        for node in self.nodes:
            if node.proc.poll() is None and node.client().info("replication")["role"] == "master":
                node.client().flushall()

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc and node.proc.poll() is None:
                try:
                    node.thaw()
                except ProcessLookupError:
                    pass
            node.stop()


def start_cluster(workdir: Path) -> Cluster:
    cluster = Cluster([])
    try:
        for i in range(MASTERS * (1 + REPLICAS_PER_MASTER)):       # each one stopped below if a later one fails
            cluster.nodes.append(ClusterNodeServer(workdir / f"node{i}"))
            cluster.nodes[-1].start()
        nodes = cluster.nodes
        subprocess.run([shutil.which("redis-cli"), "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in nodes), "--cluster-replicas", str(REPLICAS_PER_MASTER),
                        "--cluster-yes"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
        cluster.wait_ok()
    except BaseException:
        cluster.stop()
        raise
    return cluster


class SlotChecker:
    """Mixed into the single-node client's connections in tests: a multi-key command (or a
    MULTI/EXEC, or a WATCH) whose keys span two hash slots fails, as a cluster would refuse it."""

    _in_multi: list | None = None

    def check_command(self, command: tuple) -> None:
        name = (command[0].decode() if isinstance(command[0], bytes) else str(command[0])).upper()
        if name == "MULTI":
            self._in_multi = []
            return
        if name in ("EXEC", "DISCARD"):
            keys, self._in_multi = self._in_multi or [], None
            self._check(keys, "MULTI/EXEC")
            return
        keys = keys_of(command)
        if self._in_multi is not None:
            self._in_multi.extend(keys)
        self._check(keys, name)

    @staticmethod
    def _check(keys: list, what: str) -> None:
        try:
            one_slot(keys)
        except CrossSlot as exc:
            raise AssertionError(f"{what} spans hash slots; a Redis Cluster refuses it (CROSSSLOT): {exc}") from None

    def send_command(self, *args, **kwargs):
        self.check_command(args)
        return super().send_command(*args, **kwargs)

    def pack_commands(self, commands):
        for command in commands:
            self.check_command(command)
        return super().pack_commands(commands)
