"""Each validation rule on hand-made orders against the demo master data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.model import Address, Field, Order, OrderLine, ReasonCode
from bot.resolve import CustomerMatch
from bot.rules import RuleContext, RuleSettings, validate

TODAY = date(2026, 11, 26)
HAMBURG = Address("Nordwind Logistik GmbH", "Hafenstrasse 12", "20457", "Hamburg", "DE", "C1001-01")


def line(sku: str | None = "AX-1523", qty: str | None = "4", uom: str | None = "EA", price: str | None = None, **kw) -> OrderLine:
    return OrderLine(
        sku=Field(sku, 0.97) if sku else Field(None),
        quantity=Field(Decimal(qty), 0.95) if qty else Field(None),
        uom=Field(uom, 0.9) if uom else Field(None),
        unit_price=Field(Decimal(price), 0.9) if price else Field(None),
        **kw,
    )


def order(*lines: OrderLine, **fields) -> Order:
    values = {
        "customer_id": Field("C1001", 0.99),
        "po_number": Field("4500001", 0.95),
        "delivery_date": Field(date(2026, 12, 10), 0.9),
        "currency": Field("EUR", 0.9),
        "ship_to": Field(HAMBURG, 0.95),
    }
    values.update(fields)
    return Order(source="body", lines=lines or (line(),), **values)


def codes(master, o: Order, *, customer_id: str = "C1001", by_domain: bool = True, **ctx) -> list[str]:
    match = CustomerMatch(master.customer(customer_id) if customer_id else None, by_domain, 0.99)
    context = RuleContext(master=master, today=TODAY, customer=match, **ctx)
    return [str(c) for c in validate(o, context).reason_codes]


def test_a_clean_order_has_no_reasons(master):
    assert codes(master, order(line(price="18.90"))) == []


def test_missing_fields(master):
    assert codes(master, order(po_number=Field(None))) == ["missing_field"]
    assert codes(master, order(ship_to=Field(None))) == ["missing_field"]
    assert codes(master, Order(source="body", customer_id=Field("C1001", 1.0), po_number=Field("1", 1.0), ship_to=Field(HAMBURG, 1.0))) == ["missing_field"]


def test_customer_and_sender(master):
    assert codes(master, order(), customer_id="", by_domain=False) == ["unknown_customer"]
    assert codes(master, order(), by_domain=False) == ["unverified_sender"]


def test_vague_and_non_positive_quantities(master):
    vague = OrderLine(sku=Field("AX-1523", 0.97), quantity_text="a few")
    assert codes(master, order(vague)) == ["ambiguous_quantity"]
    assert codes(master, order(line(qty="-2"))) == ["ambiguous_quantity"]


def test_unknown_sku(master):
    assert codes(master, order(line(sku=None, codes=("ZZ-0000",)))) == ["unknown_sku"]


@pytest.mark.parametrize(
    ("uom", "price", "expected"),
    [
        ("EA", "18.90", []),  # list price per each
        ("EA", "19.20", []),  # within 2 %
        ("EA", "21.00", ["price_mismatch"]),
    ],
)
def test_price_against_list(master, uom, price, expected):
    assert codes(master, order(line(uom=uom, price=price))) == expected


def test_price_per_box_uses_the_pack_size(master):
    """AX-1410 lists 0.28 per each in packs of 250: 70.00 per case is list price."""
    assert codes(master, order(line(sku="AX-1410", qty="1", uom="CS", price="70.00"))) == []
    assert codes(master, order(line(sku="AX-1410", qty="1", uom="CS", price="0.28"))) == ["price_mismatch"]


def test_prices_in_another_currency_are_not_compared(master):
    assert codes(master, order(line(price="25.00"), currency=Field("USD", 0.9))) == [], "within the plausible range, not compared exactly"


def test_stock_in_base_units(master):
    product = master.product("AX-1410")
    cases = product.stock // int(product.pack_size) + 1
    assert codes(master, order(line(sku="AX-1410", qty=str(cases), uom="CS"))) == ["out_of_stock"]
    assert codes(master, order(line(sku="AX-1410", qty=str(product.stock), uom="EA"))) == []


def test_credit_hold_and_limit(master):
    on_hold = next(c for c in master.customers() if c.on_hold)
    assert "credit_hold" in codes(master, order(customer_id=Field(on_hold.customer_id, 0.99)), customer_id=on_hold.customer_id)
    limited = master.customer("C1001")
    assert codes(master, order(line(price="18.90")), open_order_value=lambda c: limited.credit_limit) == ["credit_limit"]


def test_delivery_date_in_the_past_or_implausibly_far(master):
    assert codes(master, order(delivery_date=Field(date(2026, 11, 25), 0.9))) == ["past_delivery_date"]
    assert codes(master, order(delivery_date=Field(TODAY, 0.9))) == []
    assert codes(master, order(delivery_date=Field(date(2030, 1, 1), 0.9))) == ["low_confidence"]


def test_duplicate_po(master):
    seen = {("C1001", "4500001")}
    assert codes(master, order(), is_duplicate=lambda c, po: (c, po) in seen) == ["duplicate_po"]


def test_low_confidence_key_field(master):
    assert codes(master, order(po_number=Field("4500001", 0.3))) == ["low_confidence"]


def test_reasons_carry_evidence(master):
    from bot.rules import RuleContext as Ctx

    match = CustomerMatch(master.customer("C1001"), True, 0.99)
    checked = validate(order(line(price="21.00")), Ctx(master=master, today=TODAY, customer=match))
    (reason,) = checked.reasons
    assert reason.code is ReasonCode.PRICE_MISMATCH
    assert reason.field == "lines[1].unit_price" and reason.expected == "18.9" and reason.found == "21.00"


def test_a_unit_nobody_understood_or_that_does_not_convert_goes_to_review(master):
    assert codes(master, order(line(uom="UNIDADES"))) == ["low_confidence"]
    # AX-1523 is sold per each without a pack size: a case of it cannot be converted
    assert master.product("AX-1523").pack_size is None
    assert codes(master, order(line(uom="CS"))) == ["low_confidence"]
    assert codes(master, order(line(sku="AX-1410", uom="CS", qty="1"))) == []


def test_prices_without_a_currency_go_to_review(master):
    assert codes(master, order(line(price="18.90"), currency=Field(None))) == ["low_confidence"]
    assert codes(master, order(line(), currency=Field(None))) == []


def test_a_printed_order_without_an_order_date_goes_to_review(master):
    printed = order(line(price="18.90"))
    from dataclasses import replace

    assert codes(master, replace(printed, source="attachment:PO-1.pdf")) == ["low_confidence"]
    assert codes(master, replace(printed, source="attachment:PO-1.pdf", order_date=Field(TODAY, 0.9))) == []
    assert codes(master, replace(printed, source="attachment:order.csv")) == []


def test_a_price_in_another_currency_far_from_the_list_means_the_unit_is_wrong(master):
    """AX-1410 lists 0.28 EUR per each, 250 to a case: 70 USD per each is a case price
    with no unit written; 0.31 USD per each is plausible and not compared exactly."""
    usd = Field("USD", 0.9)
    assert codes(master, order(line(sku="AX-1410", uom="EA", qty="1", price="70.00"), currency=usd)) == ["low_confidence"]
    assert codes(master, order(line(sku="AX-1410", uom="EA", qty="1", price="0.31"), currency=usd)) == []
    assert codes(master, order(line(sku="AX-1410", uom="CS", qty="1", price="77.00"), currency=usd)) == []


def test_a_ship_to_that_is_not_a_known_address_goes_to_review(master):
    from dataclasses import replace as _replace

    unknown = Address("Somewhere New Ltd", "Other Road 1", "99999", "Elsewhere", "DE")
    assert codes(master, order(ship_to=Field(unknown, 0.9))) == ["new_ship_to"]
    lenient = RuleContext(master=master, today=TODAY, customer=CustomerMatch(master.customer("C1001"), True, 0.99), settings=_replace(RuleSettings(), new_ship_to_needs_review=False))
    assert [str(c) for c in validate(order(ship_to=Field(unknown, 0.9)), lenient).reason_codes] == []


def test_a_product_named_in_the_text_but_not_read_as_a_line_goes_to_review(master):
    """Given a body that names AX-1523 and AX-1410 but only AX-1523 became a line
    (the other's quantity could not be read), the order goes to review."""
    text = "please deliver:\n4 pcs AX-1523 Hand dispenser\nAX-1410 Pallet cover sheet a few\n"
    from dataclasses import replace as _replace

    o = _replace(order(), source="body")
    got = codes(master, o, body_text=text)
    assert got == ["unread_line"]
    assert codes(master, o, body_text="please deliver 4 pcs AX-1523\n") == []


@pytest.mark.parametrize(
    ("history", "qty", "expected"),
    [
        ((), "5000", []),  # no history: nothing to compare
        (("40", "50"), "5000", []),  # too little history
        (("40", "50", "60"), "500", []),  # 10x the median 50 is still usual
        (("40", "50", "60"), "501", ["low_confidence"]),
        (("40", "50", "60"), "4", ["low_confidence"]),
    ],
)
def test_a_quantity_far_outside_the_customers_history_goes_to_review(master, history, qty, expected):
    past = tuple(Decimal(h) for h in history)
    got = codes(master, order(line(qty=qty)), quantity_history=lambda c, sku: past if (c, sku) == ("C1001", "AX-1523") else ())
    assert got == expected
