"""Every store test runs on one Redis server and on a Redis Cluster (issue 13)."""
from __future__ import annotations

from tests.topologies import redis_client, redis_url  # noqa: F401
