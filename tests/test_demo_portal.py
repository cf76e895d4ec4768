"""The bundled demo portal: its page contract over HTTP, its faults, and its JavaScript in Chromium."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo.portal.app import PortalConfig, PortalServer, run_in_thread

MASTER_DATA = Path(__file__).resolve().parents[1] / "demo" / "masterdata"
HIDDEN = re.compile(r'<input type="hidden" (?:id="[^"]*" )?name="([^"]+)" value="([^"]*)">')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    db_path = tmp_path_factory.mktemp("portal") / "portal.db"
    with run_in_thread(PortalConfig(db_path=db_path, master_data=MASTER_DATA, test_api=True, seed=7)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts without orders and faults."""
    if "server" not in request.fixturenames:
        yield
        return
    srv: PortalServer = request.getfixturevalue("server")
    httpx.post(f"{srv.url}/_test/reset")
    yield
    srv.config.maintenance, srv.config.error_rate, srv.config.commit_then_fail_rate = False, 0.0, 0.0
    srv.config.latency_ms, srv.config.session_timeout = 0, 900


def hidden(html: str) -> dict[str, str]:
    return dict(HIDDEN.findall(html))


def errors(html: str) -> list[str]:
    return re.findall(r'<div class="error">([^<]*)</div>', html)


def row_message(html: str, row: int) -> str:
    return re.search(rf'id="row-message-{row}">([^<]*)<', html).group(1)


def login(client: httpx.Client, password: str = "clerk-pass") -> httpx.Response:
    page = client.get("/login")
    return client.post("/login", data={**hidden(page.text), "username": "clerk", "password": password})


