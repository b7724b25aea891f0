"""The OpenAPI document is a contract a client generator can trust: a client generated from
it (openapi-python-client, as a user would) reads every answer the service really sends,
errors included, and the document covers health, readiness and metrics."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def operation(doc: dict, method: str, path: str) -> dict:
    return doc["paths"][path][method]


def test_every_error_answer_is_described_as_the_body_sent(app):
    doc = app.test_client().get("/openapi.json").get_json()
    error = {"$ref": "#/components/schemas/ErrorOut"}
    statuses = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    statuses += 1
                    assert response["content"]["application/json"]["schema"] == error, (method, path, status)
    assert statuses > 40
    assert "ValidationErrorModel" not in json.dumps(doc)
    assert set(doc["components"]["schemas"]["ErrorOut"]["properties"]) == {"error", "message", "details"}
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "200" in operation(doc, "get", path)["responses"]


@pytest.fixture
def client_package(app, tmp_path):
    """A client package generated from the service's document, importable."""
    if not GENERATOR.exists():
        pytest.fail("openapi-python-client is not installed (the test extras install it: pip install -e '.[test]')")
    work = tmp_path / "generated"
    work.mkdir()
    spec = work / "openapi.json"
    spec.write_text(json.dumps(app.test_client().get("/openapi.json").get_json()))
    p = subprocess.run([str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(work / "client"),
                        "--meta", "none"], capture_output=True, text=True, timeout=300, cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    sys.path.insert(0, str(work))
    yield "client"
    sys.path.remove(str(work))
    for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
        del sys.modules[name]


def call(package: str, doc: dict, method: str, path: str):
    """The generated module of the operation at (method, path)."""
    op = operation(doc, method, path)
    name = re.sub(r"[^a-z0-9]+", "_", op["operationId"].lower()).strip("_")
    tag = re.sub(r"[^a-z0-9]+", "_", (op.get("tags") or ["default"])[0].lower()).strip("_")
    return importlib.import_module(f"{package}.api.{tag}.{name}")


def test_a_generated_client_round_trips_200_400_401_404(client_package, app, api, live_server):
    doc = app.test_client().get("/openapi.json").get_json()
    pkg = importlib.import_module(client_package)
    authed = pkg.AuthenticatedClient(base_url=live_server.url, token=api.key)
    anonymous = pkg.Client(base_url=live_server.url)

    lookup = call(client_package, doc, "get", "/v1/recipients/{address}")
    ok = lookup.sync_detailed(address="ann@example.org", client=authed)
    assert ok.status_code == 200 and ok.parsed.sendable is True and ok.parsed.reasons == []

    denied = lookup.sync_detailed(address="ann@example.org", client=anonymous)
    assert denied.status_code == 401 and denied.parsed.error == "unauthorized" and denied.parsed.message

    raw = call(client_package, doc, "get", "/v1/raw/{ref}")
    missing = raw.sync_detailed(ref="0" * 32, client=authed)
    assert missing.status_code == 404 and missing.parsed.error and missing.parsed.message

    events = call(client_package, doc, "post", "/v1/events")
    event_in = importlib.import_module(f"{client_package}.models").EventIn
    body = event_in.from_dict({"id": "e1", "type": "bounce", "recipient": "no-at-sign"})
    bad = events.sync_detailed(client=authed, body=body)
    assert bad.status_code == 400 and bad.parsed.error == "invalid_request"
    assert bad.parsed.details[0].field == "recipient" and bad.parsed.details[0].problem


def test_health_readiness_and_metrics_answer_as_documented(app):
    from tests.conftest import OPERATOR_KEY

    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready", ready
    assert set(ready["model"]) == {"version", "activation_failed"}
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain")
    refused = client.get("/metrics")
    assert refused.status_code in (401, 403) and set(refused.get_json()) >= {"error", "message"}

