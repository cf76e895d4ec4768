"""Blocking and non-blocking reasons, the backorder split on the order, and the
credit limit across currencies (issue 5, "Decision", "Stock", "Credit")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.extraction_json import order_from_json, order_to_json
from bot.model import (
    ALWAYS_BLOCKING,
    Backorder,
    Field,
    MessageStatus,
    Order,
    OrderState,
    Reason,
    ReasonCode,
)
from bot.money import Amounts, MissingRate, RateTable
from bot.processing import MessageProcessor
from bot.resolve import CustomerMatch
from bot.rules import RuleContext, RuleSettings, order_value, validate
from bot.store import Store, codec
from tests.test_rules import HAMBURG, TODAY, line, order

PAST = Field(date(2026, 11, 20), 0.9)


def stored_back(tmp_path, result: Order, state: OrderState) -> Order:
    """``result`` saved in a real SQLite store and read back."""
    raw = repr(result).encode()
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        entry = store.record_message(message_id="<t@x>", sha256=hashlib.sha256(raw).hexdigest(), dedup_key="t", raw=raw, origin="test", name="t")
        store.save_outcome(entry.id, [(result, state, None)], MessageStatus.PROCESSED)
        (stored,) = store.orders()
        return stored.order


def checked(master, o: Order, *, customer_id: str = "C1001", **ctx) -> Order:
    match = CustomerMatch(master.customer(customer_id), True, 0.99)
    return validate(o, RuleContext(master=master, today=TODAY, customer=match, **ctx))


# --- non-blocking reasons ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("non_blocking", "fields", "review", "reasons", "warnings"),
    [
        ((), {"delivery_date": PAST}, True, ["past_delivery_date"], None),
        (("past_delivery_date",), {"delivery_date": PAST}, False, [], ["past_delivery_date"]),
        # a warning does not hide a blocking reason of another code
        (("past_delivery_date",), {"delivery_date": PAST, "po_number": Field(None)}, True, ["missing_field"], ["past_delivery_date"]),
        # low confidence of a required field still blocks when another code is a warning
        (("new_ship_to",), {"po_number": Field("4500001", 0.2)}, True, ["low_confidence"], None),
    ],
)
def test_non_blocking_reasons_are_recorded_but_do_not_send_to_review(master, non_blocking, fields, review, reasons, warnings):
    result = checked(master, order(line(price="18.90"), **fields), settings=RuleSettings(non_blocking=non_blocking))
    assert result.review is review
    assert MessageProcessor.decide((result,)) == ((OrderState.NEEDS_REVIEW if review else OrderState.READY),)
    as_json = order_to_json(result)
    assert as_json["review"] is review and as_json["reasons"] == reasons
    assert as_json.get("warnings") == warnings
    if warnings:
        (warning,) = [r for r in result.reasons if not r.blocking]
        assert warning.field == "delivery_date" and warning.found == "2026-11-20" and warning.expected == ">= 2026-11-26"


def test_a_warning_survives_the_store_and_the_json(master, tmp_path):
    result = checked(master, order(line(price="18.90"), delivery_date=PAST), settings=RuleSettings(non_blocking=("past_delivery_date",)))
    assert codec.load_order(codec.dump_order(result)) == result
    back = order_from_json(json.loads(json.dumps(order_to_json(result))))
    assert not back.review and back.warning_codes == (ReasonCode.PAST_DELIVERY_DATE,)
    stored = stored_back(tmp_path, result, OrderState.READY)
    assert stored == result and not stored.reasons[0].blocking


@pytest.mark.parametrize("code", sorted(ALWAYS_BLOCKING))
def test_some_codes_can_never_be_warnings(code):
    with pytest.raises(ValueError, match="cannot be non-blocking"):
        RuleSettings(non_blocking=(str(code),))


def test_a_row_written_before_warnings_existed_blocks():
    text = codec.dump_order(Order(source="body", reasons=(Reason(ReasonCode.NEW_SHIP_TO, "x"),))).replace(',"blocking":true', "")
    assert '"blocking"' not in text
    assert codec.load_order(text).review


# --- the backorder split ------------------------------------------------------------------


def test_split_backorder_records_the_split_on_the_line(master):
    product = master.product("AX-1410")
    wanted = product.stock + 116
    plain = checked(master, order(line(sku="AX-1410", qty=str(wanted))))
    assert plain.lines[0].backorder is None, "without split_backorder nothing is recorded"
    split = checked(master, order(line(sku="AX-1410", qty=str(wanted)), line()), settings=RuleSettings(split_backorder=True))
    assert split.review and split.reason_codes == (ReasonCode.OUT_OF_STOCK,), "out_of_stock still blocks"
    (reason,) = split.reasons
    assert reason.field == "lines[1].quantity" and reason.found == str(wanted) and reason.expected == f"<= {product.stock}"
    assert split.lines[0].backorder == Backorder(Decimal(product.stock), Decimal(116), "EA")
    assert split.lines[1].backorder is None, "a line in stock is not split"
    assert order_to_json(split)["lines"][0]["backorder"] == {"ship_now": str(product.stock), "backorder": "116", "uom": "EA"}
    assert "backorder" not in order_to_json(split)["lines"][1]


def test_split_in_cases_is_in_base_units(master):
    product = master.product("AX-1410")  # EA, packs of 250
    cases = product.stock // 250 + 2
    split = checked(master, order(line(sku="AX-1410", qty=str(cases), uom="CS")), settings=RuleSettings(split_backorder=True))
    assert split.lines[0].backorder == Backorder(Decimal(product.stock), cases * 250 - Decimal(product.stock), "EA")


def test_the_backorder_survives_the_store_round_trip(master, tmp_path):
    product = master.product("AX-1410")
    split = checked(master, order(line(sku="AX-1410", qty=str(product.stock + 5))), settings=RuleSettings(split_backorder=True))
    assert codec.load_order(codec.dump_order(split)) == split
    stored = stored_back(tmp_path, split, OrderState.NEEDS_REVIEW)
    assert stored == split and stored.lines[0].backorder == Backorder(Decimal(product.stock), Decimal(5), "EA")
    back = order_from_json(json.loads(json.dumps(order_to_json(split))))
    assert back.lines[0].backorder == split.lines[0].backorder


# --- credit across currencies --------------------------------------------------------------

GBP = "C1012"  # Pennine Engineering, GBP, limit 180000
PENNINE = replace(HAMBURG, name="Pennine Engineering Ltd", street="Dean Clough Mills", postal_code="HX3 5AX", city="Halifax", country="GB", address_id="C1012-01")


def pennine(*lines, currency="GBP"):
    return order(*lines, customer_id=Field(GBP, 0.99), currency=Field(currency, 0.9) if currency else Field(None), ship_to=Field(PENNINE, 0.95))


def credit_reasons(master, o: Order, open_value, rates) -> list[Reason]:
    result = checked(master, o, customer_id=GBP, open_order_value=lambda c: open_value, settings=RuleSettings(exchange_rates=rates))
    return [r for r in result.reasons if r.code in (ReasonCode.CREDIT_LIMIT,)]


EUR_GBP = (("GBP", "EUR", Decimal("1.2")),)


@pytest.mark.parametrize(
    ("open_value", "new", "rates", "expected", "found"),
    [
        # 1000 EUR of open orders at list price is 833.33 GBP: far under the limit
        (Amounts.of([("EUR", Decimal(1000))]), pennine(line(qty="10", price="20.00")), EUR_GBP, None, None),
        # open 179,000 GBP + 10 x AX-1523 at list price 18.90 EUR = 157.50 GBP: over 180,000
        (Amounts.of([("GBP", Decimal(179900))]), pennine(line(qty="10")), EUR_GBP, "<= 180000 GBP", "180057.50 GBP"),
        # the same EUR amount, with the rate written the other way round
        (Amounts.of([("GBP", Decimal(179900))]), pennine(line(qty="10")), (("EUR", "GBP", Decimal("0.8")),), "<= 180000 GBP", "180051.20 GBP"),
        # a stated price is in the order's currency: 10 x 20 USD with no USD rate cannot be checked
        (Amounts(), pennine(line(qty="10", price="20.00"), currency="USD"), EUR_GBP, "a rate USD -> GBP", "200.00 USD"),
        # open orders in EUR with no rate at all: never assumed 1:1
        (Amounts.of([("EUR", Decimal(5))]), pennine(line(qty="1", price="20.00")), (), "a rate EUR -> GBP", "5.00 EUR + 20.00 GBP"),
        # a plain Decimal from the look-up is in the customer's currency
        (Decimal(179990), pennine(line(qty="1", price="20.00")), (), "<= 180000 GBP", "180010.00 GBP"),
    ],
)
def test_credit_limit_in_the_customers_currency(master, open_value, new, rates, expected, found):
    reasons = credit_reasons(master, new, open_value, rates)
    if expected is None:
        assert reasons == []
        return
    (reason,) = reasons
    assert reason.blocking and reason.field == "customer_id"
    assert reason.expected == expected and reason.found == found
    if expected.startswith("a rate"):
        assert "cannot be checked" in reason.message and "exchange_rates" in reason.message


def test_order_value_keeps_currencies_apart(master):
    o = pennine(line(qty="2", price="20.00"), line(sku="AX-2040", qty="1", price=None))
    assert dict(order_value(o, master)) == {"GBP": Decimal("40.00"), "EUR": Decimal("12.90")}
    no_currency = pennine(line(qty="2", price="20.00"), currency=None)
    assert dict(order_value(no_currency, master)) == {"GBP": Decimal("40.00")}, "the customer's currency when none is stated"
    unnamed = replace(no_currency, customer_id=Field(None))
    assert dict(order_value(unnamed, master, "GBP")) == {"GBP": Decimal("40.00")}, "the resolved customer's, given"


@pytest.mark.parametrize(
    ("source", "target", "rate"),
    [("USD", "EUR", Decimal("0.9")), ("EUR", "USD", 1 / Decimal("0.9")), ("eur", "EUR", Decimal(1))],
)
def test_rate_table(source, target, rate):
    assert RateTable((("USD", "EUR", Decimal("0.9")),)).rate(source, target) == rate


def test_rate_table_names_the_missing_rate():
    with pytest.raises(MissingRate, match="USD -> GBP"):
        RateTable((("USD", "EUR", Decimal("0.9")),)).convert(Amounts.of([("USD", Decimal(1))]), "GBP")


def test_amounts_add_from_zero():
    total = Decimal(0) + Amounts.of([("EUR", Decimal(2))]) + Amounts.of([("EUR", Decimal(3)), ("GBP", Decimal(1))])
    assert dict(total) == {"EUR": Decimal(5), "GBP": Decimal(1)}
