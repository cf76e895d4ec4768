"""The review workbench in a real browser against a real server.

uvicorn serves ``bot.review.app`` in a thread on a free loopback port; the
store is a SQLite file filled by the real pipeline from demo messages (and one
hostile message stored as the pipeline would); Chromium is driven by
Playwright; a clarification email goes to a real aiosmtpd server.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from bot.config import ReviewSettings
from bot.model import (
    Field,
    MessageStatus,
    Order,
    OrderLine,
    OrderState,
    Provenance,
    Reason,
    ReasonCode,
)
from bot.outgoing import MailQueue
from bot.replies import ReplyWriter, Templates
from bot.review.app import create_app
from bot.review.audit import Audit
from bot.review.auth import Accounts
from bot.review.corrections import Corrections
from bot.review.store import ReviewDb
from bot.store import Entity, MailStatus, Store
from connectors.smtp import SmtpTransport
from tests.test_pipeline import make_pipeline
from tests.test_smtp import SENDER, Recorder, free_port, plain, smtp_server

ROOT = Path(__file__).resolve().parents[1]
DEMO_INBOX = ROOT / "demo" / "inbox"
PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"

PRICE_MISMATCH_PDF = "sample-0025.eml"  # Bergmann, a PDF, price_mismatch
AMBIGUOUS = "sample-0041.eml"  # a plain-text order, ambiguous quantities
CHANGE = "sample-0023.eml"  # a change request
SPREADSHEET = "sample-0006.eml"  # an XLSX order the bot made ready on its own

XSS = [
    "<script>alert('subject')</script>",
    "<img src=x onerror=alert('body')>",
    '"><svg onload=alert("name")>',
    "javascript:alert('value')",
]


@dataclass
class Bench:
    url: str
    store: Store
    orders: dict[str, int]  # demo file name -> order id
    smtp: Recorder
    db: ReviewDb


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        kwargs: dict = {"headless": True}
        if os.path.exists(CHROMIUM):
            kwargs["executable_path"] = CHROMIUM
        if os.geteuid() == 0:
            kwargs["args"] = ["--no-sandbox"]
        browser = p.chromium.launch(**kwargs)
        yield browser
        browser.close()


def hostile_message(store: Store) -> int:
    """A message and order full of XSS payloads, stored as the pipeline stores one."""
    raw = (
        "From: Mallory <mallory@nordwind.de>\r\nTo: orders@kestrel-supply.example\r\n"
        f"Subject: {XSS[0]} {XSS[1]}\r\nMessage-ID: <evil-1@nordwind.de>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n"
        f"--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain {XSS[1]} {XSS[0]}\r\n"
        "--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>html</p>{XSS[0]}{XSS[1]}<a href=\"{XSS[3]}\">link</a><img src=\"http://127.0.0.1:9/pixel.gif\">"
        "<style>body{background:url(http://127.0.0.1:9/x)}</style><iframe src=\"javascript:alert(1)\"></iframe>\r\n"
        "--YY--\r\n"
        f"--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"{XSS[2]}.txt\"\r\n\r\n{XSS[1]}\r\n--XX--\r\n"
    ).encode()
    sha = hashlib.sha256(raw).hexdigest()
    entry = store.record_message(message_id="<evil-1@nordwind.de>", sha256=sha, dedup_key=f"evil:{sha}", raw=raw, origin="test", name=f"{XSS[2]}.eml")
    store.add_document(entry.id, f'{XSS[2]}.txt', "text/plain", XSS[1].encode())
    evil = Provenance(f"attachment:{XSS[2]}.txt", page=1, bbox=(1, 2, 3, 4))
    order = Order(
        source="body",
        customer_id=Field("C1001", 1.0),
        po_number=Field(XSS[0], 0.5, evil),
        notes=Field(XSS[3], 0.5),
        lines=(OrderLine(sku=Field(XSS[1], 0.4), quantity=Field(Decimal(1), 0.4), text=XSS[2]),),
        reasons=(Reason(ReasonCode.LOW_CONFIDENCE, XSS[0], field=XSS[2], expected=XSS[1], found=XSS[3]),),
    )
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.NEEDS_REVIEW, XSS[0])], MessageStatus.NEEDS_REVIEW)
    return stored.id


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, master) -> tuple[Path, dict[str, int]]:
    """A store the real pipeline filled from demo messages, plus the hostile one and
    three accounts; made once, copied for each test."""
    root = tmp_path_factory.mktemp("seed")
    inbox = root / "inbox"
    inbox.mkdir()
    for name in (PRICE_MISMATCH_PDF, AMBIGUOUS, CHANGE, SPREADSHEET):
        shutil.copy(DEMO_INBOX / name, inbox / name)
    with Store.open(f"sqlite:///{root / 'store.db'}") as store:
        make_pipeline(store, master, inbox).run_once()
        names = {store.message(o.ledger_id).name: o.id for o in store.orders()}
        names["hostile"] = hostile_message(store)
        accounts = Accounts(ReviewDb.for_store(store), idle=timedelta(minutes=30))
        accounts.add_user("hana", "handler", PASSWORD)
        accounts.add_user("ole", "handler", PASSWORD)
        accounts.add_user("sue", "supervisor", PASSWORD)
    return root / "store.db", names


@pytest.fixture
def bench(tmp_path: Path, master, seeded) -> Iterator[Bench]:
    template, names = seeded
    shutil.copy(template, tmp_path / "store.db")  # closed: its WAL is checkpointed into the file
    recorder = Recorder()
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store, smtp_server(recorder) as smtp_port:
        db = ReviewDb.for_store(store)
        writer = ReplyWriter(Templates.load(), sender=SENDER, master=master)
        mail = MailQueue(store, SmtpTransport(plain(smtp_port)), writer)
        app = create_app(store, master, settings=ReviewSettings(), mail=mail)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the workbench did not start"
            time.sleep(0.02)
        try:
            yield Bench(f"http://127.0.0.1:{port}", store, names, recorder, db)
        finally:
            server.should_exit = True
            thread.join(5)


@pytest.fixture
def watch() -> dict[str, list[str]]:
    return {"dialogs": [], "errors": []}


def new_page(browser: Browser, bench: Bench, watch: dict[str, list[str]] | None = None) -> Page:
    page = browser.new_context().new_page()
    if watch is not None:
        def on_dialog(dialog) -> None:
            watch["dialogs"].append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda m: watch["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watch["errors"].append(str(e)))
    return page


def login(page: Page, bench: Bench, name: str = "hana") -> None:
    page.goto(f"{bench.url}/orders/1")  # any page: without a session it sends us to log in
    assert page.url.endswith("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{bench.url}/")


def csrf(page: Page) -> str:
    return page.get_attribute("body", "data-csrf") or ""


# --- the common path -----------------------------------------------------------------


def test_a_handler_corrects_a_quantity_and_a_sku_and_approves(browser, bench, watch):
    """
    Given a PDF order flagged for a price mismatch
    When a handler logs in, opens it from the queue with the keyboard, sees the PDF
         page with the field boxes, corrects a quantity and a sku and approves
    Then the order is ready with the handler as actor, the corrections are kept as
         labelled examples with the PDF provenance, and the history shows it all
    """
    order_id = bench.orders[PRICE_MISMATCH_PDF]
    page = new_page(browser, bench, watch)
    login(page, bench)
    assert page.locator("#queue tbody tr[data-href]").count() == 4
    assert "price_mismatch" in page.inner_text(".reasons")
    row = page.locator(f'#queue tr[data-href="/orders/{order_id}"]')
    index = page.locator("#queue tbody tr[data-href]").evaluate_all(
        f"(rows) => rows.findIndex(r => r.dataset.href === '/orders/{order_id}')"
    )
    for _ in range(index):
        page.keyboard.press("j")
    assert "selected" in (row.get_attribute("class") or "")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{bench.url}/orders/{order_id}")

    page.wait_for_function("() => [...document.querySelectorAll('.page img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator(".page img").count() >= 1
    box = page.locator('.box[data-field="line-0-quantity"]')
    assert box.count() == 1
    page.hover("#line-0-quantity")
    assert "hot" in (box.get_attribute("class") or "")
    assert "price_mismatch" in page.inner_text("#reasons")

    before = bench.store.get_order(order_id).order.lines[0]
    page.fill("#line-0-quantity", "3")
    page.fill("#line-0-sku", "ax-1523")
    page.evaluate("document.querySelector('.source').scrollTop = 200")
    page.click("#save")  # a partial update: only the fields are replaced
    page.wait_for_function("() => document.getElementById('flash').textContent.startsWith('Saved')")
    assert page.inner_text("#flash") == "Saved: lines[0].sku, lines[0].quantity."
    assert page.evaluate("document.querySelector('.source').scrollTop") == 200
    assert page.input_value("#line-0-quantity") == "3"
    assert "100%" in page.inner_text('td[data-field="line-0-quantity"]')
    page.hover("#f-po_number")
    page.hover("#line-0-quantity")  # the fresh fields are linked to the boxes again
    assert "hot" in (box.get_attribute("class") or "")
    page.keyboard.press("a")
    page.wait_for_url(f"{bench.url}/")

    stored = bench.store.get_order(order_id)
    assert stored.state is OrderState.READY
    assert stored.order.lines[0].quantity.value == Decimal(3)
    assert stored.order.lines[0].sku.value == "AX-1523"
    last = bench.store.events(Entity.ORDER, order_id)[-1]
    assert (last.actor, last.to_state) == ("handler:hana", OrderState.READY)
    assert "price_mismatch" in (last.reason or "")
    examples = {c.field: c for c in Corrections(bench.db).all(order_id)}
    quantity = examples["lines[0].quantity"]
    assert (quantity.wrong, quantity.right, quantity.user) == (str(before.quantity.value), "3", "hana")
    assert quantity.document == "BE_4510060699_20261109.pdf"
    assert quantity.provenance["page"] == 1 and len(quantity.provenance["bbox"]) == 4
    assert (examples["lines[0].sku"].wrong, examples["lines[0].sku"].right) == (before.sku.value, "AX-1523")
    actions = [a.action for a in Audit(bench.db).entries(order_id)]
    assert actions[:1] == ["view"] and "edit" in actions and actions[-1] == "approve"

    page.goto(f"{bench.url}/orders/{order_id}/history")
    history = page.inner_text("#history-table")
    assert "handler:hana" in history and "lines[0].quantity" in history and "needs_review → ready" in history
    assert watch == {"dialogs": [], "errors": []}

    if os.environ.get("ORDERBOT_SCREENSHOTS"):
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{bench.url}/")
        page.screenshot(path=str(ROOT / "docs" / "review-queue.png"))
        other = bench.orders[AMBIGUOUS]
        page.goto(f"{bench.url}/orders/{bench.orders[CHANGE]}")
        page.goto(f"{bench.url}/orders/{other}")
        page.screenshot(path=str(ROOT / "docs" / "review-detail.png"), full_page=False)


def test_a_pdf_detail_screenshot(browser, bench):
    """Given a PDF order in review, when a handler opens it, then the page and its boxes are shown
    (kept as docs/review-detail.png when ORDERBOT_SCREENSHOTS is set)."""
    page = new_page(browser, bench)
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, bench)
    if os.environ.get("ORDERBOT_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / "review-queue.png"))
    page.goto(f"{bench.url}/orders/{bench.orders[PRICE_MISMATCH_PDF]}")
    page.wait_for_function("() => [...document.querySelectorAll('.page img')].every(i => i.complete && i.naturalWidth > 0)")
    page.hover("#line-1-quantity")
    assert page.locator(".box.hot").count() == 1
    by_part = page.request.get(f"{bench.url}/api/suggest?kind=sku&customer=C1002&q=100049697").json()
    assert by_part[0]["value"] == "AX-4976" and "100049697" in by_part[0]["label"]
    page.fill("#line-0-sku", "stretch film")  # typing asks master data for suggestions
    page.wait_for_function("() => document.querySelectorAll('#dl-sku option').length > 0")
    assert "AX-1523" in page.locator("#dl-sku option").evaluate_all("(os) => os.map(o => o.value)")
    customers = page.request.get(f"{bench.url}/api/suggest?kind=customer&q=bergmann").json()
    assert customers == [{"value": "C1002", "label": "Bergmann Maschinenbau AG"}]
    page.fill("#line-0-sku", "CT-9978")
    if os.environ.get("ORDERBOT_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / "review-detail.png"))


def test_a_handler_rejects_with_a_reason(browser, bench):
    """Given an order in review, when a handler rejects it with a reason, then it is rejected with that reason and actor."""
    order_id = bench.orders[AMBIGUOUS]
    page = new_page(browser, bench)
    login(page, bench)
    page.goto(f"{bench.url}/orders/{order_id}")
    page.hover("#f-po_number")  # a value read from the body lights up where it was read
    assert page.locator("#mail-body .mark.hot").all_inner_texts() == ["76321"]
    page.mouse.move(0, 0)
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    page.keyboard.type("customer cancelled by phone")
    page.click("#reject button")
    page.wait_for_url(f"{bench.url}/")
    stored = bench.store.get_order(order_id)
    assert stored.state is OrderState.REJECTED
    last = bench.store.events(Entity.ORDER, order_id)[-1]
    assert (last.actor, last.reason) == ("handler:hana", "customer cancelled by phone")


def test_asking_the_customer_sends_one_threaded_clarification(browser, bench):
    """
    Given an order with ambiguous quantities and a real SMTP server
    When the handler asks the customer (twice)
    Then one clarification email arrives, addressed to the sender, threaded to their
         message, naming the unclear lines; the order waits in review
    """
    order_id = bench.orders[AMBIGUOUS]
    page = new_page(browser, bench)
    login(page, bench)
    for _ in range(2):
        page.goto(f"{bench.url}/orders/{order_id}")
        page.click("#ask button")
        page.wait_for_url(f"{bench.url}/")
    assert len(bench.smtp.received) == 1
    received = bench.smtp.received[0]
    assert received.rcpt_tos == ["anna.smith@pennine-engineering.com"]
    sent = email.message_from_bytes(received.data, policy=email.policy.default)
    original = email.message_from_bytes((DEMO_INBOX / AMBIGUOUS).read_bytes(), policy=email.policy.default)
    assert sent["In-Reply-To"] == original["Message-ID"]
    assert bench.store.get_order(order_id).state is OrderState.NEEDS_REVIEW
    assert any(e.actor == "handler:hana" and "clarification" in (e.reason or "") for e in bench.store.events(Entity.ORDER, order_id))


def test_a_change_request_is_declined_and_a_duplicate_is_marked(browser, bench):
    """Given a change request and another order, when the handler declines the first
    and marks the second a duplicate, then both are rejected with those reasons."""
    page = new_page(browser, bench)
    login(page, bench)
    change = bench.orders[CHANGE]
    page.goto(f"{bench.url}/orders/{change}")
    assert page.locator("#approve").count() == 0
    page.fill("#decline input[name=reason]", "already shipped")
    page.click("#decline button")
    page.wait_for_url(f"{bench.url}/")
    assert bench.store.get_order(change).state is OrderState.REJECTED
    assert bench.store.events(Entity.ORDER, change)[-1].reason == "request declined: already shipped"

    dup = bench.orders[AMBIGUOUS]
    page.goto(f"{bench.url}/orders/{dup}")
    page.fill("#duplicate input[name=original]", str(bench.orders[PRICE_MISMATCH_PDF]))
    page.click("#duplicate button")
    page.wait_for_url(f"{bench.url}/")
    assert bench.store.events(Entity.ORDER, dup)[-1].reason == f"duplicate of order {bench.orders[PRICE_MISMATCH_PDF]}"


# --- security ---------------------------------------------------------------------------


def test_xss_payloads_never_run(browser, bench, watch):
    """
    Given a message with script payloads in its subject, HTML body, attachment name
         and extracted values
    When a handler views the queue, the order and its history
    Then no dialog opens, no console error appears, no remote image is fetched, the
         HTML is in a sandboxed iframe and every response carries the CSP
    """
    order_id = bench.orders["hostile"]
    page = new_page(browser, bench, watch)
    remote: list[str] = []
    page.on("request", lambda r: remote.append(r.url) if not r.url.startswith((bench.url, "data:", "about:")) else None)
    login(page, bench)
    response = page.goto(f"{bench.url}/orders/{order_id}")
    assert response is not None
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert XSS[0] in page.inner_text("#mail-subject")
    assert XSS[1] in (page.text_content("#mail-text") or "")
    assert XSS[1] in page.inner_text("#mail-body")
    assert page.input_value("#f-po_number") == XSS[0]
    iframe = page.locator("iframe.html")
    assert iframe.get_attribute("sandbox") == ""
    srcdoc = iframe.get_attribute("srcdoc") or ""
    assert "<script" not in srcdoc and "onerror" not in srcdoc and "javascript:" not in srcdoc and "9/pixel" not in srcdoc
    page.hover("#f-po_number")
    page.goto(f"{bench.url}/orders/{order_id}/history")
    page.goto(f"{bench.url}/")
    page.wait_for_timeout(300)
    assert watch == {"dialogs": [], "errors": []}
    assert remote == []


def test_a_change_without_the_csrf_token_is_refused(browser, bench):
    """Given a logged-in handler holding an order, when a POST comes without (or with a wrong) CSRF token, then 403 and nothing changes."""
    order_id = bench.orders[AMBIGUOUS]
    page = new_page(browser, bench)
    login(page, bench)
    page.goto(f"{bench.url}/orders/{order_id}")
    assert page.request.post(f"{bench.url}/orders/{order_id}/approve", form={}).status == 403
    assert page.request.post(f"{bench.url}/orders/{order_id}/reject", form={"csrf": "forged", "reason": "x"}).status == 403
    assert page.request.get(f"{bench.url}/orders/{order_id}/approve").status == 405  # changes only by POST
    assert bench.store.get_order(order_id).state is OrderState.NEEDS_REVIEW
    ok = page.request.post(f"{bench.url}/orders/{order_id}/reject", form={"csrf": csrf(page), "reason": "test"}, max_redirects=0)
    assert ok.status == 303
    assert bench.store.get_order(order_id).state is OrderState.REJECTED


def test_a_handler_cannot_act_on_an_order_locked_by_another(browser, bench):
    """
    Given handler hana has an order open
    When handler ole opens it and tries to approve it
    Then ole sees "locked by hana" without action buttons and the approval is refused;
         a supervisor may take it over
    """
    order_id = bench.orders[PRICE_MISMATCH_PDF]
    hana = new_page(browser, bench)
    login(hana, bench, "hana")
    hana.goto(f"{bench.url}/orders/{order_id}")
    ole = new_page(browser, bench)
    login(ole, bench, "ole")
    ole.goto(f"{bench.url}/orders/{order_id}")
    assert "Locked by hana" in ole.inner_text("#locked")
    assert ole.locator("#approve").count() == 0
    assert ole.locator("#save").is_disabled()
    refused = ole.request.post(f"{bench.url}/orders/{order_id}/approve", form={"csrf": csrf(ole)})
    assert refused.status == 403 and "locked by hana" in refused.text()
    assert ole.locator("text=Take over").count() == 0
    assert bench.store.get_order(order_id).state is OrderState.NEEDS_REVIEW

    sue = new_page(browser, bench)
    login(sue, bench, "sue")
    sue.goto(f"{bench.url}/orders/{order_id}")
    sue.click("text=Take over")
    sue.wait_for_url(f"{bench.url}/orders/{order_id}")
    sue.click("#approve button")
    sue.wait_for_url(f"{bench.url}/")
    assert bench.store.events(Entity.ORDER, order_id)[-1].actor == "handler:sue"


def test_logging_out_ends_the_session(browser, bench):
    """Given a logged-in handler, when they log out, then their old cookie opens nothing."""
    page = new_page(browser, bench)
    login(page, bench)
    cookie = next(c for c in page.context.cookies() if c["name"] == "orderbot_review")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    old_csrf = csrf(page)
    page.click("#logout")
    page.wait_for_url(f"{bench.url}/login")
    other = browser.new_context()
    other.add_cookies([cookie])
    again = other.new_page()
    again.goto(f"{bench.url}/")
    assert again.url.endswith("/login")
    order_id = bench.orders[AMBIGUOUS]
    response = again.request.post(f"{bench.url}/orders/{order_id}/approve", form={"csrf": old_csrf})
    assert response.status == 401
    assert bench.store.get_order(order_id).state is OrderState.NEEDS_REVIEW


def test_an_order_without_a_quantity_cannot_be_approved_until_corrected(browser, bench):
    """Given an order with a line whose quantity could not be read, when the handler approves
    it, then it is refused naming the line; once the quantity is corrected it is approved."""
    order_id = bench.orders[AMBIGUOUS]
    page = new_page(browser, bench)
    login(page, bench)
    page.goto(f"{bench.url}/orders/{order_id}")
    page.click("#approve button")
    assert "line 1 has no sku or quantity" in page.inner_text("#problem")
    assert bench.store.get_order(order_id).state is OrderState.NEEDS_REVIEW
    page.goto(f"{bench.url}/orders/{order_id}")
    page.fill("#line-0-quantity", "12")
    page.click("#save")
    page.wait_for_function("() => document.getElementById('flash').textContent.startsWith('Saved')")
    page.click("#approve button")
    page.wait_for_url(f"{bench.url}/")
    assert bench.store.get_order(order_id).state is OrderState.READY


def test_an_approved_order_is_keyed_into_the_demo_portal(browser, bench, master, tmp_path):
    """
    Given a flagged PDF order and the demo portal
    When a handler corrects a quantity and a sku and approves, and the keying stage runs
    Then the portal holds the order once, with the handler's values
    """
    httpx = pytest.importorskip("httpx")
    from bot.config import PortalSettings, Settings
    from bot.keying import Keyer
    from bot.wiring import build_keying
    from demo.portal.app import PortalConfig, run_in_thread

    order_id = bench.orders[PRICE_MISMATCH_PDF]
    page = new_page(browser, bench)
    login(page, bench)
    page.goto(f"{bench.url}/orders/{order_id}")
    page.fill("#line-0-quantity", "3")
    page.fill("#line-0-sku", "AX-1523")
    page.fill("input[name=line-0-uom]", "EA")  # the keying stage converts units: a box of dispensers is no EA
    page.click("#save")
    page.wait_for_function("() => document.getElementById('flash').textContent.startsWith('Saved')")
    page.click("#approve button")
    page.wait_for_url(f"{bench.url}/")
    page.context.close()

    portal_config = PortalConfig(db_path=tmp_path / "portal.db", master_data=ROOT / "demo" / "masterdata", test_api=True, users={"clerk": "s3cret-for-tests"})
    with run_in_thread(portal_config) as portal:
        settings = Settings(portal=PortalSettings(recipe=ROOT / "config" / "portals" / "demo.yaml", base_url=portal.url, username="clerk", password="s3cret-for-tests", timeout_seconds=10, trace_on_failure=False))
        keying = build_keying(settings)
        assert keying is not None
        factory, policy = keying
        Keyer(bench.store, master, factory, holder="test", policy=policy).run()
        saved = httpx.get(f"{portal.url}/_test/orders", timeout=30).json()
    stored = bench.store.get_order(order_id)
    assert stored.state is OrderState.KEYED, bench.store.events(Entity.ORDER, order_id)[-1]
    (in_portal,) = [o for o in saved if o["customer_ref"] == stored.po_number]  # (the bot's own ready order is keyed too)
    assert (in_portal["customer_no"], in_portal["customer_ref"]) == (stored.customer_id, stored.po_number)
    assert in_portal["lines"][0]["item"] == "AX-1523"
    assert Decimal(str(in_portal["lines"][0]["quantity"])) == Decimal(3)


def test_a_spreadsheet_is_shown_as_a_table_and_an_order_out_of_review_is_read_only(browser, bench):
    """Given an XLSX order the bot made ready, when a handler opens it, then the sheet is a
    table, the fields cannot be edited, no action is offered and no lock is taken."""
    order_id = bench.orders[SPREADSHEET]
    page = new_page(browser, bench)
    login(page, bench)
    page.goto(f"{bench.url}/orders/{order_id}")
    cells = page.locator(".sheet td").all_inner_texts()
    assert "KL-8194" in " ".join(cells) or any("8194" in c for c in cells)
    assert page.locator("#save").is_disabled()
    assert page.locator("#approve").count() == 0 and page.locator("#reject").count() == 0
    assert page.request.post(f"{bench.url}/orders/{order_id}/reject", form={"csrf": csrf(page), "reason": "x"}).status == 409
    assert bench.store.get_order(order_id).state is OrderState.READY


def test_guessing_a_password_is_stopped_after_five_failures(browser, bench):
    """Given a handler's name, when five wrong passwords are tried, then even the right one
    is refused for that name (429) for a while, and every attempt is audited."""
    page = new_page(browser, bench)
    for _ in range(5):
        page.goto(f"{bench.url}/login")
        page.fill("input[name=name]", "ole")
        page.fill("input[name=password]", "wrong guess")
        page.click("button[type=submit]")
        assert "Wrong name or password" in page.inner_text(".error")
    page.goto(f"{bench.url}/login")
    page.fill("input[name=name]", "ole")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(f"{bench.url}/login") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 429
    assert "Too many failed logins" in page.inner_text(".error")
    assert len(Audit(bench.db).entries(action="login_failed")) == 6
    login(page, bench, "hana")  # another name is not affected


def test_an_order_keying_gave_up_on_is_sent_back_to_review(browser, bench, master):
    """
    Given a clean order that keying gave up on (the portal failed every attempt)
    When a handler sees it under "Keying gave up" and sends it back to review
    Then it waits in the review queue with the reason keying_gave_up and the
         portal's last error, the handler as actor, and the audit says so
    """
    from tests.portal_double import PortalState
    from tests.test_keying import keyer

    order_id = bench.orders[SPREADSHEET]
    keyer(bench.store, master, PortalState(before_save=5), max_attempts=1).run()
    assert bench.store.get_order(order_id).state is OrderState.FAILED
    page = new_page(browser, bench)
    login(page, bench)
    row = page.locator(f'#failed tr[data-order="{order_id}"]')
    assert "HTTP 500 before save" in row.inner_text() and page.locator("#failed tbody tr").count() == 1
    row.locator("button").click()
    page.wait_for_url(f"{bench.url}/")
    assert page.locator("#failed").count() == 0
    assert "keying_gave_up" in page.inner_text(f'#queue tr[data-href="/orders/{order_id}"]')
    stored = bench.store.get_order(order_id)
    assert stored.state is OrderState.NEEDS_REVIEW
    (reason,) = [r for r in stored.order.reasons if r.code is ReasonCode.KEYING_GAVE_UP]
    assert "HTTP 500 before save" in reason.message
    last = bench.store.events(Entity.ORDER, order_id)[-1]
    assert (last.actor, last.from_state, last.to_state) == ("handler:hana", OrderState.FAILED, OrderState.NEEDS_REVIEW)
    assert Audit(bench.db).entries(order_id)[-1].action == "reopen"
    # Sent back twice (a second tab, a double click): the second is refused, nothing changes.
    token = csrf(page)
    again = page.request.post(f"{bench.url}/orders/{order_id}/reopen", form={"csrf": token})
    assert again.status == 409 and "only an order keying gave up on" in again.text()


def _failed_message(store: Store) -> int:
    """An order email from Nordwind whose attachment broke the extractor, failed as the pipeline fails one."""
    from tests.test_pipeline import body_order

    raw = body_order("4500077")
    sha = hashlib.sha256(raw).hexdigest()
    entry = store.record_message(message_id="<broken-1@nordwind.de>", sha256=sha, dedup_key=f"broken:{sha}", raw=raw,
                                 origin="test", name="PO 4500077.eml")
    store.set_message_status(entry.id, MessageStatus.FAILED, reason="PO-4500077.pdf: unexpected ValueError: bad xref table",
                             expected_from=MessageStatus.RECEIVED)
    return entry.id


def test_a_message_the_bot_could_not_read_is_opened_and_sent_to_review(browser, bench):
    """
    Given a message the bot failed on (its PDF broke the extractor)
    When a handler sees it under "Messages the bot could not read", downloads the
         original and sends it to review
    Then the original is the message's bytes; an order to fill in waits in review
         with the reason unreadable_document, the customer known by the sender,
         the handler as actor; the message is no longer listed, and sending it
         twice is refused
    """
    ledger_id = _failed_message(bench.store)
    page = new_page(browser, bench)
    login(page, bench)
    row = page.locator(f'#unreadable tr[data-message="{ledger_id}"]')
    assert "bad xref table" in row.inner_text() and "PO 4500077.eml" in row.inner_text()
    with page.expect_download() as download:
        row.locator("a").click()
    assert Path(download.value.path()).read_bytes() == bench.store.raw_bytes(bench.store.message(ledger_id).sha256)
    row.locator("button").click()
    page.wait_for_url(f"{bench.url}/orders/*")
    order_id = int(page.url.rsplit("/", 1)[1])
    stored = bench.store.get_order(order_id)
    assert (stored.state, stored.ledger_id, stored.customer_id) == (OrderState.NEEDS_REVIEW, ledger_id, "C1001")
    (reason,) = stored.order.reasons
    assert reason.code is ReasonCode.UNREADABLE_DOCUMENT and "bad xref table" in reason.message
    assert "please deliver the following" in page.text_content("#mail-text")  # the email beside the empty order
    assert bench.store.message(ledger_id).status is MessageStatus.NEEDS_REVIEW
    last = bench.store.events(Entity.ORDER, order_id)[-1]
    assert (last.actor, last.to_state) == ("handler:hana", OrderState.NEEDS_REVIEW)
    assert [e.action for e in Audit(bench.db).entries(order_id)] == ["review_message", "view"]
    page.goto(f"{bench.url}/")
    assert page.locator("#unreadable").count() == 0
    assert "unreadable_document" in page.inner_text(f'#queue tr[data-href="/orders/{order_id}"]')
    again = page.request.post(f"{bench.url}/messages/{ledger_id}/review", form={"csrf": csrf(page)})
    assert again.status == 409 and "only a message the bot could not read" in again.text()
    assert page.request.get(f"{bench.url}/messages/99999/original").status == 404
    assert len(bench.store.orders_by_id([order_id])) == 1 and len(
        [o for o in bench.store.orders() if o.ledger_id == ledger_id]) == 1


def test_a_handler_types_in_an_order_the_bot_could_not_read_and_approves_it(browser, bench, watch):
    """
    Given a message the bot could not read, sent to review
    When the handler types its PO, adds its one line and approves
    Then the order is ready with the handler's values, each kept as a correction
    """
    ledger_id = _failed_message(bench.store)
    page = new_page(browser, bench, watch)
    login(page, bench)
    page.locator(f'#unreadable tr[data-message="{ledger_id}"] button').click()
    page.wait_for_url(f"{bench.url}/orders/*")
    order_id = int(page.url.rsplit("/", 1)[1])
    page.fill("#f-po_number", "4500077")
    page.fill("#line-new-sku", "AX-1523")
    page.fill("#line-new-quantity", "4")
    page.click("#save")
    page.wait_for_function("() => document.getElementById('flash').textContent.startsWith('Saved')")
    assert page.inner_text("#flash") == "Saved: po_number, lines[0].sku, lines[0].quantity, lines[0].uom."
    assert page.input_value("#line-0-sku") == "AX-1523" and page.input_value("#line-new-sku") == ""
    page.keyboard.press("a")
    page.wait_for_url(f"{bench.url}/")

    stored = bench.store.get_order(order_id)
    assert (stored.state, stored.po_number, stored.customer_id) == (OrderState.READY, "4500077", "C1001")
    (line,) = stored.order.lines
    assert (line.sku.value, line.quantity.value, line.uom.value) == ("AX-1523", Decimal(4), "EA")
    assert {c.field for c in Corrections(bench.db).all(order_id)} == {"po_number", "lines[0].sku", "lines[0].quantity",
                                                                      "lines[0].uom"}
    assert watch == {"dialogs": [], "errors": []}


def _uncertain_acknowledgement(store: Store, po: str) -> int:
    """A keyed order whose acknowledgement went out as the connection broke: ``uncertain``."""
    from bot.store import MailKind
    from tests.test_smtp import keyed_order

    order_id = keyed_order(store, po)
    raw = (f"From: {SENDER}\r\nTo: jana.becker@nordwind.de\r\nSubject: Order {po} confirmed\r\n"
           f"Message-ID: <ack-{po}@kestrel-supply.example>\r\n\r\nYour order {po} is SO-{po}.\r\n").encode()
    mail, _ = store.queue_mail(order_id, MailKind.ACKNOWLEDGEMENT, sender=SENDER, recipient="jana.becker@nordwind.de",
                               subject=f"Order {po} confirmed", raw=raw, message_id=f"<ack-{po}@kestrel-supply.example>")
    store.claim_mail(mail.id)
    store.finish_mail(mail.id, MailStatus.UNCERTAIN, error="the connection dropped after the message was sent")
    return mail.id


def test_a_handler_settles_mail_the_bot_will_not_send_again_on_its_own(browser, bench):
    """
    Given two acknowledgements left uncertain (the connection broke after sending)
    When a handler says of one that the customer has it, and sends the other again,
         each with a reason
    Then the first is sent without a new mail, the second reaches the SMTP server
         once; both leave the list, with the handler and reason in the mail's
         events; a settlement without a reason is refused
    """
    has_it, again = _uncertain_acknowledgement(bench.store, "4500061"), _uncertain_acknowledgement(bench.store, "4500062")
    page = new_page(browser, bench)
    login(page, bench)
    assert page.locator("#mail-attention tbody tr").count() == 2
    refused = page.request.post(f"{bench.url}/mail/{has_it}/settle", form={"csrf": csrf(page), "status": "sent", "reason": " "})
    assert refused.status == 400 and bench.store.outgoing_mail(has_it).status is MailStatus.UNCERTAIN

    row = page.locator(f'#mail-attention tr[data-mail="{has_it}"]')
    row.locator("input[name=reason]").fill("Jana confirmed by phone she got it")
    row.locator("button[value=sent]").click()
    page.wait_for_url(f"{bench.url}/")
    row = page.locator(f'#mail-attention tr[data-mail="{again}"]')
    row.locator("input[name=reason]").fill("not in the server's log: never left")
    row.locator("button[value=queued]").click()
    page.wait_for_url(f"{bench.url}/")

    assert page.locator("#mail-attention").count() == 0
    settled = bench.store.outgoing_mail(has_it)
    assert settled.status is MailStatus.SENT and settled.note == "Jana confirmed by phone she got it"
    assert bench.store.outgoing_mail(again).status is MailStatus.SENT
    assert [r.rcpt_tos for r in bench.smtp.received] == [["jana.becker@nordwind.de"]]
    assert b"Order 4500062 confirmed" in bench.smtp.received[0].data
    order_id = settled.order_id
    assert [a.action for a in Audit(bench.db).entries(order_id)] == ["settle_mail"]
    assert any(e.actor == "handler:hana" and "Jana confirmed by phone" in (e.reason or "")
               for e in bench.store.events(Entity.ORDER, order_id))
