"""Start-up and whole-process classify times of the `rebound` command, beside Sisimai's.

What a user times is the whole process: `rebound --help`, `rebound config`, `rebound
check`, `rebound tenants list` must answer within 0.3 s, `rebound classify FILE` within
0.6 s (issue 14), and `rebound classify --jsonl` over many bounce files must take at most
two thirds of what Debian's Sisimai (`libsisimai-perl`, one perl process) takes on the
same files in the same run. Each figure is the median of several runs (`--runs`), printed
next to its ceiling.

    .venv/bin/python bench/startup.py [--runs 7] [--files N]

The files: ../shared/corpus/bounces and ../shared/corpora/*/messages when ../shared is
there, else tests/fixtures/*.eml; repeated to at least ``--files`` paths (default 1,800,
about what issue 14 timed), the same list for both programs. A Redis for `check` and
`tenants list` is started for the run (REBOUND_REDIS_URL), so the figures are the
command's own, not the embedded Redis' start.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._support import machine, redis_server  # noqa: E402

SHARED = REPO.parent / "shared"
REBOUND = [sys.executable, "-m", "webhook.cli"]
SISIMAI = ("use Sisimai; binmode STDOUT; for my $f (@ARGV) { my $j = Sisimai->dump($f); "
           "print defined $j ? $j : '[]', \"\\n\" }")


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, subprocess.CompletedProcess]:
    """Median wall time of ``cmd`` over ``runs`` runs, and the last run's result."""
    times, last = [], None
    for _ in range(runs):
        started = time.perf_counter()
        last = subprocess.run(cmd, env=env, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - started)
        if last.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:6])}... failed: {last.stderr.decode()[-500:]}")
    return statistics.median(times), last


def bounce_files(at_least: int) -> list[str]:
    if SHARED.is_dir():
        found = sorted(SHARED.glob("corpus/bounces/*.eml")) + sorted(SHARED.glob("corpora/*/messages/*"))
    else:
        found = sorted((REPO / "tests" / "fixtures").glob("*.eml"))
    files = [str(p) for p in found if p.is_file()]
    out = list(files)
    while len(out) < at_least:
        out.extend(files)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--files", type=int, default=1800)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBOUND_")}
    tmp = Path(tempfile.mkdtemp(prefix="rebound-startup-"))
    env.update(XDG_DATA_HOME=str(tmp / "xdg"), REBOUND_MODEL_DIR=str(tmp / "models"), REBOUND_DNS_CHECKS="false")
    with redis_server() as url:
        run(args, env, dict(env, REBOUND_REDIS_URL=url))
    shutil.rmtree(tmp, ignore_errors=True)


def run(args, env: dict, with_redis: dict) -> None:
    subprocess.run(REBOUND + ["tenants", "create", "Bench"], env=with_redis, check=True, capture_output=True)
    one = str(REPO / "tests" / "fixtures" / "postfix-userunknown.eml")
    print(f"# rebound start-up, whole process, median of {args.runs}; {machine()}")
    print(f"{'command':44} {'seconds':>8} {'ceiling':>8}")
    for label, cmd, e, ceiling in [
        ("rebound --help", ["--help"], env, 0.3),
        ("rebound config", ["config"], env, 0.3),
        ("rebound check bench ann@example.org", ["check", "bench", "ann@example.org"], with_redis, 0.3),
        ("rebound tenants list", ["tenants", "list"], with_redis, 0.3),
        ("rebound classify FILE (a DSN)", ["classify", one], env, 0.6),
    ]:
        seconds, _ = timed(REBOUND + cmd, e, args.runs)
        print(f"{label:44} {seconds:8.3f} {ceiling:8.3f}  {'ok' if seconds <= ceiling else 'OVER'}")

    files = bounce_files(args.files)
    runs = max(3, args.runs // 2)
    print(f"\n# classify {len(files)} files ({len(set(files))} distinct), whole process, median of {runs}")
    ours, out = timed(REBOUND + ["classify", "--jsonl", *files], env, runs)
    rows = out.stdout.count(b"\n")
    print(f"{'rebound classify --jsonl':44} {ours:8.3f}  ({rows} lines)")
    if shutil.which("perl") and subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0:
        theirs, out = timed(["perl", "-e", SISIMAI, *files], env, runs)
        ceiling = theirs / 1.5
        print(f"{'Sisimai (libsisimai-perl), Sisimai->dump':44} {theirs:8.3f}  ({out.stdout.count(b'[{')} with results)")
        print(f"{'ceiling: Sisimai / 1.5':44} {ceiling:8.3f}  rebound {'ok' if ours <= ceiling else 'OVER'}, "
              f"{theirs / ours:.2f} times Sisimai's speed")
    else:
        print("Sisimai not installed (apt-get install libsisimai-perl): no comparison")


if __name__ == "__main__":
    main()
