"""Reports (bot.reporting) computed from a real SQLite store whose history is
known to the second (tests/report_data.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.model import OrderState, ReasonCode
from bot.reporting import (
    CHART_FILES,
    CustomerChange,
    DayRate,
    DayVolume,
    ReasonCount,
    ReasonRise,
    StepTiming,
    UnusualSettings,
    build_report,
    reasons_chart,
    stp_chart,
    volume_chart,
    write_report,
)
from bot.store import Store
from tests.report_data import SCRIPT_NAME, Clock, decide, two_days

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}", clock=clock) as opened:
        yield opened


@pytest.fixture
def ids(store, clock) -> dict[str, int]:
    return two_days(store, clock)


def test_volume_and_straight_through_per_day(store, ids):
    """Given two days of orders, when the report covers three days,
    then each day has its messages, orders and straight-through rate; pending
    orders count in neither part of the rate and an empty day has no rate."""
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 4))
    assert report.days == (
        DayVolume(date(2026, 11, 2), messages=3, orders=3),
        DayVolume(date(2026, 11, 3), messages=4, orders=3),
        DayVolume(date(2026, 11, 4), messages=0, orders=0),
    )
    assert report.straight_through == (
        DayRate(date(2026, 11, 2), straight_through=1, decided=3),  # A1; A2, A3 reviewed
        DayRate(date(2026, 11, 3), straight_through=1, decided=2),  # B1; B3 rejected; B2 pending
        DayRate(date(2026, 11, 4), straight_through=0, decided=0),
    )
    assert [d.rate for d in report.straight_through] == [1 / 3, 1 / 2, None]
    assert report.overall.rate == 2 / 5


def test_range_limits_what_is_counted(store, ids):
    report = build_report(store, date(2026, 11, 3), date(2026, 11, 3))
    assert report.days == (DayVolume(date(2026, 11, 3), 4, 3),)
    assert report.reasons == ()  # the reviewed orders are from day 1
    with pytest.raises(ValueError, match="before it starts"):
        build_report(store, date(2026, 11, 3), date(2026, 11, 2))


def test_reasons_for_review_by_customer(store, ids):
    """Reasons of every order that was in review, also one approved and keyed since (A3)."""
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 4))
    assert report.reasons == (
        ReasonCount("C1", "C1 GmbH", ReasonCode.PRICE_MISMATCH, 1),
        ReasonCount("C1", "C1 GmbH", ReasonCode.UNKNOWN_SKU, 1),
        ReasonCount("C2", SCRIPT_NAME, ReasonCode.UNKNOWN_SKU, 1),
    )


def test_slowest_steps_median_and_p95(store, ids):
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 4))
    decided, ready_to_keyed, attempt = report.steps
    # decided after 60, 120, 180, 60, 60, 300 seconds
    assert decided == StepTiming("message received to order decided", 6, 90, 300, 300, ids["B3"])
    # A1 and B1 wait 30 s and take 10 s; A3 waits 100 s
    assert ready_to_keyed == StepTiming("ready to keyed", 3, 40, 110, 110, ids["A3"])
    assert (attempt.count, attempt.median_seconds, attempt.p95_seconds) == (3, 10, 10)
    # A1, B1: 60 + 40; A3: 180 + 600 in review + 110
    assert report.email_to_portal == StepTiming(
        "email arrival to portal order number", 3, 100, 890, 890, ids["A3"]
    )


def weekly(
    store: Store,
    clock: Clock,
    customer: str,
    earlier: list[str],
    recent: list[str],
    *,
    first: date = date(2026, 10, 19),
) -> None:
    """Orders of ``earlier`` values a week apart from ``first``, then ``recent`` ones from 24 Nov."""
    for k, value in enumerate(earlier):
        clock.now = datetime.combine(
            first + timedelta(weeks=k), datetime.min.time(), UTC
        ) + timedelta(hours=9)
        decide(store, clock, customer, uuid.uuid4().hex, OrderState.READY, value=value)
    for k, value in enumerate(recent):
        clock.now = datetime(2026, 11, 24, 9, tzinfo=UTC) + timedelta(hours=k)
        decide(store, clock, customer, uuid.uuid4().hex, OrderState.READY, value=value)


def test_customers_whose_orders_change_in_frequency_or_size(store, clock):
    """Given five weeks of one order a week, when a customer orders three times
    in the last week, orders five times its usual size, or stops ordering, it
    is flagged; a steady customer and one with too short a history are not."""
    weekly(store, clock, "C-FREQ", ["100"] * 5, ["100"] * 3)
    weekly(store, clock, "C-SIZE", ["100"] * 5, ["500"])
    weekly(store, clock, "C-GONE", ["100"] * 5, [])
    weekly(store, clock, "C-CALM", ["100", "120", "80", "100", "90"], ["250"])
    weekly(store, clock, "C-NEW", ["100"], ["100"] * 5, first=date(2026, 11, 17))
    report = build_report(store, date(2026, 11, 23), date(2026, 11, 29))
    assert report.customer_changes == (
        CustomerChange("C-FREQ", "C-FREQ GmbH", "orders", 3, 1),
        CustomerChange("C-GONE", "C-GONE GmbH", "orders", 0, 1),
        CustomerChange("C-SIZE", "C-SIZE GmbH", "order size", 500, 100),
    )
    assert report.customer_changes[0].ratio == 3
    relaxed = build_report(
        store, date(2026, 11, 23), date(2026, 11, 29), settings=UnusualSettings(factor=2.5)
    )
    assert ("C-CALM", "order size") in {
        (c.customer_id, c.measure) for c in relaxed.customer_changes
    }
    strict = build_report(
        store,
        date(2026, 11, 23),
        date(2026, 11, 29),
        settings=UnusualSettings(min_history_windows=5, min_history_orders=6),
    )
    assert strict.customer_changes == ()


def test_a_rising_review_reason_is_flagged(store, clock):
    """Credit hold goes from 1 in 4 reviewed orders to 3 in 4: a rise of 50 points."""
    for k, code in enumerate([ReasonCode.CREDIT_HOLD] + [ReasonCode.UNKNOWN_SKU] * 3):
        clock.now = datetime(2026, 11, 10, 9, tzinfo=UTC) + timedelta(hours=k)
        decide(store, clock, "C-REV", f"E{k}", OrderState.NEEDS_REVIEW, reasons=[code])
    for k, code in enumerate([ReasonCode.CREDIT_HOLD] * 3 + [ReasonCode.UNKNOWN_SKU]):
        clock.now = datetime(2026, 11, 25, 9, tzinfo=UTC) + timedelta(hours=k)
        decide(store, clock, "C-REV", f"R{k}", OrderState.NEEDS_REVIEW, reasons=[code])
    since, until = date(2026, 11, 23), date(2026, 11, 29)
    report = build_report(store, since, until, settings=UnusualSettings(min_reviewed=4))
    assert report.reason_rises == (ReasonRise(ReasonCode.CREDIT_HOLD, 0.25, 0.75),)
    assert (
        build_report(store, since, until, settings=UnusualSettings(min_reviewed=5)).reason_rises
        == ()
    )
    assert (
        build_report(
            store, since, until, settings=UnusualSettings(min_reviewed=4, share_rise=0.6)
        ).reason_rises
        == ()
    )


@pytest.mark.parametrize(
    "bad", [{"factor": 1}, {"window_days": 0}, {"share_rise": 0}, {"min_reviewed": 0}]
)
def test_unusual_settings_are_validated(bad):
    with pytest.raises(ValueError):
        UnusualSettings(**bad)


def test_charts_are_png(store, ids):
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 4))
    for draw in (volume_chart, stp_chart, reasons_chart):
        assert draw(report).startswith(PNG_MAGIC)


def test_charts_of_an_empty_store_are_png(store):
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 2))
    for draw in (volume_chart, stp_chart, reasons_chart):
        assert draw(report).startswith(PNG_MAGIC)


def test_mathtext_in_a_customer_id_is_drawn_as_text(store, clock):
    decide(
        store, clock, "$\\frac{", "P1", OrderState.NEEDS_REVIEW, reasons=[ReasonCode.UNKNOWN_SKU]
    )
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 2))
    assert reasons_chart(report).startswith(PNG_MAGIC)


def test_write_report_writes_the_page_with_its_charts_and_escapes_customer_values(
    store, ids, tmp_path
):
    """Given a customer named <script>…, when the report is written, then the
    page shows the name escaped and refers to its charts relatively."""
    report = build_report(store, date(2026, 11, 2), date(2026, 11, 4))
    out = tmp_path / "report" / "2026-11-04"
    index = write_report(report, out)
    assert index == out / "index.html"
    page = index.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    for name in CHART_FILES.values():
        assert f'src="{name}"' in page
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert "Straight through: 2 of 5 decided orders (40 %)" in page
    assert "email arrival to portal order number" in page
