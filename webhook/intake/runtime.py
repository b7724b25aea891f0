"""The services an intake runs with outside a web request: the store and the classifier,
without Flask (the pipe must start fast; the SMTP listener and the mailbox poller run in
their own process)."""
from __future__ import annotations

from webhook.services import Services, build_store
from webhook.settings import Settings


def build_services(settings: Settings, *, load_model: bool = False) -> Services:
    """``load_model``: load the classifier's model now (a long-running intake: its first
    message should not wait for it); a one-message pipe leaves it to the classifier."""
    from classifier.engine import build as build_classifier

    if load_model:
        from webhook.services import make_classifier

        classifier = make_classifier(settings)
    else:
        classifier = build_classifier(settings.classifier, settings.effective_model_dir,
                                      check_every=settings.model_check_seconds)
    return Services(settings, build_store(settings), classifier)
