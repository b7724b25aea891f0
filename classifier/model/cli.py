"""Analysts' commands for the model: ``rebound train``, ``rebound evaluate``, ``rebound models``.

The registry directory comes from ``--registry``, else ``REBOUND_MODEL_DIR``, else ``models``
under ``REBOUND_DATA_DIR`` (``$XDG_DATA_HOME/rebound/models`` by default): the same directory the service reads.
"""
from __future__ import annotations

import time
from pathlib import Path

import click
import orjson

from classifier.model.location import (
    DEFAULT_DIR, DEFAULT_HOLDOUT, DEFAULT_SEED, DEFAULT_VERSION, EXTRA_WEIGHT, METADATA_FILE, MODEL_FILE, default_root,
)
from classifier.taxonomy import CATEGORIES, REASONS

# scikit-learn, scipy and skops are imported by the commands that use them (below), not
# here: `rebound --help` lists these commands and must not wait for them.

registry_option = click.option(
    "--registry", envvar="REBOUND_MODEL_DIR", default=lambda: str(default_root()),
    show_default="models under REBOUND_DATA_DIR (default $XDG_DATA_HOME/rebound)",
    type=click.Path(file_okay=False, path_type=Path),
    help="model registry directory (env REBOUND_MODEL_DIR)")


def _progress():
    start = time.perf_counter()

    def say(msg: str) -> None:
        click.echo(f"[{time.perf_counter() - start:6.1f}s] {msg}", err=True)
    return say


@click.command("train")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="directory of training JSONL files [default: the corpus in the package]")
@click.option("--extra", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="more labelled JSONL files, e.g. exported analyst labels (repeatable)")
@click.option("--extra-weight", type=click.FloatRange(min=0, min_open=True), default=EXTRA_WEIGHT,
              show_default=True, help="weight of each --extra record that states none")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option("--holdout", type=click.FloatRange(0, 0.9), default=DEFAULT_HOLDOUT, show_default=True,
              help="share of templates held out to compute the metrics (0: no metrics)")
@registry_option
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="write model.skops and metadata.json to this directory instead of the registry "
                   f"(the packaged default model is built with --output {DEFAULT_DIR.relative_to(DEFAULT_DIR.parents[2])})")
@click.option("--activate", is_flag=True, help="make the new model the active one")
def train_cmd(data_dir, extra, extra_weight, seed, holdout, registry, output, activate):
    """Train a model on the project's corpus (plus extra labelled files) and store it."""
    from classifier.model.registry import Registry, save_model
    from classifier.model.training import train
    from classifier.training.dataset import DATA_DIR, DatasetError, data_files

    if output and activate:
        raise click.UsageError("--activate applies to the registry, not to --output")
    say = _progress()
    try:
        model, meta = train(data_files(data_dir or DATA_DIR), seed=seed, holdout=holdout,
                            progress=say, extra=extra, extra_weight=extra_weight)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if output:
        output.mkdir(parents=True, exist_ok=True)
        save_model(model, output / MODEL_FILE)
        (output / METADATA_FILE).write_text(
            orjson.dumps({**meta, "version": "default"}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            .decode() + "\n", encoding="utf-8")
        say(f"wrote {output / MODEL_FILE}")
        where = str(output)
    else:
        version = Registry(registry).save(model, meta, activate=activate)
        say(f"saved version {version} in {registry}" + (" (active)" if activate else ""))
        where = version
    m = meta["metrics"] or {}
    click.echo(orjson.dumps({"model": where, "records": meta["n_records"],
                             "fingerprint": meta["training_data_fingerprint"],
                             "reason_accuracy": m.get("reason_accuracy"),
                             "category_accuracy": m.get("category_accuracy")}).decode())


def _resolve(reg, ref: str | None):
    from classifier.model.registry import ModelFileError, RegistryError

    try:
        return reg.resolve(ref)
    except (ModelFileError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None


def _fmt(d: dict | None) -> str:
    if not d:
        return f"{'-':>6} {'-':>6} {'-':>6}"
    return f"{d['precision']:6.3f} {d['recall']:6.3f} {d['f1']:6.3f}"


def _table(title: str, labels, results: list[tuple[str, dict]], key: str) -> None:
    head = f"{title:<18}{'n':>6}  " + "  ".join(f"{'P':>6} {'R':>6} {'F1':>6}" for _ in results)
    click.echo(head)
    for lab in labels:
        rows = [r[key].get(lab) for _, r in results]
        if not any(rows):
            continue
        n = next(r["support"] for r in rows if r)
        click.echo(f"{lab:<18}{n:>6}  " + "  ".join(_fmt(r) for r in rows))


@click.command("evaluate")
@click.option("--model", "refs", multiple=True,
              help="version, 'active', 'default' or a .skops file; twice to compare side by side "
                   "[default: active]")
@click.option("--data", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="labelled JSONL to score on (repeatable). Without it, each model's recipe "
                   "(parameters, seed) is refit on the training split of the packaged corpus "
                   "and scored on its held-out split")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path),
              help="write a confusion-matrix PNG (one per model: NAME-1.png, NAME-2.png)")
@click.option("--level", type=click.Choice(["reason", "category"]), default="reason", show_default=True,
              help="level of the confusion matrix")
@click.option("--json", "as_json", is_flag=True, help="print the scores as JSON")
@click.option("--sets", "on_sets", is_flag=True,
              help="score the rules, the model and both combined on every labelled set (../shared/corpus, "
                   "the analysts' corpora and replies), per set and per family, with missed and false "
                   "suppressions")
