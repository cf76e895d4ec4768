"""The Prometheus endpoint (bot.metrics), scraped over HTTP from a real server
on a free port, reading a real SQLite store with a known history."""

from __future__ import annotations

import httpx
import pytest

from bot.metrics import serve_metrics
from bot.model import OrderState, ReasonCode
from bot.store import Store
from tests.report_data import Clock, decide, two_days


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}", clock=clock) as opened:
        yield opened


@pytest.fixture
def scrape(store):
    server = serve_metrics(store, 0)
    try:
        yield lambda: httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.close()


def lines(response: httpx.Response) -> set[str]:
    assert response.status_code == 200
    return set(response.text.splitlines())


def test_metrics_expose_the_store_at_scrape_time(store, clock, scrape):
    """Given two days of orders (three keyed, one in review, one ready, one
    rejected), when /metrics is scraped, then every number is the store's."""
    two_days(store, clock)
    exposed = lines(scrape())
    assert {
        'orderbot_orders{state="keyed"} 3.0',
        'orderbot_orders{state="needs_review"} 1.0',
        'orderbot_orders{state="ready"} 1.0',
        'orderbot_orders{state="rejected"} 1.0',
        'orderbot_orders{state="acknowledged"} 0.0',
        'orderbot_messages{status="processed"} 4.0',
        'orderbot_messages{status="needs_review"} 2.0',
        'orderbot_messages{status="received"} 1.0',
        # only A2 is in review now; A3 was approved and keyed
        'orderbot_review_reasons{code="price_mismatch"} 1.0',
        'orderbot_review_reasons{code="unknown_sku"} 1.0',
        # A1, B1 straight through; A2, A3 reviewed, B3 rejected; B2 pending
        "orderbot_straight_through_ratio 0.4",
        # 100, 100 and 890 seconds from arrival to portal order number
        'orderbot_email_to_portal_seconds_bucket{le="60.0"} 0.0',
        'orderbot_email_to_portal_seconds_bucket{le="300.0"} 2.0',
        'orderbot_email_to_portal_seconds_bucket{le="900.0"} 3.0',
        'orderbot_email_to_portal_seconds_bucket{le="+Inf"} 3.0',
        "orderbot_email_to_portal_seconds_count 3.0",
        "orderbot_email_to_portal_seconds_sum 1090.0",
        # three attempts of 10 seconds
        'orderbot_keying_latency_seconds_bucket{le="5.0"} 0.0',
        'orderbot_keying_latency_seconds_bucket{le="10.0"} 3.0',
        "orderbot_keying_latency_seconds_count 3.0",
        "orderbot_keying_latency_seconds_sum 30.0",
    } <= exposed
    assert "# TYPE orderbot_email_to_portal_seconds histogram" in exposed


def test_a_new_order_shows_in_the_next_scrape(store, clock, scrape):
    """Given an empty store, there is no straight-through ratio (nothing was
    decided) and the histograms are empty; when an order goes to review, the
    next scrape counts it without a restart."""
    exposed = lines(scrape())
    assert 'orderbot_orders{state="needs_review"} 0.0' in exposed
    assert "orderbot_email_to_portal_seconds_count 0.0" in exposed
    assert not any(line.startswith("orderbot_straight_through_ratio ") for line in exposed)
    decide(store, clock, "C9", "P1", OrderState.NEEDS_REVIEW, reasons=[ReasonCode.CREDIT_HOLD])
    exposed = lines(scrape())
    assert 'orderbot_orders{state="needs_review"} 1.0' in exposed
    assert 'orderbot_review_reasons{code="credit_hold"} 1.0' in exposed
    assert "orderbot_straight_through_ratio 0.0" in exposed


def test_only_orderbot_metrics_are_served(store, scrape):
    names = {line.split()[2] for line in lines(scrape()) if line.startswith("# TYPE")}
    assert names == {
        "orderbot_orders",
        "orderbot_messages",
        "orderbot_review_reasons",
        "orderbot_email_to_portal_seconds",
        "orderbot_keying_latency_seconds",
    }
