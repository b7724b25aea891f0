"""Bad input to any `rebound` command, typed in a shell: one line on stderr naming the
argument and the problem, exit status 2 (a usage error), never a traceback."""
from __future__ import annotations

import json

import pytest

from tests.conftest import free_port
from tests.cli import run

#: (arguments, what the one line must mention); all are refused before Redis is asked
MALFORMED = [
    (["platform", "unblock-domain", "not a domain", "--note", "x"], "DOMAIN"),
    (["platform", "block-domain", "not a domain"], "DOMAIN"),
    (["platform", "block-address", "not-an-address", "--kind", "trap"], "ADDRESS"),
    (["platform", "unblock-address", "a@", "--note", "x"], "ADDRESS"),
    (["dns", "check", "example.org", "not a domain"], "not a domain"),
    (["check", "Not A Tenant", "a@example.org"], "TENANT"),
    (["policy", "show", "acme/../x"], "TENANT"),
    (["tenants", "create", "!!!"], "NAME"),
    (["suppressions", "export", "acme", "--since", "last tuesday"], "--since"),
    (["suppressions", "export", "acme", "--domain", "not a domain"], "--domain"),
    (["suppressions", "export", "acme", "--code", "no_such_code"], "--code"),
    (["suppressions", "import", "acme", "/no/such/file.csv"], "FILE"),
    (["senders", "status", "acme", "--days", "many"], "--days"),
    (["reclassify", "acme", "--since", "2026-13-45"], "--since"),
    (["providers", "show", "acme", "hubspot"], "PROVIDER"),
    (["serve", "--port", "99999"], "--port"),
]


def assert_usage_error(p, mentions: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), p.stderr
    assert mentions in lines[0], lines[0]


@pytest.mark.parametrize("args, mentions", MALFORMED, ids=[" ".join(a[:2]) + ":" + m for a, m in MALFORMED])
def test_malformed_input_is_one_line_and_exit_2_before_redis_is_asked(args, mentions):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"          # nothing listens: it must not matter
    p = run(args, env={"REBOUND_REDIS_URL": nowhere})
    assert_usage_error(p, mentions)
    assert "cannot reach Redis" not in p.stderr


def test_names_that_do_not_exist_are_usage_errors_too(redis_url):
    env = {"REBOUND_REDIS_URL": redis_url}
    tenant = json.loads(run(["tenants", "create", "Acme"], env=env).stdout)["tenant"]
    for args, mentions in [(["check", "nobody", "a@example.org"], "no tenant 'nobody'"),
                           (["tenants", "add-key", "nobody"], "no tenant 'nobody'"),
                           (["review", "export", "--tenant", tenant, "--tenant", "nobody"], "nobody"),
                           (["policy", "set", tenant, "frequency_cap.per_month.marketing=lots"],
                            "frequency_cap.per_month.marketing")]:
        assert_usage_error(run(args, env=env), mentions)


def test_a_state_that_forbids_the_change_is_not_a_usage_error(redis_url):
    """Well-formed input the store cannot act on (nothing to unblock) stays exit 1."""
    env = {"REBOUND_REDIS_URL": redis_url}
    p = run(["platform", "unblock-domain", "Example.ORG", "--note", "x"], env=env)
    assert p.returncode == 1 and p.stderr.strip() == "Error: example.org is not blocked"
    assert json.loads(run(["platform", "block-domain", "Example.ORG"], env=env).stdout) == {
        "domain": "example.org", "blocked": True}
    assert json.loads(run(["platform", "unblock-domain", "example.org", "--note", "x"], env=env).stdout) == {
        "domain": "example.org", "blocked": False}
