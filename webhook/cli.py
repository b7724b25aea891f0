"""The ``rebound`` command: one click group gathering the commands of every layer."""
from __future__ import annotations

import contextlib
import sys

import click
import orjson

from classifier import cli as classifier_cli
from classifier.model import cli as model_cli
from webhook import providers_cli, redact, review_cli, store_cli
from webhook.cli_params import TENANT, TENANT_NAME, OneLineErrors
from webhook.settings import ConfigError, Settings


def load_settings(**overrides) -> Settings:
    try:
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def open_store(settings: Settings):
    """A Store on the configured Redis, or on the embedded one (started for the command
    if `rebound serve` is not running)."""
    import redis

    from webhook.embedded import EmbeddedRedis, EmbeddedRedisError
    from webhook.services import build_store

    embedded = None
    try:
        if settings.redis_url is None:
            embedded = EmbeddedRedis(settings.data_dir).start()
        store = build_store(settings)
        store.ping()
        yield store
    except EmbeddedRedisError as exc:
        raise click.ClickException(str(exc)) from None
    except redis.ConnectionError as exc:
        raise click.ClickException(f"cannot reach Redis at {redact.url(settings.effective_redis_url)}: {exc}") from None
    finally:
        if embedded is not None:
            embedded.stop()


def emit(obj) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.flush()


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Rebound: may this email be sent, and if not, why?"""


@main.command()
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


@main.group()
def tenants() -> None:
    """Create and list tenants, manage their API keys."""


@tenants.command("create")
@click.argument("name", type=TENANT_NAME)
def tenants_create(name: str) -> None:
    """Create a tenant; prints {"tenant": ID, "api_key": KEY} (the key is shown only here)."""
    from store import TenantError

    with open_store(load_settings()) as store:
        try:
            tenant, key = store.tenants.create(name)
        except TenantError as exc:
            raise click.ClickException(str(exc)) from None
    emit({"tenant": tenant, "api_key": key})


@tenants.command("add-key")
@click.argument("tenant", type=TENANT)
def tenants_add_key(tenant: str) -> None:
    """Issue another API key for TENANT (for rotation; revoke the old one after)."""
    with store_cli.tenant_store(tenant) as store:
        emit({"tenant": tenant, "api_key": store.tenants.add_key(tenant)})


@tenants.command("revoke-key")
@click.argument("api_key")
def tenants_revoke_key(api_key: str) -> None:
    """Revoke an API key."""
    with open_store(load_settings()) as store:
        if not store.tenants.revoke_key(api_key):
            raise click.ClickException("no such API key")
    emit({"revoked": True})


@tenants.command("list")
def tenants_list() -> None:
    """List tenants (never their keys)."""
    with open_store(load_settings()) as store:
        for row in store.tenants.list():
            emit(row)


@main.command()
@click.argument("tenant", type=TENANT)
@click.argument("address", nargs=-1, required=True)
@click.option("--stream", type=click.Choice(["marketing", "transactional"]))
@click.option("--subscription", callback=store_cli.subscription_param)
def check(tenant: str, address: tuple[str, ...], stream: str | None, subscription: str | None) -> None:
    """May TENANT send to ADDRESS...? One JSON answer per address (an address that is not one
    is answered, as invalid_syntax)."""
    with store_cli.tenant_store(tenant) as store:
        for answer in store.check(tenant, list(address), stream=stream, subscription=subscription):
            emit(answer.to_dict())


@main.command("config")
@click.option("--markdown", is_flag=True, help="print the table for the README")
def config(markdown: bool) -> None:
    """Show every REBOUND_* setting, its default and what it does (and validate the current ones)."""
    load_settings()
    rows = Settings.describe()
    if markdown:
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for name, default, text in rows:
            click.echo(f"| `{name}` | `{default}` | {text} |")
        return
    for name, default, text in rows:
        click.echo(f"{name:28} {default:12} {text}")


for _command in classifier_cli.COMMANDS + model_cli.COMMANDS + store_cli.COMMANDS + review_cli.COMMANDS:
    main.add_command(_command)
main.add_command(providers_cli.providers)

if __name__ == "__main__":
    main()