@pytest.fixture()
def client(server: PortalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as c:
        assert login(c).status_code == 303
        yield c


def new_form(client: httpx.Client) -> dict[str, str]:
    return hidden(client.get("/orders/new").text)


def orders(server: PortalServer) -> list[dict]:
    return httpx.get(f"{server.url}/_test/orders").json()


GOOD = {"customer_no": "C1001", "ship_to": "C1001-02", "customer_ref": "4500012345",
        "requested_date": "24.12.2026", "ship_method": "EXP", "rush": "1",
        "item_1": "AX-1410", "qty_1": "1.250", "price_1": "", "item_3": "ax-2040", "qty_3": "12,5", "price_3": "12,90"}


def save(client: httpx.Client, form: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    data = {**(form or new_form(client)), **GOOD, **fields, "action": "save"}
    return client.post("/orders/new", data=data)


# -- login, sessions, CSRF ---------------------------------------------------------------------------


def test_login_ok_and_bad(server: PortalServer) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=True) as c:
        bad = login(c, password="wrong")
        assert bad.status_code == 200
        assert '<div class="error">Invalid user name or password.</div>' in bad.text
        assert "PORTALSESSID" not in c.cookies
        ok = login(c)
        assert ok.url.path == "/menu" and "Main menu" in ok.text
        assert "HttpOnly" in ok.history[0].headers["set-cookie"]


def test_login_redirects_to_a_local_next_only(server: PortalServer) -> None:
    for target, expected in [("/orders/search", "/orders/search"), ("https://evil.example/", "/menu")]:
        with httpx.Client(base_url=server.url) as c:
            page = c.get("/login")
            r = c.post("/login", data={**hidden(page.text), "username": "clerk", "password": "clerk-pass",
                                       "next": target}, follow_redirects=False)
            assert r.headers["location"] == expected


def test_csrf_token_is_required(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    for token in ("", "forged"):
        r = client.post("/orders/new", data={**form, **GOOD, "csrf_token": token, "action": "save"})
        assert r.status_code == 403 and "Invalid form token" in r.text
    with httpx.Client(base_url=server.url) as anonymous:
        r = anonymous.post("/login", data={"csrf_token": "x", "username": "clerk", "password": "clerk-pass"})
        assert r.status_code == 403
    assert orders(server) == []


def test_expired_session_redirects_and_does_not_save(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    server.config.session_timeout = 0.2
    time.sleep(0.3)
    r = save(client, form)
    assert r.status_code == 303 and r.headers["location"] == "/login?expired=1"
    assert orders(server) == []
    notice = client.get("/login?expired=1").text
    assert '<div class="notice">Your session has expired. Please log in again.</div>' in notice
    assert client.get("/menu").headers["location"] == "/login?expired=1"


def test_logout_ends_the_session(client: httpx.Client) -> None:
    cookie = client.cookies["PORTALSESSID"]
    assert client.get("/logout").headers["location"] == "/login"
    client.cookies.set("PORTALSESSID", cookie)
    assert client.get("/menu").headers["location"] == "/login?expired=1"


# -- order entry ---------------------------------------------------------------------------------------


def test_select_customer_fills_ship_to(client: httpx.Client) -> None:
    blank = client.get("/orders/new").text
    form = hidden(blank)
    assert "<option" not in re.search(r'<select id="ship_to".*?</select>', blank, re.DOTALL).group(0)
    r = client.post("/orders/new", data={**form, "customer_no": "C1001", "action": "select_customer"})
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', r.text)
    assert ("C1001-01", "Nordwind Logistik GmbH, Hafenstrasse 12, 20457 Hamburg, DE") in options
    assert ("OTHER", "Other address…") in options and 'id="other_address"' in r.text
    unknown = client.post("/orders/new", data={**form, "customer_no": "C9999", "action": "select_customer"})
    assert errors(unknown.text) == ["Unknown customer C9999."]


def test_add_rows_keeps_values(client: httpx.Client) -> None:
    data = {**new_form(client), **GOOD, "action": "add_rows"}
    r = client.post("/orders/new", data=data)
    assert hidden(r.text)["rows"] == "10" and 'aria-label="Item 10"' in r.text
    for name in ("customer_ref", "requested_date", "item_3", "qty_3", "price_3", "qty_1"):
        assert f'name="{name}"' in r.text and f'value="{GOOD[name]}"' in r.text
    assert 'value="EXP" selected' in r.text and 'id="rush" name="rush" value="1" checked' in r.text
    assert "Stretch film 500mm x 300m 23my" in r.text  # description of a known item


def test_save_validation_messages(client: httpx.Client, server: PortalServer) -> None:
    r = save(client, item_2="NOPE-1", qty_2="3", item_4="AX-1410", qty_4="-2",
             requested_date="2026-12-24", customer_ref="X" * 21)
    assert r.status_code == 200
    assert "Requested date: use dd.mm.yyyy." in errors(r.text)
    assert "Customer reference: at most 20 characters." in errors(r.text)
    assert "Please correct the marked rows." in errors(r.text)
    assert row_message(r.text, 2) == "Unknown item NOPE-1."
    assert row_message(r.text, 4) == "Invalid quantity."
    assert 'value="NOPE-1"' in r.text and 'value="2026-12-24"' in r.text  # values are kept
    other = save(client, ship_to="OTHER", other_address="  ")
    assert any(e.startswith("Other address") for e in errors(other.text))
    assert orders(server) == []


def test_successful_save_and_detail_page(client: httpx.Client, server: PortalServer) -> None:
    r = save(client)
    assert r.status_code == 303 and r.headers["location"] == "/orders/SO-000001?saved=1"
    page = client.get(r.headers["location"]).text
    assert "<h1>Order SO-000001</h1>" in page
    assert '<div class="confirmation" id="confirmation">Order SO-000001 has been saved.</div>' in page
    expected = {"customer_no": "C1001", "customer_name": "Nordwind Logistik GmbH", "customer_ref": "4500012345",
                "requested_date": "24.12.2026", "ship_method": "EXP", "rush": "Yes", "ship_to": "C1001-02",
                "ship_to_text": "Nordwind Logistik GmbH, Lager Billbrook, Billbrookdeich 210, 22113 Hamburg, DE"}
    for key, value in expected.items():
        assert f'<td id="hdr-{key}">{value}</td>' in page
    lines = re.findall(r'<tr class="line">(.*?)</tr>', page)
    assert len(lines) == 2
    assert '<td class="qty">1250</td>' in lines[0] and '<td class="price">0,28</td>' in lines[0]
    assert '<td class="qty">12,5</td>' in lines[1] and '<td class="amount">161,25</td>' in lines[1]
    [saved] = orders(server)
    assert saved["requested_date"] == "2026-12-24" and saved["rush"] is True
    assert [(ln["item"], ln["quantity"], ln["unit_price"]) for ln in saved["lines"]] == [
        ("AX-1410", "1250", "0.28"), ("AX-2040", "12.5", "12.90")]


def test_double_submit_creates_one_order(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    first = save(client, form)
    second = save(client, form)
    number = first.headers["location"].split("?")[0]
    assert second.status_code == 303 and second.headers["location"] == number
    assert len(orders(server)) == 1
    # A new form accepts the same customer reference again: exactly-once is the client's job.
    assert save(client).headers["location"] == "/orders/SO-000002?saved=1"


def test_price_deviation_needs_confirmation(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    refused = save(client, form, price_3="15,00")
    assert row_message(refused.text, 3) == "Price differs from list price; confirm to save."
    assert orders(server) == []
    accepted = save(client, form, price_3="15,00", price_confirmed="1")
    assert accepted.status_code == 303
    assert orders(server)[0]["lines"][1]["unit_price"] == "15.00"


def test_search(client: httpx.Client) -> None:
    save(client)
    save(client, customer_no="C1002", ship_to="C1002-01", customer_ref="PO-77a")
    hit = client.get("/orders/search", params={"customer_ref": "  po-77A "}).text
    assert re.findall(r'<td class="order-no"><a href="/orders/(SO-\d+)">', hit) == ["SO-000002"]
    assert '<td class="customer">C1002</td>' in hit and '<td class="ref">PO-77a</td>' in hit
    both = client.get("/orders/search", params={"customer_no": "C1001", "customer_ref": ""}).text
    assert both.count('<tr class="result">') == 1
    none = client.get("/orders/search", params={"customer_no": "C1003"}).text
    assert '<p id="no-results">No orders found.</p>' in none


# -- faults and the test API --------------------------------------------------------------------------


def test_maintenance(client: httpx.Client, server: PortalServer) -> None:
    server.config.maintenance = True
    r = client.get("/menu")
    assert r.status_code == 503 and "<h1>System maintenance</h1>" in r.text
    assert client.get("/static/portal.css").status_code == 200


def test_error_rate_fails_before_saving(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    server.config.error_rate = 1.0
    r = save(client, form)
    assert r.status_code == 500 and "<h1>Internal Server Error</h1>" in r.text
    assert orders(server) == []
    server.config.error_rate = 0.0
    assert save(client, form).status_code == 303  # the form is still good


def test_commit_then_fail(client: httpx.Client, server: PortalServer) -> None:
    form = new_form(client)
    server.config.commit_then_fail_rate = 1.0
    r = save(client, form)
    assert r.status_code == 500
    [saved] = orders(server)
    assert saved["form_token"] == form["form_token"]
    assert save(client, form).headers["location"] == f"/orders/{saved['order_number']}"


def test_latency(client: httpx.Client, server: PortalServer) -> None:
    server.config.latency_ms = 150
    started = time.monotonic()
    client.get("/menu")
    assert time.monotonic() - started >= 0.15


def test_test_api_is_off_by_default(tmp_path: Path) -> None:
    with run_in_thread(PortalConfig(db_path=tmp_path / "p.db", master_data=MASTER_DATA)) as srv:
        assert httpx.get(f"{srv.url}/_test/orders").status_code == 404
        assert httpx.post(f"{srv.url}/_test/reset").status_code == 404


def test_orders_survive_a_restart(tmp_path: Path) -> None:
    config = PortalConfig(db_path=tmp_path / "p.db", master_data=MASTER_DATA, test_api=True)
    for expected in ("/orders/SO-000001?saved=1", "/orders/SO-000002?saved=1"):
        with run_in_thread(config) as srv, httpx.Client(base_url=srv.url) as c:
            login(c)
            assert save(c).headers["location"] == expected


# -- the browser side ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = "/usr/bin/chromium"
    options: dict = {"headless": True}
    if os.path.exists(chromium):
        options["executable_path"] = chromium
    if os.geteuid() == 0:
        options["args"] = ["--no-sandbox"]
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(**options)
        except sync_api.Error as exc:
            pytest.skip(f"no Chromium browser available: {exc.message.splitlines()[0]}")
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server: PortalServer):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto("/login")
    page.get_by_label("User name").fill("clerk")
    page.get_by_label("Password").fill("clerk-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/menu")
    yield page
    context.close()


def test_browser_lookup_popup_selects_customer(page) -> None:
    page.goto("/orders/new")
    with page.expect_popup() as popup_info:
        page.click("#lookup-customer")
    popup = popup_info.value
    popup.get_by_label("Search").fill("bergmann")
    popup.get_by_role("button", name="Search").click()
    with page.expect_navigation():
        popup.click('a.pick[data-customer="C1002"]')
    assert page.input_value("#customer_no") == "C1002"
    assert page.locator("#ship_to option").first.get_attribute("value") == "C1002-01"


def test_browser_add_more_rows(page) -> None:
    page.goto("/orders/new")
    page.fill("#customer_ref", "PO-ROWS")
    page.get_by_label("Item 5", exact=True).fill("AX-1410")
    page.get_by_role("button", name="Add more rows").click()
    page.wait_for_selector('[aria-label="Item 10"]')
    assert page.input_value("#customer_ref") == "PO-ROWS"
    assert page.get_by_label("Item 5", exact=True).input_value() == "AX-1410"
    assert page.locator("#lines tbody tr").count() == 10


def test_browser_price_confirm_dialog(page, server: PortalServer) -> None:
    page.goto("/orders/new")
    page.fill("#customer_no", "C1001")
    page.get_by_role("button", name="Select customer").click()
    page.select_option("#ship_to", "C1001-01")
    page.fill("#customer_ref", "PO-DIALOG")
    page.get_by_label("Item 1", exact=True).fill("AX-2040")
    page.get_by_label("Quantity 1", exact=True).fill("2")
    page.get_by_label("Unit price 1", exact=True).fill("20,00")
    messages: list[str] = []

    def dismiss(dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#save")
    page.wait_for_timeout(300)
    assert messages == ["Row 1: unit price differs from the list price. Save anyway?"]
    assert orders(server) == [] and page.url.endswith("/orders/new")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#save")
    page.wait_for_url("**/orders/SO-*?saved=1")
    assert page.text_content("#confirmation") == "Order SO-000001 has been saved."
    assert page.text_content("#order-lines td.price") == "20,00"


def test_concurrent_sessions_get_distinct_numbers(server: PortalServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server.config.latency_ms = 20  # interleave the requests of the sessions

    def clerk(n: int) -> list[str]:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            login(c)
            return [save(c, customer_ref=f"PO-{n}-{k}").headers["location"] for k in range(3)]

    with ThreadPoolExecutor(4) as pool:
        locations = [loc for batch in pool.map(clerk, range(4)) for loc in batch]
    assert len(set(locations)) == 12 and len(orders(server)) == 12
