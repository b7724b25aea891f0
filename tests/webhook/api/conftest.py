"""Every API test runs on one Redis server and on a Redis Cluster (issue 13).

Autouse, so that a test asking for its client fixture by name at run time
(``request.getfixturevalue``) is parametrised too."""
from __future__ import annotations

import pytest

from tests.topologies import redis_client, redis_url  # noqa: F401


@pytest.fixture(autouse=True)
def _on_both_topologies(topology_url):
    """Makes each test of this directory run once per topology (see tests/topologies.py)."""
