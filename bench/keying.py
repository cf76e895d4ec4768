"""Keying benchmark: orders per hour into the demo portal.

The same orders (10 lines each) are keyed by the real keying stage (search,
type, save, read back, in Chromium through the demo recipe) with 1, 2 and 4
browser contexts, and posted by plain HTTP requests doing the same page work
without a browser (search, new form, customer postback, save, read back) as
the floor. The portal runs in its own process; each run gets a fresh portal
database and store. Prints each rate and its ratio to the floor.

    .venv/bin/python bench/keying.py [--orders 24] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bot.config import PortalSettings, Settings
from bot.extraction_json import order_from_json
from bot.identity import identify
from bot.keying import Keyer, KeyingPolicy, entry_for
from bot.model import MessageStatus, OrderState
from bot.ports import PortalEntry
from bot.store import Store
from bot.wiring import build_keying
from connectors.masterdata import CsvMasterData
from connectors.portal.browser import chromium_executable
from connectors.portal.playwright_portal import format_decimal
from demo.portal.process import portal_process

ROOT = Path(__file__).resolve().parents[1]
MASTER = ROOT / "demo" / "masterdata"
RECIPE = ROOT / "config" / "portals" / "demo.yaml"
PASSWORD = "bench-pass"
HIDDEN = re.compile(r'<input type="hidden" (?:id="[^"]*" )?name="([^"]+)" value="([^"]*)">')


def make_orders(store: Store, master: CsvMasterData, count: int, lines: int) -> None:
    skus = [p.sku for p in master.products() if p.stock > 10_000][:50]
    for i in range(count):
        po = f"BENCH-{i:05d}"
        data = f"From: a@nordwind.de\r\nMessage-ID: <{po}@bench>\r\n\r\nx\r\n".encode()
        identity = identify(data)
        entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256,
                                     dedup_key=identity.dedup_key, raw=data, origin="bench", name=po)
        order = order_from_json({
            "source": "body", "customer_id": "C1001", "po_number": po, "delivery_date": "2026-12-14",
            "lines": [{"sku": skus[(i + j) % len(skus)], "quantity": str(1 + j)} for j in range(lines)],
            "ship_to": {"name": "Nordwind Logistik GmbH", "street": "Hafenstrasse 12", "postal_code": "20457",
                        "city": "Hamburg", "country": "DE"},
        })
        store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED)


def demo_keyer(store: Store, master: CsvMasterData, url: str, workers: int, *, trace_on_failure: bool = True) -> Keyer:
    """The real keying stage against the demo portal at ``url``, ``workers`` browser contexts."""
    portal = PortalSettings(recipe=RECIPE, base_url=url, username="clerk", password=PASSWORD,
                            trace_on_failure=trace_on_failure)
    factory, _ = build_keying(Settings(portal=portal))
    return Keyer(store, master, factory, holder="bench", policy=KeyingPolicy(workers=workers))


def browser_run(tmp: Path, master: CsvMasterData, count: int, lines: int, workers: int) -> float:
    run = tmp / f"browser-{workers}"
    run.mkdir()
    with Store.open(f"sqlite:///{run / 'store.db'}") as store, portal_process(run / "portal.db", PASSWORD) as url:
        make_orders(store, master, count, lines)
        keyer = demo_keyer(store, master, url, workers)
        started = time.perf_counter()
        report = keyer.run()
        seconds = time.perf_counter() - started
        if report.keyed != count:
            raise SystemExit(f"{workers} contexts keyed {report.keyed} of {count}: {report.errors[:3]}")
    return seconds


class HttpClerk:
    """The demo portal's pages posted directly: the work a browser cannot avoid."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        page = self.client.get("/login")
        self.client.post("/login", data={**dict(HIDDEN.findall(page.text)), "username": "clerk", "password": PASSWORD})

    def key(self, entry: PortalEntry) -> str:
        found = self.client.get("/orders/search", params={"customer_no": entry.customer_id, "customer_ref": entry.po_number})
        assert "No orders found" in found.text
        form = dict(HIDDEN.findall(self.client.get("/orders/new").text))
        header = {"customer_no": entry.customer_id, "action": "select_customer"}
        form = dict(HIDDEN.findall(self.client.post("/orders/new", data={**form, **header}).text))
        rows = {"rows": str(len(entry.lines))}
        for i, line in enumerate(entry.lines, 1):
            rows |= {f"item_{i}": line.sku, f"qty_{i}": format_decimal(line.quantity, ","), f"price_{i}": ""}
        data = {**form, **rows, "customer_no": entry.customer_id, "ship_to": "OTHER",
                "other_address": entry.ship_to_text or "", "customer_ref": entry.po_number,
                "requested_date": entry.requested_date.strftime("%d.%m.%Y") if entry.requested_date else "",
                "ship_method": "STD", "action": "save"}
        saved = self.client.post("/orders/new", data=data, follow_redirects=True)
        number = re.search(r"Order (SO-\d+) has been saved", saved.text)
        if number is None:
            problems = re.findall(r'class="(?:error|row-message)"[^>]*>([^<]+)', saved.text)
            raise RuntimeError(f"{entry.po_number}: no confirmation from the portal: {problems or saved.url}")
        self.client.get(f"/orders/{number.group(1)}")  # the read-back
        return number.group(1)


def http_run(tmp: Path, master: CsvMasterData, count: int, lines: int, workers: int) -> float:
    run = tmp / f"http-{workers}"
    run.mkdir()
    with Store.open(f"sqlite:///{run / 'store.db'}") as store, portal_process(run / "portal.db", PASSWORD) as url:
        make_orders(store, master, count, lines)
        entries = [entry_for(s.order, master) for s in store.orders(state=OrderState.READY)]
        clerks = [HttpClerk(url) for _ in range(workers)]
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            numbers = list(pool.map(lambda pair: clerks[pair[0] % workers].key(pair[1]), enumerate(entries)))
        seconds = time.perf_counter() - started
        assert len(set(numbers)) == count
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=24)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    master = CsvMasterData.load(MASTER)
    print(f"browser: {chromium_executable()}; {os.cpu_count()} CPUs; {args.orders} orders of {args.lines} lines")
    with tempfile.TemporaryDirectory() as tmp:
        floor = args.orders / http_run(Path(tmp), master, args.orders, args.lines, 1) * 3600
        print(f"plain HTTP, 1 client (floor): {floor:8.0f} orders/hour")
        for workers in args.workers:
            rate = args.orders / browser_run(Path(tmp), master, args.orders, args.lines, workers) * 3600
            print(f"browser, {workers} context(s):     {rate:8.0f} orders/hour  ratio to floor {rate / floor:.3f}")


if __name__ == "__main__":
    main()


