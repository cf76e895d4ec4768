"""Keying for real: the pipeline and the keying stage drive Chromium through the
demo recipe into the demo portal; exactly once is checked in the portal's own
test API, under injected faults."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import PortalSettings
from bot.extraction_json import order_from_json
from bot.identity import identify
from bot.keying import Keyer, KeyingPolicy
from bot.model import MessageStatus, OrderState
from bot.pipeline import Pipeline
from bot.store import KeyingOutcome, Store
from bot.wiring import build_keying
from connectors.folder import FolderSource
from connectors.outbox import OutboxMailer
from demo.portal.app import PortalConfig, PortalServer, run_in_thread
from demo.portal.process import portal_process

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "config" / "portals" / "demo.yaml"
MASTER_DATA = ROOT / "demo" / "masterdata"

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PortalServer]:
    config = PortalConfig(db_path=tmp_path / "portal.db", master_data=MASTER_DATA, test_api=True, seed=11,
                          users={"clerk": "s3cret-for-tests"})
    with run_in_thread(config) as srv:
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def portal_settings(server: PortalServer, **extra) -> PortalSettings:
    return PortalSettings(recipe=RECIPE, base_url=server.url, username="clerk", password="s3cret-for-tests",
                          timeout_seconds=10, **extra)


def portal_orders(server: PortalServer) -> list[dict]:
    return httpx.get(f"{server.url}/_test/orders", timeout=30).json()


def test_the_demo_inbox_is_keyed_into_the_demo_portal_and_acknowledged(server, store, master, tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(ROOT / "demo" / "inbox", inbox)
    factory, policy = build_keying(_settings_with(portal_settings(server, workers=2)))
    pipeline = Pipeline(store=store, master=master, sources=[FolderSource("demo", inbox)], today=_today(),
                        portal=factory, keying=policy, mailer=OutboxMailer(tmp_path / "outbox"))
    summary = pipeline.run_once()

    keyed = [o for o in store.orders() if o.portal_order_number]
    assert summary.keyed == len(keyed) >= 5 and summary.failed == 0
    in_portal = {o["order_number"]: o for o in portal_orders(server)}
    assert sorted(in_portal) == sorted(o.portal_order_number for o in keyed)
    for stored in keyed:
        saved = in_portal[stored.portal_order_number]
        assert stored.state is OrderState.ACKNOWLEDGED
        assert (saved["customer_no"], saved["customer_ref"]) == (stored.customer_id, stored.po_number)
        assert len(saved["lines"]) == len(stored.order.lines)
        assert [line["item"] for line in saved["lines"]] == [line.sku.value for line in stored.order.lines]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == len(keyed)
    # A second run keys nothing more.
    assert pipeline.run_once().keyed == 0 and len(portal_orders(server)) == len(keyed)


def test_a_bad_recipe_stops_the_wiring(server, tmp_path):
    from bot.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.read_text().replace("- goto: /orders/new", "- goto: /orders/{nope}"))
    with pytest.raises(ConfigError, match=r"bad\.yaml: entry\.steps\[0\]\.goto: unknown value \{nope\}"):
        build_keying(_settings_with(portal_settings(server).model_copy(update={"recipe": bad})))


@pytest.mark.slow
def test_chaos_every_order_is_keyed_exactly_once(store, master, tmp_path):
    """200 orders, 20% of POSTs fail with 500 before doing anything, 10% of saves
    commit and then answer 500: each order is keyed exactly once (the portal's
    test API), none is lost, the rest is in review or failed with a reason."""
    rng = random.Random(5)
    skus = [p.sku for p in master.products() if p.stock > 1000][:40]
    ids = []
    for i in range(200):
        lines = [{"sku": rng.choice(skus), "quantity": str(rng.randint(1, 9))} for _ in range(rng.randint(1, 3))]
        ids.append(_ready(store, f"CH-{i:04d}", lines, urgent=i % 17 == 0))
    options = ("--test-api", "--error-rate", "0.2", "--commit-then-fail-rate", "0.1", "--seed", "5")
    with portal_process(tmp_path / "portal.db", "chaos-pass", *options) as url:
        settings = PortalSettings(recipe=RECIPE, base_url=url, username="clerk", password="chaos-pass",
                                  timeout_seconds=10, trace_on_failure=False)
        factory, _ = build_keying(_settings_with(settings))
        keyer = Keyer(store, master, factory, holder="chaos",
                      policy=KeyingPolicy(workers=2, first_retry_seconds=0, max_attempts=8, stale_after_seconds=0))
        rounds = 0
        while store.orders_to_key() or store.unfinished_attempts():
            rounds += 1
            assert rounds <= 12, "keying does not converge"
            keyer.run()
        saved = httpx.get(f"{url}/_test/orders", timeout=30).json()

    per_po = Counter(o["customer_ref"] for o in saved)
    assert max(per_po.values()) == 1, [po for po, n in per_po.items() if n > 1]
    numbers = {o["order_number"] for o in saved}
    states = Counter()
    for order_id in ids:
        stored = store.get_order(order_id)
        states[stored.state] += 1
        if stored.state is OrderState.KEYED:
            assert per_po[stored.po_number] == 1 and stored.portal_order_number in numbers
        else:
            assert stored.state in (OrderState.NEEDS_REVIEW, OrderState.FAILED), stored.state
            attempts = store.keying_attempts(order_id)
            assert attempts and attempts[-1].error
    assert sum(states.values()) == 200 and states[OrderState.KEYED] >= 190, states
    assert len(saved) == states[OrderState.KEYED] + sum(1 for i in ids if store.get_order(i).state is not OrderState.KEYED
                                                         and store.get_order(i).portal_order_number)
    outcomes = Counter(a.outcome for i in ids for a in store.keying_attempts(i))
    assert outcomes[KeyingOutcome.FOUND] > 0 and outcomes[KeyingOutcome.RETRY] > 0  # the faults happened


# -- helpers ----------------------------------------------------------------------

def _today():
    from datetime import date

    return date(2026, 11, 26)


def _settings_with(portal: PortalSettings):
    from bot.config import Settings

    return Settings(portal=portal)


def _ready(store: Store, po: str, lines: list[dict], urgent: bool = False) -> int:
    data = f"From: a@nordwind.de\r\nMessage-ID: <{po}@chaos>\r\nSubject: {po}\r\n\r\nx\r\n".encode()
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256,
                                 dedup_key=identity.dedup_key, raw=data, origin="test", name=po)
    order = order_from_json({
        "source": "body", "customer_id": "C1001", "po_number": po, "urgent": urgent, "lines": lines,
        "ship_to": {"name": "Nordwind Logistik GmbH", "street": "Hafenstrasse 12", "postal_code": "20457",
                    "city": "Hamburg", "country": "DE"},
    })
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED)
    return stored.id

