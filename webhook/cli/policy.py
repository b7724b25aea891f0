"""``rebound policy``: show and change a tenant's policy."""
from __future__ import annotations

import click
import orjson

from webhook.cli.common import TENANT, emit_indented, tenant_store


@click.group("policy")
def policy() -> None:
    """Show and change a tenant's policy (overrides on top of store/policy_defaults.json)."""


@policy.command("show")
@click.argument("tenant", type=TENANT)
@click.option("--overrides", "only_overrides", is_flag=True, help="only the tenant's overrides")
def policy_show(tenant: str, only_overrides: bool) -> None:
    """Print the effective policy of TENANT as JSON."""
    with tenant_store(tenant) as store:
        out = store.policy_overrides(tenant) if only_overrides else store.policy(tenant).model_dump(mode="json")
    emit_indented(out)


def _value(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _save(store, tenant: str, change) -> None:
    """Apply ``change`` to the overrides atomically (Store.update_policy_overrides)."""
    from pydantic import ValidationError

    from store import SharingNotAllowed

    try:
        store.update_policy_overrides(tenant, change)
    except SharingNotAllowed as exc:
        raise click.ClickException(f"the policy was not changed: {exc}") from None
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(policy)'}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors(include_url=False)]
        raise click.UsageError("the policy was not changed: " + "; ".join(problems)) from None


@policy.command("set")
@click.argument("tenant", type=TENANT)
@click.argument("assignments", nargs=-1)
@click.option("--file", "file", type=click.File("rb"), help="a JSON object to merge into the overrides")
def policy_set(tenant: str, assignments: tuple[str, ...], file) -> None:
    """Set overrides: PATH=VALUE, VALUE in JSON (a bare word is a string). Examples:

    \b
      rebound policy set acme frequency_cap.per_month.marketing=8
      rebound policy set acme sharing.give=true sharing.receive=true
      rebound policy set acme 'streams.role_address=["marketing","transactional"]'
      rebound policy set acme bounces.account_disabled.soft_after=3
    """
    if not assignments and file is None:
        raise click.UsageError("give PATH=VALUE assignments or --file")
    from store.policy import merge_patch, set_path

    doc = None
    if file is not None:
        try:
            doc = orjson.loads(file.read())
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"--file is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise click.ClickException("--file must hold a JSON object")
    pairs = []
    for a in assignments:
        path, eq, value = a.partition("=")
        if not eq or not path:
            raise click.UsageError(f"{a!r} is not PATH=VALUE")
        pairs.append((path.strip(), _value(value)))

    def change(overrides: dict) -> dict:
        if doc is not None:
            overrides = merge_patch(overrides, doc)
        for path, value in pairs:
            overrides = set_path(overrides, path, value)
        return overrides

    with tenant_store(tenant) as store:
        _save(store, tenant, change)
        click.echo(orjson.dumps(store.policy_overrides(tenant)).decode())


@policy.command("unset")
@click.argument("tenant", type=TENANT)
@click.argument("paths", nargs=-1, required=True)
def policy_unset(tenant: str, paths: tuple[str, ...]) -> None:
    """Remove overrides (back to the defaults), e.g. `rebound policy unset acme sharing`."""
    from store.policy import unset_path

    def change(overrides: dict) -> dict:
        missing = []
        for p in paths:
            rest = unset_path(overrides, p)
            if rest is None:
                missing.append(p)
            else:
                overrides = rest
        if missing:
            raise click.ClickException(f"not overridden: {', '.join(missing)}")
        return overrides

    with tenant_store(tenant) as store:
        _save(store, tenant, change)
        click.echo(orjson.dumps(store.policy_overrides(tenant)).decode())