@click.option("--set", "only", multiple=True, help="with --sets: only this set (repeatable)")
@click.option("--leave-one-out", is_flag=True,
              help="with --sets (implied): also score models trained without each family on that family")
@click.option("--folds", type=click.IntRange(min=1), default=None,
              help="leave-one-out in K folds of families instead of one fit per family (implies --leave-one-out)")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="processes for the leave-one-out fits")
@click.option("--shared", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the shared corpora directory [default: REBOUND_SHARED, else ../shared beside the checkout]")
@registry_option
def evaluate_cmd(refs, data, png, level, as_json, on_sets, only, leave_one_out, folds, jobs, shared, registry):
    """Precision, recall and F1 per fine reason and per category; models side by side.

    With --sets (or --leave-one-out, --folds): how the classifier does on real labelled
    mail, per set and per MTA family, and how it does on families it never learnt from."""
    from classifier.model.evaluation import confusion_png, scores
    from classifier.model.registry import Registry
    from classifier.model.training import fit, holdout_split
    from classifier.training.dataset import DatasetError, data_files, load_records

    reg = Registry(registry)
    loaded = [_resolve(reg, r) for r in (refs or ("active",))]
    say = _progress()
    if on_sets or leave_one_out or folds:
        if len(loaded) > 1 or data or png:
            raise click.UsageError("--sets scores one model on the labelled sets: no second --model, --data or --png")
        _evaluate_sets(loaded[0], set(only) or None, bool(leave_one_out or folds), folds, jobs, shared,
                       as_json, say)
        return
    results = []
    try:
        for i, lm in enumerate(loaded):
            if data:
                records = load_records(data)
                pred = lm.model.predict(records)
                name = lm.version
            else:
                records_all = load_records(data_files())
                tr, te = holdout_split(records_all, lm.model.seed, DEFAULT_HOLDOUT)
                say(f"refitting the recipe of {lm.version} on {len(tr)} records")
                params = {k: v for k, v in lm.model.get_params().items() if k != "seed"}
                m = fit([records_all[j] for j in tr], lm.model.seed, **params)
                records = [records_all[j] for j in te]
                pred = m.predict(records)
                name = f"{lm.version} (recipe, held-out)"
            truth = [r["reason"] for r in records]
            results.append((name, scores(truth, pred)))
            if png:
                out = png if len(loaded) == 1 else png.with_name(f"{png.stem}-{i + 1}{png.suffix}")
                confusion_png(truth, pred, out, title=f"{name}: {level}", level=level)
                say(f"wrote {out}")
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps([{"model": n, **s} for n, s in results]).decode())
        return
    for i, (name, s) in enumerate(results, 1):
        click.echo(f"[{i}] {name}: n={s['n']} reason_acc={s['reason_accuracy']} "
                   f"category_acc={s['category_accuracy']} reason_macro_f1={s['reason_macro_f1']} "
                   f"category_macro_f1={s['category_macro_f1']}")
    click.echo()
    _table("reason", REASONS, results, "per_reason")
    click.echo()
    _table("category", CATEGORIES, results, "per_category")


def _evaluate_sets(lm, only, leave_one_out, folds, jobs, shared, as_json, say) -> None:
    from classifier.evaluation.report import evaluate, text

    params = {k: v for k, v in lm.model.get_params().items() if k != "seed"}
    result = evaluate(lm.model, lm.version, shared=shared, only=only, leave_one_out=leave_one_out, k=folds,
                      jobs=jobs, seed=lm.model.seed, params=params, progress=say)
    if as_json:
        click.echo(orjson.dumps(result).decode())
        return
    for line in text(result):
        click.echo(line)


@click.group("models")
def models_group():
    """List, activate and roll back models in the registry."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@registry_option
def models_list(as_json, registry):
    """Every stored model, oldest first; '*' marks the active one."""
    from classifier.model.registry import Registry, RegistryError

    try:
        entries = Registry(registry).list()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps(entries).decode())
        return
    if not entries:
        click.echo(f"no models in {registry}; the packaged default model is in use")
        return
    click.echo(f"  {'version':<34}{'created':<22}{'records':>8}{'reason':>8}{'categ.':>8}  data")
    for m in entries:
        met = m.get("metrics") or {}
        click.echo(f"{'*' if m['active'] else ' '} {m['version']:<34}{m.get('created', '')[:19]:<22}"
                   f"{m.get('n_records', 0):>8}{met.get('reason_accuracy', '-'):>8}"
                   f"{met.get('category_accuracy', '-'):>8}  {m.get('training_data_fingerprint', '')[:12]}")
    if not any(m["active"] for m in entries):
        click.echo("(none active: the packaged default model is in use)")


@models_group.command("activate")
@click.argument("version")
@registry_option
def models_activate(version, registry):
    """Make VERSION the model the service uses (picked up without a restart); `default` is
    the model shipped in the package."""
    from classifier.model.registry import ModelFileError, Registry, RegistryError

    try:
        reg = Registry(registry)
        if version != DEFAULT_VERSION:
            reg.load(version)       # refuse to activate a file that would not load
        reg.activate(version)
    except (RegistryError, ModelFileError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active: {version}")


@models_group.command("rollback")
@registry_option
def models_rollback(registry):
    """Re-activate the model that was active before the current one."""
    from classifier.model.registry import Registry, RegistryError

    try:
        version = Registry(registry).rollback()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active: {version}")


COMMANDS = [train_cmd, evaluate_cmd, models_group]
