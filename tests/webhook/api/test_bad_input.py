"""Every kind of bad request gets a 4xx with a JSON body naming the problem, and stores nothing."""
from __future__ import annotations

import pytest
import requests

GOOD = {"id": "evt-1", "type": "bounce", "recipient": "a@example.org", "status": "5.1.1",
        "diagnostic": "550 5.1.1 user unknown"}


def assert_error(r, status: int, error: str, mentions: str | None = None):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    if mentions:
        assert mentions in body["message"] + str(body.get("details", ""))


@pytest.fixture
def nothing_stored(api, redis_client):
    yield
    keys = [k.decode() for k in redis_client.scan_iter("rb:t:*")]
    assert keys == [], "a rejected request left data behind"


def test_malformed_json(api, nothing_stored):
    r = api.post("/v1/events", data=b'{"id": "x", ', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_wrong_content_type(api, nothing_stored):
    r = api.post("/v1/events", data=b"id=1&type=bounce", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("change, field", [
    ({"status": 511}, "status"),
    ({"type": "bounced"}, "type"),
    ({"recipient": "no-at-sign"}, "recipient"),
    ({"time": "2026-11-26T10:00:00"}, "time"),          # no timezone
    ({"reply_code": "5500"}, "reply_code"),
    ({"id": ""}, "id"),
])
def test_wrong_values_name_the_field(api, nothing_stored, change, field):
    assert_error(api.post("/v1/events", json={**GOOD, **change}), 400, "invalid_request", field)


def test_unknown_field(api, nothing_stored):
    assert_error(api.post("/v1/events", json={**GOOD, "recipeint": "typo@example.org"}), 400,
                 "invalid_request", "recipeint")


def test_one_bad_event_rejects_the_whole_batch(api, nothing_stored):
    r = api.post("/v1/events", json=[GOOD, {**GOOD, "id": "2", "type": "nope"}])
    assert_error(r, 400, "invalid_request", "[1].type")


def test_oversize_body(api, nothing_stored, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = api.post("/v1/events", data=b"[" + b" " * limit + b"]", headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


def test_too_many_events_in_one_batch(api, nothing_stored, app):
    limit = app.extensions["rebound"].settings.max_batch
    batch = [{**GOOD, "id": str(i)} for i in range(limit + 1)]
    assert_error(api.post("/v1/events", json=batch), 413, "batch_too_large")


def test_missing_api_key(api, live_server, nothing_stored):
    r = requests.post(live_server.url + "/v1/events", json=GOOD, timeout=10)
    assert_error(r, 401, "unauthorized", "Bearer")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_api_key(api, live_server, nothing_stored):
    r = requests.post(live_server.url + "/v1/events", json=GOOD, timeout=10,
                      headers={"Authorization": "Bearer rbk_not-a-key"})
    assert_error(r, 401, "unauthorized")


def test_wrong_auth_scheme(api, live_server, nothing_stored):
    r = requests.get(live_server.url + "/v1/recipients/a@example.org", timeout=10,
                     headers={"Authorization": f"Basic {api.key}"})
    assert_error(r, 401, "unauthorized")


def test_delete_without_note(api):
    api.put("/v1/suppressions/a@example.org", json={"note": "x"})
    assert_error(api.delete("/v1/suppressions/a@example.org", json={}), 400, "invalid_request", "note")
    assert api.get("/v1/recipients/a@example.org").json()["sendable"] is False


def test_check_over_10000_addresses(api):
    r = api.post("/v1/recipients/check", json={"addresses": ["a@example.org"] * 10_001})
    assert_error(r, 400, "invalid_request", "addresses")


def test_unknown_route_is_json_404(api):
    assert_error(api.get("/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize("body, kind", [(b"null", "null"), (b'"hello"', "a string"), (b"42", "a number")])
def test_json_of_the_wrong_shape_is_named_as_such_not_as_invalid_json(api, nothing_stored, body, kind):
    r = api.post("/v1/events", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    assert r.json()["message"] == f"the body must be a JSON object, or a list of them, not {kind}"


def test_an_empty_body_says_what_the_route_takes(api, nothing_stored):
    r = api.post("/v1/events", data=b"", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    assert r.json()["message"] == "the body is empty: send a JSON object, or a list of them"
    assert "EventIn" not in r.text and "instance of" not in r.text


def test_a_lift_without_a_note_says_a_note_is_required(api):
    r = api.delete("/v1/suppressions/a@example.org")
    assert_error(r, 400, "invalid_request")
    assert r.json()["message"].startswith("note is required")
    assert "UnsuppressIn" not in r.text


def test_a_missing_field_is_named_in_plain_words(api, nothing_stored):
    event = {k: v for k, v in GOOD.items() if k != "recipient"}
    r = api.post("/v1/events", json=event)
    assert_error(r, 400, "invalid_request")
    assert r.json()["message"] == "recipient is required"
