"""``orderbot demo`` as a person runs it: a real process that keys the sample
inbox, serves the review workbench with a login printed once, keys what a
handler approves into the demo portal, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.model import OrderState
from bot.review.auth import Accounts
from bot.review.store import ReviewDb
from bot.store import Store
from tests.conftest import DEMO_MASTER_DATA

ROOT = Path(__file__).resolve().parents[1]
TODAY = "2026-11-26"
READY_LINE = "Ctrl-C stops the demo."
LOGIN = re.compile(r"^(?P<what>Review workbench|Demo portal): +(?P<url>http://\S+)\n  log in as (?P<user>\S+), password (?P<password>\S+)", re.M)


def demo_config(tmp_path: Path) -> Path:
    config = tmp_path / "demo.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data:\n  path: {DEMO_MASTER_DATA}\n"
        f"sources:\n  - {{type: folder, name: demo, path: {ROOT / 'demo' / 'inbox'}}}\n",
        encoding="utf-8",
    )
    return config


def start_demo(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    command = [sys.executable, "-m", "bot.cli", "demo", "--config", str(demo_config(tmp_path)), "--today", TODAY, *args]
    with (tmp_path / "stdout.txt").open("wb") as out, (tmp_path / "stderr.txt").open("wb") as errors:
        return subprocess.Popen(command, stdout=out, stderr=errors, env=env, cwd=tmp_path)


def wait_for(predicate: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def output(tmp_path: Path) -> tuple[str, str]:
    return (tmp_path / "stdout.txt").read_text(encoding="utf-8"), (tmp_path / "stderr.txt").read_text(encoding="utf-8")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_demo(tmp_path)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.browser
@pytest.mark.slow
def test_an_order_approved_in_the_workbench_is_keyed_into_the_demo_portal(demo: subprocess.Popen[bytes], tmp_path: Path):
    """
    Given `orderbot demo` running on the sample inbox
    When a handler logs in with the login it printed, corrects the quantity of the
         order with an ambiguous quantity and approves it
    Then the background loop keys it into the demo portal (a portal order number,
         acknowledged, the order there with the handler's quantity), and Ctrl-C ends
         the demo with exit 0, the demo account removed and its password in no file
    """
    from playwright.sync_api import sync_playwright

    from connectors.portal.browser import launch

    wait_for(lambda: READY_LINE in output(tmp_path)[0] or demo.poll() is not None, "the demo to serve", 120)
    stdout, stderr = output(tmp_path)
    assert demo.poll() is None, stdout + stderr
    logins = {m["what"]: m for m in LOGIN.finditer(stdout)}
    bench, portal = logins["Review workbench"], logins["Demo portal"]
    assert bench["url"].startswith("http://127.0.0.1:") and bench["user"] == "demo"
    assert stdout.count(bench["password"]) == 1, "the password is printed once"

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(bench["url"])
        page.fill("input[name=name]", bench["user"])
        page.fill("input[name=password]", bench["password"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{bench['url']}/")
        rows = page.locator("#queue tbody tr[data-href]")
        assert rows.count() == 3
        assert {"change_request", "price_mismatch", "ambiguous_quantity"} <= set(page.locator("#queue .tag").all_inner_texts())
        href = rows.filter(has_text="ambiguous_quantity").get_attribute("data-href") or ""
        order_id = int(href.rsplit("/", 1)[1])
        page.goto(bench["url"] + href)
        page.fill("#line-0-quantity", "5")
        page.click("#save")
        page.wait_for_function("() => document.getElementById('flash').textContent.startsWith('Saved')")
        page.click("#approve button")
        page.wait_for_url(f"{bench['url']}/")
        assert page.locator("#queue tbody tr[data-href]").count() == 2

        with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
            keyed = (OrderState.KEYED, OrderState.ACKNOWLEDGED)
            wait_for(lambda: store.get_order(order_id).state in keyed, "the approved order to be keyed", 45)
            stored = store.get_order(order_id)
        assert stored.portal_order_number and stored.portal_order_number.startswith("SO-")

        page.goto(f"{portal['url']}/login")
        page.fill("#username", portal["user"])
        page.fill("#password", portal["password"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{portal['url']}/menu")
        page.goto(f"{portal['url']}/orders/{stored.portal_order_number}")
        assert page.inner_text("#hdr-customer_ref") == stored.po_number
        assert Decimal(page.inner_text("tr.line td.qty").replace(",", ".")) == Decimal(5)
        browser.close()

    wait_for(lambda: stored.po_number in output(tmp_path)[0].split(READY_LINE, 1)[1], "the keyed order on the terminal", 15)
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=30) == 0, output(tmp_path)[1]
    stdout, stderr = output(tmp_path)
    assert stdout.rstrip().endswith("orderbot demo: stopped")
    assert "Traceback" not in stderr, stderr
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
        assert Accounts(ReviewDb.for_store(store), idle=timedelta(minutes=30)).user("demo") is None
        assert store.get_order(order_id).state is OrderState.ACKNOWLEDGED
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert bench["password"].encode() not in path.read_bytes(), path
    assert bench["password"] not in stderr


def test_a_taken_port_is_refused_before_the_sample_inbox_is_read(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_demo(tmp_path, "--port", str(port))
        assert process.wait(timeout=60) == 2
    stdout, stderr = output(tmp_path)
    assert f"127.0.0.1:{port}" in stderr and "in use" in stderr
    assert "orderbot demo:" not in stdout  # nothing was processed
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
        assert sum(store.message_counts().values()) == 0


def test_json_without_no_serve_is_refused(tmp_path: Path):
    process = start_demo(tmp_path, "--json")
    assert process.wait(timeout=60) == 2
    assert "--no-serve" in output(tmp_path)[1]
