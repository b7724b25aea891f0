"""Every `rebound` command starts at once: what it does not need is not imported.

scikit-learn, scipy, skops, flanker, Flask and the Redis client take most of a second or
more to import; a command that only prints help or settings must not wait for them, and
`rebound classify` loads the model only when the rules leave a verdict to it. The times
themselves are measured by bench/startup.py; this checks the cause, in a fresh interpreter.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, REPO

HEAVY = {"sklearn", "scipy", "skops", "numpy", "flanker", "flask", "flask_openapi3", "redis", "pydantic",
         "dns", "matplotlib", "gunicorn", "cryptography"}

PROBE = """
import json, sys
from webhook.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def loaded(*args: str, env: dict | None = None) -> tuple[set[str], str]:
    """The top-level packages imported by `rebound ARGS` in a fresh interpreter, and its output."""
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO,
                       timeout=120, env={"PATH": "/usr/bin:/bin", **(env or {})})
    return set(json.loads(p.stderr.strip().splitlines()[-1])), p.stdout


@pytest.mark.parametrize("args, allowed", [
    (["--help"], set()),
    (["tenants", "--help"], set()),
    (["classify", "--help"], set()),
    (["train", "--help"], set()),
    (["config"], {"pydantic"}),                 # it validates the settings
])
def test_help_and_settings_load_nothing_heavy(args, allowed):
    modules, out = loaded(*args)
    assert out                                  # it did answer
    assert modules & HEAVY <= allowed


def test_every_command_of_the_registry_is_listed_and_loads():
    from click.testing import CliRunner

    from webhook.cli import COMMANDS, main

    out = CliRunner().invoke(main, ["--help"]).output
    for name in COMMANDS:
        assert f"  {name} " in out
        assert main.get_command(None, name).name == name


def test_classify_loads_the_model_only_when_the_rules_leave_a_verdict_to_it(tmp_path):
    env = {"REBOUND_MODEL_DIR": str(tmp_path)}
    # a plain DSN the status-code and phrase rules settle: no scikit-learn
    modules, out = loaded("classify", "--jsonl", str(FIXTURES / "postfix-userunknown.eml"), env=env)
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["reason"] == "userunknown" and row["source"] == "rule"
    assert not modules & {"sklearn", "scipy", "skops"}
    # words no rule knows: the model decides, so it is loaded
    modules, out = loaded("classify", "--text", "Sorry, I could not deliver it", env=env)
    assert json.loads(out)["source"] == "model" and "sklearn" in modules


def test_store_commands_load_no_classifier_and_no_flask(redis_url):
    for args in (["tenants", "create", "Startup"], ["tenants", "list"]):
        modules, _ = loaded(*args, env={"REBOUND_REDIS_URL": redis_url})
        assert not modules & {"sklearn", "scipy", "skops", "numpy", "flanker", "flask", "flask_openapi3"}, args
