"""What a request handler needs, built once per process by the app factory."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from store import Store, connect
from webhook.fetch import Fetcher
from webhook.settings import Settings

if TYPE_CHECKING:                       # imported where it is built: `rebound tenants list` needs none of it
    from classifier.engine import Classifier

log = logging.getLogger(__name__)
DAY = 86400
#: A revoked API key stops working within this many seconds (README, "API keys").
KEY_CACHE_SECONDS = 5


@dataclass
class Services:
    settings: Settings
    store: Store
    classifier: Classifier
    #: outgoing HTTPS (SNS certificates and confirmations); tests point it at local servers
    fetcher: Fetcher = field(default_factory=Fetcher)
    #: SNS signing certificates, fetched once per URL and kept (see webhook.esp.sns)
    sns_certificates: object = None
    #: request rates and failed authentications (webhook.ratelimit)
    limits: object = None
    #: Scaleway Topics and Events certificates, per region (see webhook.esp.scaleway)
    scaleway_certificates: object = None

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        from webhook.esp.scaleway import RegionalCertificates
        from webhook.esp.sns import SnsCertificates
        from webhook.ratelimit import RateLimits

        store = build_store(settings)
        return cls(settings, store, make_classifier(settings), Fetcher(timeout=settings.fetch_timeout),
                   SnsCertificates(), RateLimits(store.r, settings), RegionalCertificates())


def make_classifier(settings: Settings) -> Classifier:
    """The classifier the settings ask for (``REBOUND_CLASSIFIER``), following the active
    model of the registry at ``REBOUND_MODEL_DIR``, with the model loaded now: the first
    request should not wait a second or two for it. A model that cannot be loaded stops a
    model-only service at start; with the rules on, the rules decide until it can
    (``classifier.engine.Classifier`` logs it)."""
    from classifier.engine import build as build_classifier

    classifier = build_classifier(settings.classifier, settings.effective_model_dir,
                                  check_every=settings.model_check_seconds)
    if settings.classifier != "rules":
        try:
            version = classifier.model_version
        except Exception as exc:                    # noqa: BLE001 - reported, and fatal only without rules
            if settings.classifier == "model":
                raise
            log.error("classifier model unavailable at start: %s: %s", type(exc).__name__, exc)
        else:
            log.info("classifier ready", extra={"mode": settings.classifier, "model": version})
    return classifier


def build_store(settings: Settings) -> Store:
    """The store as the settings describe it (shared by the app and the CLI)."""
    from store.deadline import bounded
    from webhook.secrets import secret_keys

    from store.client import storage

    client = bounded(connect(settings.effective_redis_url, timeout=settings.redis_timeout))
    storage(client).durability(settings.redis_min_replica_acks, settings.redis_wait_ms)
    store = Store(client, prefix=settings.key_prefix, dedup_seconds=int(settings.dedup_days * DAY),
                 history_max=settings.history_max, raw_seconds=int(settings.raw_retention_days * DAY),
                 raw_max_bytes=settings.raw_max_bytes, secret_keys=lambda: secret_keys(settings),
                 history_seconds=int(settings.history_days * DAY), dns=dns_options(settings),
                 complaint_tenants=settings.complaint_tenants, key_cache_seconds=KEY_CACHE_SECONDS,
                 review_max=settings.review_max)
    store.raw.quota = settings.raw_quota_bytes
    return store


def dns_options(settings: Settings) -> dict | None:
    """The store's DNS checker configuration, or None when the checks are off."""
    if not settings.dns_checks:
        return None
    from store.dns import parse_nameservers

    return {"nameservers": parse_nameservers(settings.dns_nameservers), "timeout": settings.dns_timeout,
            "positive_ttl": settings.dns_cache_seconds, "negative_ttl": settings.dns_negative_cache_seconds,
            "concurrency": settings.dns_concurrency, "canary": settings.dns_canary or None}


def services() -> Services:
    from flask import (
        current_app,  # here, so that the CLI can build a store without Flask
    )

    return current_app.extensions["rebound"]
