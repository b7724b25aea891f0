"""Documentation that users copy from must not drift from the code."""
from __future__ import annotations

import re
from pathlib import Path

from webhook.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_table_lists_every_setting_with_its_default():
    text = README.read_text("utf-8")
    table = re.search(r"<!-- config-table:start -->(.*)<!-- config-table:end -->", text, re.S).group(1)
    rows = dict(re.findall(r"^\| `(REBOUND_[A-Z_]+)` \| `([^`]*)` \|", table, re.M))
    assert rows == {name: default for name, default, _ in Settings.describe()}


def test_openapi_describes_the_api(app):
    doc = app.test_client().get("/openapi.json").get_json()
    assert {"/v1/events", "/v1/recipients/{address}", "/v1/recipients/check",
            "/v1/suppressions/{address}", "/v1/classify", "/v1/review", "/v1/review/{item_id}",
            "/v1/review/labels", "/v1/raw/{ref}"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["tenant_key"]["scheme"] == "bearer"
