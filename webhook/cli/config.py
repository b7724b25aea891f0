"""``rebound config``: every setting, its default and meaning."""
from __future__ import annotations

import click

from webhook.cli.common import load_settings


@click.command("config")
@click.option("--markdown", is_flag=True, help="print the table for the README")
def config(markdown: bool) -> None:
    """Show every REBOUND_* setting, its default and what it does (and validate the current ones)."""
    from webhook import redact
    from webhook.settings import Settings

    settings = load_settings()
    rows = Settings.describe()
    if markdown:
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for name, default, text in rows:
            click.echo(f"| `{name}` | `{default}` | {text} |")
        return
    redis = (redact.url(settings.redis_url) if settings.redis_url
             else f"embedded, {settings.effective_redis_url} (started by `rebound serve` or a command)")
    click.echo(f"in use:\n  data directory  {settings.data_dir.resolve()}\n  Redis           {redis}\n"
               f"  models          {settings.effective_model_dir.resolve()}\n")
    for name, default, text in rows:
        click.echo(f"{name:28} {default:12} {text}")
