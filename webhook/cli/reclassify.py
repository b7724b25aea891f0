"""``rebound reclassify``: re-run a tenant's stored history through another classifier."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import orjson

from webhook.cli.common import ACTOR, MOMENT, TENANT, load_settings, tenant_store


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

    settings = load_settings()
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
