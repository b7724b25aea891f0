"""store/reads.py: many reads in one round trip answer exactly what the commands one by one
answer, on one server and on a cluster (where they go to several nodes)."""
from __future__ import annotations

import pytest
import redis

from store.client import connect, is_cluster
from store.reads import SEND_CHUNK, ReadBatch


def _fill(client: redis.Redis) -> list[str]:
    fields = [f"user{i}@example.org" for i in range(6000)]
    client.hset("h:1", mapping={f: ("x" * (i % 300)).encode() for i, f in enumerate(fields[::3])})
    client.set("{k}:1", "v")
    client.hset("h:2", mapping={"a": "1", "b": "2"})
    return fields


def _queue(batch, fields: list[str]) -> None:
    batch.get("{k}:1").get("{k}:none").mget(["{k}:1", "{k}:none"]).hkeys("h:2").echo("e")
    for start in range(0, len(fields), 50):             # ~120 commands, well over one send chunk
        batch.hmget("h:1", fields[start:start + 50])
        batch.hmget("h:2", ["a", "b", "c"])               # another key, on another node of a cluster


def _pipeline(client, fields):
    """The replies of the same commands, sent one by one."""
    batch = ReadBatch(client)
    _queue(batch, fields)
    keyless = {"target_nodes": "random"} if is_cluster(client) else {}      # ECHO: any node of a cluster
    return [client.execute_command(*command, **(keyless if command[0] == "ECHO" else {}))
            for command in batch.commands]


@pytest.mark.parametrize("decode", [False, True])
def test_the_replies_are_the_pipelines(redis_url, decode):
    client = connect(redis_url, decode_responses=decode)
    fields = _fill(client)
    batch = ReadBatch(client)
    _queue(batch, fields)
    packed = sum(len(f) for f in fields) + 6000 * 10
    assert packed > 2 * SEND_CHUNK                   # sent in several pieces, replies over several reads
    assert batch.execute() == _pipeline(client, fields)


def test_an_error_reply_raises_and_leaves_no_stale_replies(redis_url):
    client = connect(redis_url)
    fields = _fill(client)
    client.set("h:str", "not a hash")
    batch = ReadBatch(client)
    batch.get("{k}:1").hmget("h:str", ["a"]).get("{k}:1")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        batch.execute()
    # the pooled connection that held the unread replies was dropped, not reused half-read
    again = ReadBatch(client)
    _queue(again, fields)
    assert again.execute() == _pipeline(client, fields)
