"""`rebound review` (the analysts' queue: list, export labels), `rebound reclassify`
(re-run a tenant's history through another classifier) and `rebound raw show` (the payload
an event came from): registered by webhook/cli.py."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import orjson

from webhook.cli_params import MOMENT, TENANT
from webhook.store_cli import _cli, tenant_store

ACTOR = "cli"


@click.group("review")
def review() -> None:
    """The analysts' review queue: verdicts the classifier was unsure of (also GET /v1/review)."""


@review.command("list")
@click.argument("tenant", type=TENANT)
@click.option("--order", type=click.Choice(["oldest", "count"]), default="count", show_default=True)
@click.option("--review-reason", type=click.Choice(["unknown", "low-confidence", "conflict"]))
@click.option("--category", help="only items whose verdict has this category")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def review_list(tenant: str, order: str, review_reason: str | None, category: str | None, limit: int) -> None:
    """TENANT's open items, one JSON object per line (label them with POST /v1/review/ID)."""
    from store.review import Filters

    try:
        filters = Filters(review=review_reason, category=category)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--review-reason/--category") from None
    with tenant_store(tenant) as store:
        page = store.review.page(tenant, order=order, filters=filters, limit=limit)
        for item in page["items"]:
            sys.stdout.buffer.write(orjson.dumps(item) + b"\n")
        click.echo(orjson.dumps(store.review.stats(tenant)).decode(), err=True)


@review.command("export")
@click.option("--tenant", "tenants", type=TENANT, multiple=True,
              help="only this tenant's labels (repeatable; default: every tenant)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="file to write (default: stdout)")
def review_export(tenants: tuple[str, ...], output: Path | None) -> None:
    """Analysts' labels as training records (JSONL, classifier/training/README.md), for
    `rebound train --extra FILE`."""
    cli = _cli()
    count = 0
    with cli.open_store(cli.load_settings()) as store:
        known = {row["tenant"] for row in store.tenants.list()}
        unknown = sorted(set(tenants) - known)
        if unknown:
            raise click.BadParameter(f"no tenant(s) {', '.join(unknown)} (`rebound tenants list` lists them)",
                                     param_hint="--tenant")
        out = output.open("wb") if output else sys.stdout.buffer
        try:
            for tenant in tenants or sorted(known):
                for record in store.review.training_records(tenant):
                    out.write(orjson.dumps(record) + b"\n")
                    count += 1
        finally:
            if output:
                out.close()
    click.echo(f"exported {count} labels", err=True)


def _classifier(mode: str, model_ref: str | None, registry: Path):
    """The classifier to try, its model pinned for the whole run (an activation meanwhile
    must not mix two models' verdicts), and a label naming it."""
    from classifier.engine import Classifier
    from classifier.model.registry import ModelFileError, Registry, RegistryError

    if mode == "rules":
        if model_ref:
            raise click.UsageError("--model makes no sense with --mode rules")
        return Classifier(mode="rules"), "rules"
    try:
        loaded = Registry(registry).resolve(model_ref or "active")
    except (ModelFileError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    return Classifier(model=loaded, mode=mode), f"{mode}:{loaded.version}"


@click.command("reclassify")
@click.argument("tenant", type=TENANT)
@click.option("--model", "model_ref", help="version, 'active', 'default' or a .skops file [default: the active model]")
@click.option("--mode", type=click.Choice(["combined", "rules", "model"]),
              help="rules and model, rules only, model only [default: REBOUND_CLASSIFIER]")
@click.option("--registry", type=click.Path(file_okay=False, path_type=Path),
              help="model registry [default: REBOUND_MODEL_DIR, i.e. the service's]")
@click.option("--since", type=MOMENT, help="only re-run events at or after this time (ISO 8601); older ones keep their verdicts")
@click.option("--apply", "do_apply", is_flag=True,
              help="apply the changes (default: only show them); audited as 'reclassify'")
def reclassify(tenant: str, model_ref: str | None, mode: str | None, registry: Path | None, since: int | None,
               do_apply: bool) -> None:
    """Re-run TENANT's stored history through another model or mode, and show which
    suppressions that adds or lifts, per address (old verdict -> new verdict, effect); with
    --apply, make those changes. Only bounce-derived suppressions change, never one a person
    or an import set; a suppression older than an address's retained history is kept.

    One JSON object per address whose verdicts change, then a summary line; progress on stderr.
    """
    from store.reclassify import Reclassification
    from store.records import iso

    cli = _cli()
    settings = cli.load_settings()
    classifier, label = _classifier(mode or settings.classifier, model_ref,
                                    registry or settings.effective_model_dir)
    out = sys.stdout.buffer
    started = last = time.monotonic()

    def progress(t) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 2:
            last = now
            click.echo(f"reclassify: {t.addresses} addresses, {t.events} events re-run, {t.changed_events} "
                       f"verdicts changed, {t.add} to add, {t.lift} to lift ({now - started:.0f}s)", err=True)

    with tenant_store(tenant) as store:
        job = Reclassification(store, tenant, classifier.classify_many, since=since, label=label, actor=ACTOR)
        for change in job.run(apply=do_apply, progress=progress):
            out.write(orjson.dumps(change.to_dict()) + b"\n")
            out.flush()
        t = job.totals
    summary = {"tenant": tenant, "classifier": label, "since": iso(since), "applied": do_apply,
               "addresses": t.addresses, "events": t.events, "changed_events": t.changed_events,
               "changed_addresses": t.changed_addresses, "add": t.add, "lift": t.lift, "kept": t.kept}
    if do_apply:
        summary.update(added=t.applied_add, lifted=t.applied_lift)
    out.write(orjson.dumps({"summary": summary}) + b"\n")
    out.flush()
    verb = "applied" if do_apply else "dry run, nothing changed (add --apply)"
    click.echo(f"reclassify: {t.addresses} addresses, {t.events} events re-run with {label}; {t.changed_events} "
               f"verdicts changed at {t.changed_addresses} addresses; {t.add} suppressions to add, {t.lift} to "
               f"lift, {t.kept} kept; {verb}", err=True)



@click.group("raw")
def raw() -> None:
    """Raw payloads kept for failures, complaints and unsubscribes (also GET /v1/raw/REF)."""


@raw.command("show")
@click.argument("ref")
@click.option("--tenant", required=True, help="the tenant whose payload it is")
@click.option("--body", is_flag=True, help="write the payload's bytes alone (e.g. to `rebound classify -`)")
def raw_show(ref: str, tenant: str, body: bool) -> None:
    """The raw payload REF (a raw_ref of a history entry or a review example) as one JSON
    object with what is known of it; --body: the stored bytes alone."""
    with tenant_store(tenant) as store:
        found = store.raw.body(tenant, ref) if body else store.raw.get(tenant, ref)
    if found is None:
        raise click.ClickException(f"{tenant!r} has no raw payload {ref!r} (unknown, or older than the retention)")
    sys.stdout.buffer.write(found if body else orjson.dumps(found) + b"\n")


COMMANDS = [review, reclassify, raw]
