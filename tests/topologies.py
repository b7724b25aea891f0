"""Fixtures that run a test module on one Redis server and on a Redis Cluster (issue 13).

Imported by a module (or a directory's conftest.py) that should run on both topologies:
``from tests.topologies import redis_client, redis_url  # noqa: F401``. They override the
session's single-server ``redis_url`` and ``redis_client`` (tests/conftest.py) for it.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def redis_url(topology_url) -> str:
    """An empty store: one server, then a 3-master/3-replica cluster (tests/cluster.py)."""
    return topology_url


@pytest.fixture
def redis_client(redis_url):
    """A client of that store as the service builds it (store.client.connect)."""
    from store import connect

    client = connect(redis_url)
    yield client
    client.close()
