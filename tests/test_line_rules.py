"""The line rules of bot/line_rules.py, table-driven against the demo master data."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace

import pytest

from bot.line_rules import backorder_split, cross_border_hs_codes, pack_multiples, whole_units
from bot.model import Address, Field
from bot.resolve import CustomerMatch
from bot.rules import RuleContext, RuleSettings, validate
from connectors.masterdata import CsvMasterData
from tests.conftest import DEMO_MASTER_DATA
from tests.test_rules import HAMBURG, TODAY, codes, line, order


def context(master, **settings) -> RuleContext:
    match = CustomerMatch(master.customer("C1001"), True, 0.99)
    return RuleContext(master=master, today=TODAY, customer=match, settings=RuleSettings(**settings))


def evidence(rule, master, o, **settings) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(str(r.code), r.field, r.expected, r.found) for r in rule(o, context(master, **settings))]


# --- whole_units -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "qty", "uom", "expected"),
    [
        ("AX-1523", "4", "EA", []),
        ("AX-1523", "4.0", "EA", []),  # 4.0 is a whole number
        ("AX-1523", "2.5", "EA", [("ambiguous_quantity", "lines[1].quantity", "a whole number of EA", "2.5")]),
        ("AX-1410", "1.5", "CS", [("ambiguous_quantity", "lines[1].quantity", "a whole number of CS", "1.5")]),
        ("BR-3208", "0.5", None, [("ambiguous_quantity", "lines[1].quantity", "a whole number of BX", "0.5")]),  # product unit BX
        ("AX-3268", "12.5", "MTR", []),  # metres may be fractional
        ("AX-3268", "12.5", None, []),  # product unit MTR
        ("AX-1523", "-2.5", "EA", []),  # non-positive: the quantities rule's business
    ],
)
def test_whole_units(master, sku, qty, uom, expected):
    assert evidence(whole_units, master, order(line(sku=sku, qty=qty, uom=uom))) == expected


def test_whole_units_in_the_pipeline(master):
    assert codes(master, order(line(qty="2.5", price="18.90"))) == ["ambiguous_quantity"]
    assert codes(master, order(line(sku="AX-3268", qty="12.5", uom="MTR"))) == []


# --- pack_multiples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "qty", "uom", "required", "expected"),
    [
        ("AX-2040", "7", "EA", False, []),  # off by default
        ("AX-2040", "12", "EA", True, []),  # pack size 6
        ("AX-2040", "7", "EA", True, [("low_confidence", "lines[1].quantity", "12", "7")]),
        ("AX-2040", "7", None, True, [("low_confidence", "lines[1].quantity", "12", "7")]),  # unit from master data
        ("AX-1410", "300", "EA", True, [("low_confidence", "lines[1].quantity", "500", "300")]),  # pack size 250
        ("AX-1410", "3", "CS", True, []),  # ordered in packs: not in the base unit
        ("AX-1523", "7", "EA", True, []),  # no pack size
    ],
)
def test_pack_multiples(master, sku, qty, uom, required, expected):
    assert evidence(pack_multiples, master, order(line(sku=sku, qty=qty, uom=uom)), pack_multiple_required=required) == expected


def test_pack_multiples_in_the_pipeline(master):
    settings = RuleSettings(pack_multiple_required=True)
    assert codes(master, order(line(sku="AX-2040", qty="7")), settings=settings) == ["low_confidence"]
    assert codes(master, order(line(sku="AX-2040", qty="7"))) == []


# --- backorder (the stock rule with split_backorder) -----------------------------


@pytest.mark.parametrize(("needed", "on_hand", "split"), [("10", 4, ("4", "6")), ("10", 0, ("0", "10")), ("10", -3, ("0", "10"))])
def test_backorder_split(needed, on_hand, split):
    from decimal import Decimal

    assert backorder_split(Decimal(needed), on_hand) == tuple(Decimal(s) for s in split)


@pytest.mark.parametrize("split", [False, True])
def test_stock_with_and_without_split_backorder(master, split):
    product = master.product("AX-2040")
    needed = product.stock + 10
    o = order(line(sku="AX-2040", qty=str(needed)))
    reasons = validate(o, context(master, split_backorder=split)).reasons
    stock_reasons = [r for r in reasons if r.code == "out_of_stock"]
    assert len(stock_reasons) == 1  # still blocking either way
    reason = stock_reasons[0]
    assert (reason.field, reason.expected, reason.found) == ("lines[1].quantity", f"<= {product.stock}", str(needed))
    note = f"split: ship {product.stock} EA now, backorder 10 EA"
    assert (note in reason.message) is split


def test_split_backorder_leaves_orders_in_stock_alone(master):
    assert codes(master, order(line(sku="AX-2040", qty="12")), settings=RuleSettings(split_backorder=True)) == []


# --- cross_border_hs_codes -------------------------------------------------------


@pytest.fixture(scope="module")
def master_with_hs(tmp_path_factory):
    """The demo master data with an hs_code column, filled for some products only."""
    folder = tmp_path_factory.mktemp("masterdata")
    for name in ("customers.csv", "addresses.csv", "customer_items.csv"):
        shutil.copy(DEMO_MASTER_DATA / name, folder / name)
    with (DEMO_MASTER_DATA / "products.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    codes_by_sku = {"AX-2040": "3920.10.28", "AX-1523": "8479.89.97"}
    with (folder / "products.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0].keys(), "hs_code"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "hs_code": codes_by_sku.get(row["sku"], "")})
    return CsvMasterData.load(folder)


def test_hs_code_column_is_optional(master, master_with_hs):
    assert master.product("AX-2040").hs_code is None  # demo data has no column
    assert master_with_hs.product("AX-2040").hs_code == "3920.10.28"
    assert master_with_hs.product("AX-4781").hs_code is None  # empty cell


VIENNA = Address("Nordwind Austria", "Ringstrasse 1", "1010", "Wien", "AT")
BY_ID = replace(HAMBURG, country=None)  # country only from the known address C1001-01 (DE)


@pytest.mark.parametrize(
    ("ship_to", "skus", "home", "expected"),
    [
        (VIENNA, ("AX-4781",), None, []),  # off by default
        (HAMBURG, ("AX-4781",), "DE", []),  # home country
        (HAMBURG, ("AX-4781",), "de", []),
        (BY_ID, ("AX-4781",), "DE", []),  # country from the known address
        (VIENNA, ("AX-2040", "AX-1523"), "DE", []),  # every line has an HS code
        (VIENNA, ("AX-2040", "AX-4781"), "DE", [("low_confidence", "lines[2].sku", "an hs_code in products.csv", "AX-4781")]),
        (BY_ID, ("AX-4781",), "AT", [("low_confidence", "lines[1].sku", "an hs_code in products.csv", "AX-4781")]),
    ],
)
def test_cross_border_hs_codes(master_with_hs, ship_to, skus, home, expected):
    o = order(*(line(sku=s) for s in skus), ship_to=Field(ship_to, 0.95))
    assert evidence(cross_border_hs_codes, master_with_hs, o, home_country=home) == expected


def test_cross_border_names_the_sku_and_needs_review(master_with_hs):
    o = order(line(sku="AX-4781"), ship_to=Field(VIENNA, 0.95))
    [reason] = cross_border_hs_codes(o, context(master_with_hs, home_country="DE"))
    assert "AX-4781" in reason.message and "AT" in reason.message
    assert "low_confidence" in codes(master_with_hs, o, settings=RuleSettings(home_country="DE"))


def test_cross_border_without_the_column_flags_every_line(master):
    o = order(line(sku="AX-2040"), line(sku="AX-1523"), ship_to=Field(VIENNA, 0.95))
    assert [r.found for r in cross_border_hs_codes(o, context(master, home_country="DE"))] == ["AX-2040", "AX-1523"]
