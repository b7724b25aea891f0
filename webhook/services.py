"""What a request handler needs, built once per process by the app factory."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from classifier import Classifier
from store import Store, connect
from webhook.fetch import Fetcher
from webhook.settings import Settings

DAY = 86400


@dataclass
class Services:
    settings: Settings
    store: Store
    classifier: Classifier
    #: outgoing HTTPS (SNS certificates and confirmations); tests point it at local servers
    fetcher: Fetcher = field(default_factory=Fetcher)
    #: SNS signing certificates, fetched once per URL and kept (see webhook.esp.sns)
    sns_certificates: object = None

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        from webhook.esp.sns import SnsCertificates
        from webhook.secrets import secret_keys

        client = connect(settings.effective_redis_url, timeout=settings.redis_timeout)
        store = Store(client, prefix=settings.key_prefix, dedup_seconds=int(settings.dedup_days * DAY),
                      history_max=settings.history_max, raw_seconds=int(settings.raw_retention_days * DAY),
                      raw_max_bytes=settings.raw_max_bytes, secret_keys=lambda: secret_keys(settings))
        return cls(settings, store, Classifier(), Fetcher(timeout=settings.fetch_timeout), SnsCertificates())


def services() -> Services:
    return current_app.extensions["rebound"]
