"""Event times for tests, relative to the moment the test runs.

The store judges events by windows that end now (7 days for mailbox_full, 180 days of
history, 30 days of raw payloads...), so a fixed date in a test starts failing once the
calendar moves past its window. Tests spell times with ``ago`` instead.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

# one instant per test session, whole seconds (the API answers in whole seconds)
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """ISO 8601 UTC (``...Z``) of a time this far before the session started."""
    t = NOW - timedelta(days=days, hours=hours, minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
