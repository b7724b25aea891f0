"""The analysts' console in a real browser (Debian's Chromium, Playwright), against the real
service: the flows a person walks, the refusals (signed out, another tenant's item, a form
without its CSRF token), and every page at 390 px wide. Screenshots go to the session's
output folder (tests/webhook/console/conftest.py)."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime

import pytest
import requests

from tests.clock import ago
from tests.webhook.console.conftest import OPERATOR_KEY
from webhook.services import KEY_CACHE_SECONDS

pytestmark = pytest.mark.browser

#: What no rule and no packaged model can place: onhold, queued for review.
TEXT = "Grault garply waldo fred"
#: Another such text, for tests that do not train (the service and its registry are shared).
OTHER = "Wibble wobble frobnicate"
JOB_SECONDS = 240


def key_id(api) -> str:
    return hashlib.sha256(api.key.encode()).hexdigest()[:12]


def bounce(tag: str, i: int, text: str, address: str | None = None) -> dict:
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"id": f"{tag}-{i}", "type": "bounce", "recipient": address or f"{tag}{i}@example.org", "time": now,
            "diagnostic": text, "reply_code": "550"}


def post(api, events: list[dict]) -> None:
    r = api.post("/v1/events", json=events)
    assert r.status_code == 200, r.text


def shot(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def wait_job(page) -> str:
    """Wait (the job page refreshes itself) until the job is over; its final state."""
    page.wait_for_selector("#job-state:text-matches('^(done|failed|lost)$')", timeout=JOB_SECONDS * 1000)
    return page.inner_text("#job-state")


def test_sign_in_then_a_bounce_posted_through_the_api_is_on_the_overview(make_tenant, page_for, shots):
    api = make_tenant("Overview")
    page = page_for(api.key)
    assert page.inner_text(".tile:has(.l:text-is('bounce')) .n") == "0"
    post(api, [{"id": "hb-1", "type": "bounce", "recipient": "gone@example.org", "time": ago(minutes=5),
                "status": "5.1.1", "reply_code": "550", "diagnostic": "550 5.1.1 user unknown"},
               {"id": "d-1", "type": "delivered", "recipient": "fine@example.org", "time": ago(minutes=4)}])
    response = page.goto("/console/overview")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert page.inner_text(".tile:has(.l:text-is('bounce')) .n") == "1"
    assert page.inner_text(".tile:has(.l:text-is('delivered')) .n") == "1"
    card = page.locator(".chart-card", has_text="Hard and soft bounces")
    assert "1 in all" in card.locator("h2").inner_text()
    card.locator("summary").click()                         # the numbers beside the chart
    assert card.locator("tbody tr").count() == 1 and card.locator("tbody td.num").first.inner_text() == "1"
    added = page.locator(".chart-card", has_text="Suppressions added and lifted")
    assert "+ previously_bounced" in added.locator(".legend").inner_text()
    assert page.locator("svg.chart rect").count() >= 3

    # a fortnight of mixed traffic: the charts and the sender health add it up by day
    kinds = [("550 5.1.1 user unknown", "5.1.1"), ("452 4.2.2 mailbox full", "4.2.2"),
             ("554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org", "5.7.1")]
    events = []
    for day in range(1, 15):
        for n in range(day % 4 + 1):
            diagnostic, status = kinds[(day + n) % 3]
            events.append({"id": f"h{day}-{n}", "type": "bounce", "recipient": f"u{day}-{n}@d{n}.example.org",
                           "time": ago(days=day), "status": status, "reply_code": diagnostic[:3],
                           "diagnostic": diagnostic, "remote_mta": f"mx{n}.d{n}.example.org"})
        events.append({"id": f"c{day}", "type": "complaint", "recipient": f"cc{day}@example.org", "time": ago(days=day)}
                      if day % 5 == 0 else {"id": f"dl{day}", "type": "delivered", "recipient": f"ok{day}@example.org",
                                            "time": ago(days=day)})
    post(api, events)
    page.reload()
    failures = page.locator(".chart-card", has_text="Failures per day by category")
    recipient_side = sum(1 for e in events if e["type"] == "bounce" and not e["status"].startswith("5.7"))
    assert f"{recipient_side + 1} in all" in failures.locator("h2").inner_text()
    blocks = sum(1 for e in events if e["type"] == "bounce" and e["status"].startswith("5.7"))
    assert f"{blocks} in all" in page.locator(".chart-card", has_text="Sender health").locator("h2").inner_text()
    assert "mx" in page.locator("table", has_text="remote MTA").inner_text()
    assert page.inner_text(".tile:has(.l:text-is('complaint')) .n") == "2"
    assert page.errors == []
    shot(page, shots, "overview")


def test_two_review_items_labelled_with_the_keyboard_and_undone_with_u(make_tenant, page_for, shots):
    api = make_tenant("Review")
    post(api, [bounce("a", i, TEXT) for i in range(3)] + [bounce("b", i, "Plugh xyzzy thud") for i in range(2)]
         + [bounce("c", 0, "Corge quux wibble")])
    page = page_for(api.key)
    page.goto("/console/review")
    items = page.locator("li.item")
    assert items.count() == 3 and "3×" in items.nth(0).inner_text()       # most frequent first
    first, second = (items.nth(i).get_attribute("data-id") for i in (0, 1))
    assert "selected" in items.nth(0).get_attribute("class")

    page.keyboard.press("/")                                # search a reason, Enter labels with the first
    page.keyboard.type("mailbox over quota")
    assert page.locator("#reason-list li.first").get_attribute("data-code") == "mailboxfull"
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-status:text('labelled mailboxfull')")
    assert "selected" in items.nth(1).get_attribute("class")               # moved on to the next
    page.keyboard.press("1")                                # number keys: the numbered reasons
    page.wait_for_selector("#review-status:text('labelled userunknown')")

    labelled = {i["id"]: i["label"] for i in api.get("/v1/review?status=labelled").json()["items"]}
    assert {k: v["reason"] for k, v in labelled.items()} == {first: "mailboxfull", second: "userunknown"}
    assert {v["by"] for v in labelled.values()} == {f"key:{key_id(api)}"}   # recorded as the API records it
    shot(page, shots, "review")

    page.keyboard.press("u")                                # undo the last label
    page.wait_for_selector("#review-status:text('label taken back')")
    assert api.get(f"/v1/review/{second}").json()["status"] == "open"
    assert api.get(f"/v1/review/{first}").json()["label"]["reason"] == "mailboxfull"
    page.keyboard.press("j")
    page.keyboard.press("k")                                # back on the reopened item
    page.keyboard.press("2")
    page.wait_for_selector("#review-status:text('labelled hasmoved')")
    assert api.get(f"/v1/review/{second}").json()["label"]["reason"] == "hasmoved"
    assert page.errors == []

    page.goto(f"/console/review/{second}")                  # the item's own page: evidence, verdict, examples
    assert "Plugh xyzzy thud" in page.inner_text("pre.evidence")
    assert page.locator("a", has_text="b0@example.org").count() == 1
    shot(page, shots, "review-item")


def test_bulk_label_of_a_filtered_set(make_tenant, page_for):
    api = make_tenant("Bulk")
    post(api, [bounce("p", 0, "Plugh one"), bounce("q", 0, "Quux two"), bounce("r", 0, "Rho three")])
    # which of these nonsense texts the classifier leaves undecided (review reason "unknown")
    # and which it guesses at (low-confidence) is the model's business: the filter is what the
    # API says it selects, and the bulk label must take exactly those
    queued = api.get("/v1/review").json()["items"]
    unknown = {i["id"] for i in queued if i["review_reason"] == "unknown"}
    assert len(queued) == 3 and len(unknown) >= 2, queued
    page = page_for(api.key)
    page.goto("/console/review?review_reason=unknown")
    page.select_option("select[name=reason]", "onhold")
    page.check("input[name=confirm]")
    page.get_by_role("button", name="Bulk label").click()
    assert f"Labelled {len(unknown)} items" in page.inner_text(".notice")
    assert api.get("/v1/review").json()["stats"] == {"open": 3 - len(unknown), "labelled": len(unknown),
                                                     "dropped": 0, "max_open": 10000}
    assert {i["id"] for i in api.get("/v1/review").json()["items"]} == {i["id"] for i in queued} - unknown


def test_train_compare_activate_then_reclassify_dry_run_and_apply(make_tenant, page_for, shots):
    api = make_tenant("Models")
    post(api, [bounce("m", i, TEXT, "full@example.org") for i in range(3)] + [bounce("x", i, TEXT) for i in range(4)])
    [item] = api.get("/v1/review").json()["items"]
    assert api.post(f"/v1/review/{item['id']}", json={"reason": "mailboxfull"}).status_code == 200
    page = page_for(api.key)

    page.goto("/console/models")                            # train: a background job with its progress
    page.fill("input[name=weight]", "20")
    page.get_by_role("button", name="Train a model").click()
    page.wait_for_url(re.compile(r".*/console/jobs/[0-9a-f]{16}$"))
    assert wait_job(page) == "done", page.inner_text("main")
    version = re.search(r"New model (\S+):", page.inner_text("main")).group(1)

    page.get_by_role("button", name="Compare with the active model").click()     # side by side
    assert wait_job(page) == "done", page.inner_text("main")
    text = page.inner_text("main")
    assert "This tenant's labels (1)" in text and "Corpus, held-out split" in text and version in text
    images = page.locator(".pictures img")
    assert images.count() == 4
    assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 300") for i in range(4))
    labels = page.locator(".card", has=page.locator("h2", has_text="This tenant's labels"))
    assert labels.locator("tr", has_text="mailbox_full").count() == 1      # the per-class difference
    shot(page, shots, "evaluation")

    operator = page_for(OPERATOR_KEY)                       # the registry is the service's: the operator activates
    operator.goto("/console/models")
    operator.locator("tr", has_text=version).get_by_role("button", name="Activate…").click()
    assert f"Activate {version}?" in operator.inner_text("h1")           # a confirmation first
    operator.get_by_role("button", name=f"Yes, activate {version}").click()
    assert f"activated {version}" in operator.inner_text(".notice")
    shot(operator, shots, "models-operator")
    answer = api.post("/v1/classify", json={"diagnostic": TEXT, "reply_code": "550"}).json()
    assert answer["model"] == version and answer["results"][0]["reason"] == "mailboxfull"

    page.goto("/console/models")                            # reclassify: a dry run as a table
    page.get_by_role("button", name="Dry run").click()
    assert wait_job(page) == "done", page.inner_text("main")
    row = page.locator("table.reclassify tr", has_text="full@example.org")
    assert row.locator("td").nth(1).inner_text().split("\n") == ["onhold → mailboxfull"] * 3
    assert row.locator("td").nth(2).inner_text() == "mailbox_full"
    assert api.get("/v1/recipients/full@example.org").json()["sendable"] is True    # nothing changed yet
    shot(page, shots, "reclassify")
    page.get_by_role("button", name="Apply these changes").click()
    assert wait_job(page) == "done", page.inner_text("main")
    assert "Applied: 1 added, 0 lifted" in page.inner_text("main")
    answer = api.get("/v1/recipients/full@example.org").json()
    assert [r["code"] for r in answer["reasons"]] == ["mailbox_full"]
    audit = api.get("/v1/suppressions/audit").json()["entries"]
    assert [(a["action"], a["address"], a["by"]) for a in audit if a["action"] == "reclassify"] == [
        ("reclassify", "full@example.org", f"key:{key_id(api)}")]
    operator.goto("/console/models")                        # and back: a rollback, confirmed first
    operator.get_by_role("button", name="Roll back…").click()
    assert f"Roll back from {version}?" in operator.inner_text("h1")
    operator.get_by_role("button", name="Yes, roll back").click()
    assert "rolled back to default" in operator.inner_text(".notice")
    assert api.post("/v1/classify", json={"diagnostic": TEXT, "reply_code": "550"}).json()["model"] == "default"
    assert page.errors == [] and operator.errors == []


def test_look_up_lift_suppress_and_the_suppressions_list(make_tenant, page_for, shots, tmp_path):
    api = make_tenant("Addresses")
    post(api, [{"id": "hb-1", "type": "bounce", "recipient": "gone@example.org", "time": ago(minutes=5),
                "status": "5.1.1", "reply_code": "550", "diagnostic": "550 5.1.1 user unknown"}])
    page = page_for(api.key)
    page.goto("/console/addresses")
    page.fill("#one", "Gone@Example.org")
    page.get_by_role("button", name="Look up").click()
    assert "not sendable" in page.inner_text("h1")
    assert "previously_bounced" in page.inner_text("main")
    assert "550 5.1.1 user unknown" in page.inner_text(".timeline")
    shot(page, shots, "address")

    page.get_by_role("button", name="Lift").click()          # the note is required
    assert "a note is required" in page.inner_text("#lift-note-error")
    assert api.get("/v1/recipients/gone@example.org").json()["sendable"] is False
    page.fill("#lift-note", "the customer fixed the mailbox")
    page.get_by_role("button", name="Lift").click()
    assert "lifted previously_bounced" in page.inner_text(".notice")
    assert api.get("/v1/recipients/gone@example.org").json()["sendable"] is True
    entry = api.get("/v1/suppressions/audit").json()["entries"][0]
    assert (entry["action"], entry["note"], entry["by"]) == ("unsuppress", "the customer fixed the mailbox",
                                                             f"key:{key_id(api)}")

    page.fill("#s-note", "asked by phone")
    page.get_by_role("button", name="Suppress").click()
    assert "suppressed: manual" in page.inner_text(".notice")

    page.goto("/console/addresses")                         # a pasted list
    page.fill("textarea[name=addresses]", "gone@example.org\nnew@example.org, not-an-address")
    page.get_by_role("button", name="Check").click()
    assert "3 checked: 1 sendable, 2 not" in page.inner_text("main")

    page.goto("/console/suppressions?code=manual")          # the list, its filters, export and import
    for _ in range(100):             # a selective filter may give short pages (as the API's): follow them
        if page.locator("table a", has_text="gone@example.org").count() or not page.locator(
                "a", has_text="Next page").count():
            break
        page.get_by_role("link", name="Next page").click()
    assert page.locator("table a", has_text="gone@example.org").count() == 1
    page.goto("/console/suppressions?code=manual")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    csv_text = open(download.value.path(), encoding="utf-8").read()
    assert csv_text.startswith("address,") and "gone@example.org" in csv_text
    upload = tmp_path / "list.csv"
    upload.write_text("address,code\nann@example.org,manual\nnot an address,manual\nbob@example.org,\n")
    page.set_input_files("#file", str(upload))
    page.get_by_role("button", name="Import").click()
    report = page.inner_text("section[role=status]")
    assert "3 rows: 2 new suppressions, 1 rejected" in report and "not an address" not in report.split("line")[0]
    assert page.locator("section[role=status] td.num", has_text="3").count() == 1      # the rejected line
    assert api.get("/v1/recipients/ann@example.org").json()["sendable"] is False
    shot(page, shots, "suppressions")
    assert page.errors == []


def test_policy_editor_shows_the_apis_error_inline_then_saves(make_tenant, page_for, shots):
    api = make_tenant("Policy")
    page = page_for(api.key)
    page.goto("/console/settings")
    page.fill("#overrides", '{"bounces": {"mailbox_full": {"soft_after": 0}}}')
    page.get_by_role("button", name="Save policy").click()
    error = page.inner_text("#policy-errors")
    api_error = api.patch("/v1/policy", json={"bounces": {"mailbox_full": {"soft_after": 0}}}).json()
    assert api_error["details"][0]["field"] in error and api_error["details"][0]["problem"] in error
    assert page.locator("tr.has-error", has_text="bounces.mailbox_full.soft_after").count() == 1
    assert page.input_value("#overrides") == '{"bounces": {"mailbox_full": {"soft_after": 0}}}'  # kept for fixing
    shot(page, shots, "settings-error")
    page.fill("#overrides", '{"min_confidence": 0.7}')
    page.get_by_role("button", name="Save policy").click()
    assert "policy saved" in page.inner_text(".notice")
    assert api.get("/v1/policy").json()["overrides"] == {"min_confidence": 0.7}
    assert page.locator("tr.override").inner_text().split()[:2] == ["min_confidence", "0.7"]
    text = page.inner_text("main")
    assert f"/v1/webhooks/sendgrid/{api.tenant}" in text                 # the URL to paste at the ESP
    shot(page, shots, "settings")


def test_esp_connections_show_the_last_event_and_refused_requests(make_tenant, page_for, service):
    api = make_tenant("ESP")
    r = api.put("/v1/providers/postmark", json={"credentials": {"username": "pm", "password": "s3cret-pass"}})
    assert r.status_code == 200, r.text
    url = f"{service.url}/v1/webhooks/postmark/{api.tenant}"
    delivery = {"RecordType": "Delivery", "MessageID": "m-1", "Recipient": "ann@example.org",
                "DeliveredAt": ago(minutes=3)}
    assert requests.post(url, json=delivery, auth=("pm", "wrong"), timeout=10).status_code == 401
    assert requests.post(url, json=delivery, auth=("pm", "s3cret-pass"), timeout=10).status_code == 200
    page = page_for(api.key)
    page.goto("/console/settings")
    row = page.locator("tr", has_text="Postmark")
    cells = [row.locator("td").nth(i).inner_text() for i in range(6)]
    assert cells[1].endswith(f"/v1/webhooks/postmark/{api.tenant}") and cells[1].startswith(service.url)
    assert "set" in cells[2] and "s3cret-pass" not in page.content()
    assert cells[3].startswith(datetime.now(UTC).strftime("%Y-%m-%d")) and cells[4] == "1"
    assert cells[5].startswith("1") and "last" in cells[5]
    assert "not configured" in page.locator("tr", has_text="SendGrid").inner_text()


def test_keys_are_created_and_revoked_and_a_revoked_key_ends_its_session(make_tenant, page_for, service):
    api = make_tenant("Keys")
    page = page_for(api.key)
    page.goto("/console/settings")
    page.get_by_role("button", name="Create a key").click()
    new_key = page.inner_text("#new-key")
    assert requests.get(service.url + "/v1/policy", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    other = page_for(new_key)
    other.goto("/console/overview")
    assert other.url.endswith("/console/overview")
    row = page.locator("tr", has_text=hashlib.sha256(new_key.encode()).hexdigest()[:12])
    row.locator("input[name=confirm]").check()
    row.get_by_role("button", name="Revoke").click()
    assert "revoked" in page.inner_text(".notice")
    # each worker keeps a resolved key KEY_CACHE_SECONDS: within that, the key and its
    # console session stop working everywhere (README, "API keys")
    deadline = time.monotonic() + KEY_CACHE_SECONDS + 2
    while True:
        api_status = requests.get(service.url + "/v1/policy", headers={"Authorization": f"Bearer {new_key}"},
                                  timeout=10).status_code
        other.goto("/console/overview")
        if (api_status == 401 and "/console/sign-in" in other.url) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert api_status == 401
    assert "/console/sign-in" in other.url                  # that key's console session ended with it


def test_sign_out_then_pages_are_refused_even_with_the_old_cookie(make_tenant, page_for, browser, service):
    api = make_tenant("Sign out")
    page = page_for(api.key)
    cookies = page.context.cookies()
    [cookie] = [c for c in cookies if c["name"] == "rebound_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out" in page.inner_text("main")
    page.goto("/console/review")
    assert "/console/sign-in" in page.url
    replay = browser.new_context(base_url=service.url)      # a copy of the cookie taken before signing out
    try:
        replay.add_cookies([cookie])
        p = replay.new_page()
        p.goto("/console/review")
        assert "/console/sign-in" in p.url
    finally:
        replay.close()


def test_a_wrong_key_is_refused(page_for):
    page = page_for("")
    page.goto("/console/sign-in")
    page.fill("#key", "rbk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "Unknown or revoked key" in page.inner_text("#key-error")


def test_another_tenants_review_item_is_refused(make_tenant, page_for):
    a, b = make_tenant("Tenant A"), make_tenant("Tenant B")
    post(a, [bounce("a", 0, OTHER)])
    [item] = a.get("/v1/review").json()["items"]
    page = page_for(b.key)
    response = page.goto(f"/console/review/{item['id']}")
    assert response.status == 404 and "No review item" in page.inner_text("main")
    assert OTHER not in page.content()
    status = page.evaluate("""([id]) => fetch('/console/review/' + id + '/label', {method: 'POST',
        headers: {'X-CSRFToken': document.querySelector('input[name=csrf_token]').value, 'Accept': 'application/json'},
        body: new URLSearchParams({reason: 'userunknown'})}).then(r => r.status)""", [item["id"]])
    assert status == 404
    assert a.get(f"/v1/review/{item['id']}").json()["status"] == "open"


def test_a_form_posted_without_its_csrf_token_is_refused(make_tenant, page_for):
    api = make_tenant("CSRF")
    page = page_for(api.key)
    page.goto("/console/addresses/x@example.org")
    for form in ({"note": "no token"}, {"note": "wrong token", "csrf_token": "forged"}):
        r = page.request.post("/console/addresses/x@example.org/suppress", form=form)
        assert r.status == 400 and "security token" in r.text()
    assert api.get("/v1/recipients/x@example.org").json()["sendable"] is True
    # the same form with its token goes through
    page.fill("#s-note", "with its token")
    page.get_by_role("button", name="Suppress").click()
    assert api.get("/v1/recipients/x@example.org").json()["sendable"] is False


def test_every_page_is_usable_at_390_px(make_tenant, page_for, shots):
    api = make_tenant("Narrow")
    post(api, [bounce("n", 0, OTHER, "narrow@example.org")])
    [item] = api.get("/v1/review").json()["items"]
    page = page_for(api.key, width=390, height=844)
    pages = {"overview": "/console/overview", "review": "/console/review", "review-item": f"/console/review/{item['id']}",
             "models": "/console/models", "addresses": "/console/addresses", "address": "/console/addresses/narrow@example.org",
             "suppressions": "/console/suppressions", "settings": "/console/settings"}
    for name, path in pages.items():
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide"
        shot(page, shots, f"390-{name}")
    operator = page_for(OPERATOR_KEY, width=390, height=844)
    operator.goto("/console/operator")
    assert operator.evaluate("document.documentElement.scrollWidth") <= 390
    assert api.tenant in operator.inner_text("main")
    shot(operator, shots, "390-operator")
    assert page.errors == [] and operator.errors == []
