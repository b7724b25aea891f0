"""Background jobs of the console: training, evaluation, reclassification.

Training a model takes a minute or more; no request waits for it. A job is a row in Redis
(one hash per job, under the tenant's hash tag, kept :data:`KEEP_SECONDS`) that the page
polls: its state (queued, running, done, failed), a progress line and share, a heartbeat,
and when done its result (JSON) and pictures (confusion matrices, PNG). The work runs in a
process of its own (``python -m webhook.console.worker``), started by the request that
queued it and detached from it: it survives the web worker that started it being
restarted, holds no web thread, and a crash shows as ``failed`` (or, if the process
vanished, as ``lost`` once its heartbeat is :data:`LOST_AFTER` seconds old).
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time

import orjson
import redis

from store.keys import Keys

KINDS = ("train", "evaluate", "reclassify")
KEEP_SECONDS = 7 * 86400
KEPT_PER_TENANT = 50
LOST_AFTER = 90
HEARTBEAT_SECONDS = 5


class JobRefused(Exception):
    """A job that cannot start now (one of its kind is running for this tenant)."""


class Jobs:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.key = keys.job
        self.index = keys.jobs

    # -- the web side ---------------------------------------------------------------------------
    def create(self, tenant: str, kind: str, params: dict, actor: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        for job in self.recent(tenant, 10):
            if job["kind"] == kind and job["state"] in ("queued", "running"):
                raise JobRefused(f"a {kind} job is already running (started {job['created_iso']}); "
                                 "wait for it to finish")
        job_id = secrets.token_hex(8)
        now = time.time()
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.key(tenant, job_id), mapping={
            "kind": kind, "params": orjson.dumps(params), "state": "queued", "by": actor, "created": now,
            "heartbeat": now, "step": "queued", "pct": 0})
        pipe.expire(self.key(tenant, job_id), KEEP_SECONDS)
        pipe.zadd(self.index(tenant), {job_id: now})
        pipe.zremrangebyrank(self.index(tenant), 0, -KEPT_PER_TENANT - 1)
        pipe.expire(self.index(tenant), KEEP_SECONDS)
        pipe.execute()
        return job_id

    def get(self, tenant: str, job_id: str, now: float | None = None) -> dict | None:
        if not (len(job_id) == 16 and all(c in "0123456789abcdef" for c in job_id)):
            return None
        h = self.r.hgetall(self.key(tenant, job_id))
        return self._decode(job_id, h, now) if h else None

    def recent(self, tenant: str, limit: int = 10) -> list[dict]:
        ids = [i.decode() for i in self.r.zrevrange(self.index(tenant), 0, limit - 1)]
        pipe = self.r.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.key(tenant, job_id))
        return [self._decode(i, h) for i, h in zip(ids, pipe.execute()) if h]

    def picture(self, tenant: str, job_id: str, name: str) -> bytes | None:
        return self.r.hget(self.key(tenant, job_id), f"png:{name}")

    def _decode(self, job_id: str, h: dict, now: float | None = None) -> dict:
        d = {k.decode(): v for k, v in h.items() if not k.startswith(b"png:")}
        state = d["state"].decode()
        heartbeat = float(d.get("heartbeat", 0))
        if state in ("queued", "running") and (now or time.time()) - heartbeat > LOST_AFTER:
            state = "lost"
        created = float(d["created"])
        out = {"id": job_id, "kind": d["kind"].decode(), "state": state, "by": d.get("by", b"").decode(),
               "params": orjson.loads(d["params"]), "created": created,
               "created_iso": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(created)),
               "step": d.get("step", b"").decode(), "pct": int(float(d.get("pct", 0))),
               "error": d["error"].decode() if "error" in d else None,
               "result": orjson.loads(d["result"]) if "result" in d else None,
               "pictures": sorted(k.decode()[4:] for k in h if k.startswith(b"png:"))}
        if "finished" in d:
            out["seconds"] = round(float(d["finished"]) - float(d.get("started", created)), 1)
        return out

    # -- the worker side ------------------------------------------------------------------------
    def update(self, tenant: str, job_id: str, **fields) -> None:
        fields["heartbeat"] = time.time()
        mapping = {k: (orjson.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        self.r.hset(self.key(tenant, job_id), mapping=mapping)

    def put_picture(self, tenant: str, job_id: str, name: str, png: bytes) -> None:
        self.r.hset(self.key(tenant, job_id), f"png:{name}", png)


def launch(settings_json: bytes, tenant: str, job_id: str) -> None:
    """Start the worker process for a job and return at once. The settings travel on its
    standard input (never in its command line or environment, which others may read)."""
    proc = subprocess.Popen([sys.executable, "-m", "webhook.console.worker", tenant, job_id],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=None,
                            start_new_session=True, close_fds=True,
                            # the job is no web worker: its metrics must not join the service's
                            env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"})
    proc.stdin.write(settings_json)
    proc.stdin.close()
    threading.Thread(target=proc.wait, daemon=True, name=f"job-{job_id}").start()   # no zombie left
