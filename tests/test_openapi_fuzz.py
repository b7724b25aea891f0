"""Schemathesis against /openapi.json: every documented operation, called with examples
generated from its own description (bounded: a few per operation, about a minute in all),
never answers a 5xx. Keeps the document honest too: an operation it describes wrongly
gets requests the code was not written for.

Driven through hypothesis directly (schemathesis 4's pytest plugin does not run under
pytest 9), against the app in process, with a tenant key on every request."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = 3


def test_no_documented_operation_answers_a_server_error(app):
    _, key = app.extensions["rebound"].store.tenants.create("Schema Fuzz")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures = []
    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
            response = case.call()
            if response.status_code >= 500:
                failures.append((operation.label, response.status_code, response.text[:200]))
        call()
    assert not failures, failures[:10]
