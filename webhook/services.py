"""What a request handler needs, built once per process by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from classifier import Classifier
from store import Store, connect
from webhook.settings import Settings

DAY = 86400


@dataclass
class Services:
    settings: Settings
    store: Store
    classifier: Classifier

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        client = connect(settings.effective_redis_url, timeout=settings.redis_timeout)
        store = Store(client, prefix=settings.key_prefix, dedup_seconds=int(settings.dedup_days * DAY),
                      history_max=settings.history_max, raw_seconds=int(settings.raw_retention_days * DAY),
                      raw_max_bytes=settings.raw_max_bytes)
        return cls(settings, store, Classifier())


def services() -> Services:
    return current_app.extensions["rebound"]
