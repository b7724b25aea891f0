"""Schemathesis against /openapi.json: every documented operation, called with examples
generated from its own description (bounded: a few per operation, about a minute in all),
never answers a 5xx, and answers only what the document says it answers: a documented
status, the documented content type, a body of the documented schema. That keeps the
document honest: a client generated from it (see tests/webhook/api) must never meet an
answer it was not told about.

Driven through hypothesis directly (schemathesis 4's pytest plugin does not run under
pytest 9), against the app in process. Each operation gets the key its security names: a
tenant key, or the operator key for the platform's operations (with a tenant key those are
401s, and their failed authentications would put the test's address over its limit: every
later operation would then only ever see a 429)."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from tests.conftest import OPERATOR_KEY

EXAMPLES = 3
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)


def key_for(operation, tenant_key: str) -> str:
    schemes = {name for requirement in operation.definition.raw.get("security") or [] for name in requirement}
    return OPERATOR_KEY if schemes == {"operator_key"} else tenant_key


def test_every_documented_operation_answers_as_documented(app):
    _, key = app.extensions["rebound"].store.tenants.create("Schema Fuzz")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures, statuses = [], set()
    for operation in operations:
        bearer = key_for(operation, key)

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {bearer}"}
            response = case.call()
            statuses.add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as failure:          # schemathesis's FailureGroup: one per broken check
                failures.append((operation.label, response.status_code, " ".join(str(failure).split())[:300]))
        call()
    assert not failures, failures[:10]
    assert 429 not in statuses, "the test's own requests went over a limit: the operations behind it went untested"
    assert 200 in statuses
