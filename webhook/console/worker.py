"""``python -m webhook.console.worker TENANT JOB_ID``: run one console job (see jobs.py),
with the service's settings read as JSON from standard input.

The work is what the CLI does for the same step, through the same functions: training as
``rebound train --extra <the tenant's labels>``, evaluation with ``scores`` and
``confusion_png`` of classifier.model.evaluation (on the tenant's labels, and on the held-out
split of the training corpus with each model's recipe refit, as ``rebound evaluate`` does),
reclassification as ``rebound reclassify`` (store.reclassify).
"""
from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import orjson

from webhook.console.jobs import HEARTBEAT_SECONDS, Jobs
from webhook.services import build_store
from webhook.settings import Settings

log = logging.getLogger("rebound.console.worker")
#: Reclassification rows kept for the page (the totals count them all).
ROWS_KEPT = 2000
#: Progress lines of classifier.model.training.train, and how far along each one is.
TRAIN_STEPS = (("loaded", 10), ("fitting on", 15), ("held-out", 50), ("fitting the final", 55), ("done", 95))


class Context:
    def __init__(self, settings: Settings, tenant: str, job_id: str):
        self.settings, self.tenant, self.job_id = settings, tenant, job_id
        self.store = build_store(settings)
        self.jobs = Jobs(self.store.r, self.store.keys)
        self.job = self.jobs.get(tenant, job_id)
        if self.job is None:
            raise SystemExit(f"no job {job_id} for {tenant}")

    def say(self, step: str, pct: float | None = None) -> None:
        fields = {"step": step[:300]}
        if pct is not None:
            fields["pct"] = int(pct)
        self.jobs.update(self.tenant, self.job_id, **fields)

    def labels(self) -> list[dict]:
        return list(self.store.review.training_records(self.tenant))

    def registry(self):
        from classifier.model.registry import Registry

        return Registry(self.settings.effective_model_dir)

    def corpus_files(self) -> list[Path]:
        from classifier.training.dataset import DATA_DIR, data_files

        return data_files(self.settings.training_data_dir or DATA_DIR)


def train(ctx: Context) -> dict:
    from classifier.model.training import train as train_model

    labels = ctx.labels()
    if not labels:
        raise ValueError("this tenant has no labels yet: label items of the review queue first")
    with tempfile.TemporaryDirectory(prefix="rebound-train-") as d:
        extra = Path(d) / f"{ctx.tenant}-labels.jsonl"
        extra.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in labels))

        def progress(msg: str) -> None:
            pct = next((p for prefix, p in TRAIN_STEPS if msg.startswith(prefix)), None)
            ctx.say(msg, pct)
        model, meta = train_model(ctx.corpus_files(), extra=[extra], progress=progress,
                                  extra_weight=float(ctx.job["params"].get("extra_weight") or 5.0))
    meta["trained_for"] = {"tenant": ctx.tenant, "by": ctx.job["by"], "labels": len(labels), "job": ctx.job_id}
    ctx.say("saving the model in the registry", 97)
    version = ctx.registry().save(model, meta)
    return {"version": version, "labels": len(labels), "records": meta["n_records"], "metrics": {
        k: (meta["metrics"] or {}).get(k) for k in ("reason_accuracy", "category_accuracy", "reason_macro_f1",
                                                    "category_macro_f1")}}


def _picture(ctx: Context, name: str, truth: list[str], pred: list[str], title: str) -> None:
    from classifier.model.evaluation import confusion_png

    with tempfile.TemporaryDirectory(prefix="rebound-eval-") as d:
        path = confusion_png(truth, pred, Path(d) / "cm.png", title=title, level="category")
        ctx.jobs.put_picture(ctx.tenant, ctx.job_id, name, path.read_bytes())


