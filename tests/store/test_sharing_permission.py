"""Giving bounces to the shared pool (globally_bounced) needs the operator's permission; a
tenant without it cannot opt in, and cannot make addresses unsendable for other tenants."""
from __future__ import annotations

import orjson

from store.keys import Keys
from tests.cli import run
from tests.store.test_reasons import allow_giver, ask, bounce, codes, post


def test_opting_in_to_give_needs_the_operators_permission(api, redis_url, operator):
    r = api.patch("/v1/policy", json={"sharing": {"give": True}})
    assert r.status_code == 403 and r.json()["error"] == "sharing_not_allowed", r.text
    assert "operator" in r.json()["message"]
    assert api.put("/v1/policy", json={"sharing": {"give": True}}).status_code == 403
    p = run(["policy", "set", api.tenant, "sharing.give=true"], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode != 0 and "may not give" in p.stderr, p.stderr
    assert api.get("/v1/policy").json()["overrides"] == {}
    # receiving is the tenant's own choice
    assert api.patch("/v1/policy", json={"sharing": {"receive": True}}).status_code == 200
    # the operator allows it (API or CLI), then the tenant may opt in
    p = run(["platform", "allow-giver", api.tenant, "--note", "known sender"], env={"REBOUND_REDIS_URL": redis_url})
    assert p.returncode == 0, p.stderr
    assert list(operator.get("/v1/platform/sharing/givers").json()["givers"]) == [api.tenant]
    assert api.get("/v1/platform/sharing/givers").status_code in (401, 403)        # not a tenant's business
    assert api.patch("/v1/policy", json={"sharing": {"give": True}}).status_code == 200


def test_a_tenant_without_permission_cannot_poison_other_tenants(app, api, make_tenant, operator):
    mallory, victim = api, make_tenant("Victim")
    assert victim.patch("/v1/policy", json={"sharing": {"receive": True}}).status_code == 200
    # even a give=true already stored (before the permission existed, or written by hand) gives nothing
    store = app.extensions["rebound"].store
    store.r.set(Keys().policy(mallory.tenant), orjson.dumps({"sharing": {"give": True}}))
    post(mallory, *[bounce(f"m{i}", f"customer{i}@example.org", "5.1.1") for i in range(5)])
    assert all(ask(victim, f"customer{i}@example.org")["sendable"] for i in range(5))
    assert codes(ask(mallory, "customer0@example.org")) == ["previously_bounced"]     # its own record only


def test_taking_the_permission_back_takes_the_bounces_out_at_once(api, make_tenant, operator):
    giver, receiver = api, make_tenant("Receiver")
    allow_giver(operator, giver)
    assert giver.patch("/v1/policy", json={"sharing": {"give": True}}).status_code == 200
    assert receiver.patch("/v1/policy", json={"sharing": {"receive": True}}).status_code == 200
    post(giver, bounce("g1", "shared@example.org", "5.1.1"))
    assert "globally_bounced" in codes(ask(receiver, "shared@example.org"))
    r = operator.delete(f"/v1/platform/sharing/givers/{giver.tenant}", json={"note": "reported junk"})
    assert r.status_code == 200, r.text
    assert ask(receiver, "shared@example.org")["sendable"] is True
    assert operator.delete(f"/v1/platform/sharing/givers/{giver.tenant}", json={"note": "x"}).status_code == 404
    assert operator.put("/v1/platform/sharing/givers/no-such-tenant", json={}).status_code == 404
