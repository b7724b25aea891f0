"""Rebound's HTTP layer: the app factory, the API, one module per ESP, and the CLI."""


def create_app(settings=None):
    """Build the Flask app (imported lazily so the CLI starts without loading Flask)."""
    from webhook.app import create_app as _create_app

    return _create_app(settings)