def evaluate(ctx: Context) -> dict:
    """Each model on the tenant's labels and on the corpus's held-out split (its recipe
    refit on the training split, so a model is never scored on what it was fitted on)."""
    from classifier.model.evaluation import scores
    from classifier.model.training import DEFAULT_HOLDOUT, fit, holdout_split
    from classifier.training.dataset import load_records

    refs = ctx.job["params"]["models"]
    reg = ctx.registry()
    labels = ctx.labels()
    corpus = load_records(ctx.corpus_files())
    out = {"models": [], "labels": [], "corpus": [], "n_labels": len(labels)}
    steps = len(refs) * 2
    for i, ref in enumerate(refs):
        ctx.say(f"loading model {ref}", 100 * (2 * i) / steps)
        lm = reg.resolve(ref)
        name = lm.version
        out["models"].append(name)
        if labels:
            truth = [r["reason"] for r in labels]
            pred = list(lm.model.predict(labels))
            out["labels"].append(scores(truth, pred))
            _picture(ctx, f"labels-{i}", truth, pred, f"{name}: this tenant's labels")
        tr, te = holdout_split(corpus, lm.model.seed, DEFAULT_HOLDOUT)
        ctx.say(f"refitting the recipe of {name} on {len(tr)} corpus records", 100 * (2 * i + 1) / steps)
        params = {k: v for k, v in lm.model.get_params().items() if k != "seed"}
        m = fit([corpus[j] for j in tr], lm.model.seed, **params)
        held = [corpus[j] for j in te]
        truth = [r["reason"] for r in held]
        pred = list(m.predict(held))
        out["corpus"].append(scores(truth, pred))
        _picture(ctx, f"corpus-{i}", truth, pred, f"{name}: corpus held-out (recipe refit)")
    return out


def reclassify(ctx: Context) -> dict:
    from classifier.engine import Classifier
    from store.reclassify import Reclassification

    params = ctx.job["params"]
    mode = ctx.settings.classifier
    if mode == "rules":
        classifier, label = Classifier(mode="rules"), "rules"
    else:
        loaded = ctx.registry().resolve(params.get("model") or "active")
        classifier, label = Classifier(model=loaded, mode=mode), f"{mode}:{loaded.version}"
    job = Reclassification(ctx.store, ctx.tenant, classifier.classify_many, label=label, actor=ctx.job["by"])
    rows = []

    def progress(t) -> None:
        ctx.say(f"{t.addresses} addresses read, {t.events} events re-run, {t.changed_addresses} addresses change")
    for change in job.run(apply=bool(params.get("apply")), progress=progress):
        if len(rows) < ROWS_KEPT:
            rows.append(change.to_dict())
    return {"classifier": label, "model": params.get("model") or "active", "apply": bool(params.get("apply")),
            "totals": asdict(job.totals), "rows": rows, "truncated": job.totals.changed_addresses > len(rows)}


RUNNERS = {"train": train, "evaluate": evaluate, "reclassify": reclassify}


def _heartbeat(ctx: Context, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_SECONDS):
        try:
            ctx.jobs.update(ctx.tenant, ctx.job_id)
        except Exception:                   # noqa: BLE001 - the job itself reports store trouble
            pass


def main(argv: list[str]) -> int:
    tenant, job_id = argv
    settings = Settings.model_validate(orjson.loads(sys.stdin.buffer.read()))
    logging.basicConfig(level=settings.log_level.upper())
    ctx = Context(settings, tenant, job_id)
    done = threading.Event()
    threading.Thread(target=_heartbeat, args=(ctx, done), daemon=True).start()
    ctx.jobs.update(tenant, job_id, state="running", started=time.time(),
                    step="starting")
    try:
        result = RUNNERS[ctx.job["kind"]](ctx)
    except Exception as exc:                # noqa: BLE001 - any failure is the job's result
        log.error("console job failed", extra={"tenant": tenant, "job": job_id, "kind": ctx.job["kind"]},
                  exc_info=True)
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        ctx.jobs.update(tenant, job_id, state="failed", error=message[:2000], finished=time.time(),
                        step="failed")
        traceback.print_exc()
        return 1
    finally:
        done.set()
    ctx.jobs.update(tenant, job_id, state="done", result=result, pct=100, step="done",
                    finished=time.time())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
