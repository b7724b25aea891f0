"""``rebound serve``: the service."""
from __future__ import annotations

import click

from webhook.cli.common import load_settings


@click.command("serve")
@click.option("--host", help="address to bind (default REBOUND_HOST, 127.0.0.1)")
@click.option("--port", type=click.IntRange(1, 65535), help="port to bind (default REBOUND_PORT, 8000)")
@click.option("--workers", type=click.IntRange(1, 64), help="worker processes (default REBOUND_WORKERS, 2)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the service (gunicorn). Without REBOUND_REDIS_URL, starts and stops its own Redis."""
    from webhook.embedded import EmbeddedRedisError
    from webhook.serve import serve as run

    settings = load_settings(host=host, port=port, workers=workers)
    try:
        run(settings)
    except EmbeddedRedisError as exc:
        raise click.ClickException(str(exc)) from None
