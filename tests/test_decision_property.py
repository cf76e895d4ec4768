"""Whatever the combination, an order with a blocking reason or a doubtful keyed
field is never ready.

Hypothesis builds orders with any mix of present/missing fields, confidences,
units, prices and reasons from extraction, and any choice of the reason codes
the settings allow to be non-blocking; the real rules and the real decide stage
judge them against the demo master data.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.model import (
    ALWAYS_BLOCKING,
    Address,
    Field,
    Order,
    OrderLine,
    OrderState,
    Reason,
    ReasonCode,
)
from bot.processing import MessageProcessor
from bot.resolve import CustomerMatch
from bot.rules import (
    REQUIRED_CONFIDENT,
    REQUIRED_CONFIDENT_LINE,
    RuleContext,
    RuleSettings,
    validate,
)
from connectors.masterdata import CsvMasterData
from tests.conftest import DEMO_MASTER_DATA

MASTER = CsvMasterData.load(DEMO_MASTER_DATA)
TODAY = date(2026, 11, 26)
SETTINGS = RuleSettings()
KNOWN = MASTER.addresses("C1001")[0]

confidences = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def maybe(values, *, present=st.booleans()):
    return st.builds(lambda keep, value, conf: Field(value, conf) if keep else Field(None), present, values, confidences)


addresses = st.sampled_from(
    [
        Address(KNOWN.name, KNOWN.street, KNOWN.postal_code, KNOWN.city, KNOWN.country, KNOWN.address_id),
        Address("Somewhere Else", "Road 1", "99999", "Nowhere", "DE"),
        Address(),
    ]
)
lines = st.builds(
    OrderLine,
    sku=maybe(st.sampled_from(["AX-1523", "AX-1410", "AX-2040", "NOPE-1"])),
    quantity=maybe(st.decimals(min_value=-5, max_value=50_000, places=0, allow_nan=False, allow_infinity=False)),
    uom=maybe(st.sampled_from(["EA", "BX", "CS", "KGM", "UNIDADES"])),
    unit_price=maybe(st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)),
)
orders = st.builds(
    Order,
    source=st.sampled_from(["body", "attachment:PO-1.pdf", "attachment:order.csv"]),
    customer_id=maybe(st.sampled_from(["C1001"])),
    po_number=maybe(st.sampled_from(["4500012345", "PO-77"])),
    order_date=maybe(st.just(TODAY - timedelta(days=3))),
    delivery_date=maybe(st.integers(min_value=-30, max_value=800).map(lambda d: TODAY + timedelta(days=d))),
    currency=maybe(st.sampled_from(["EUR", "USD", "GBP"])),
    ship_to=maybe(addresses),
    lines=st.lists(lines, max_size=4).map(tuple),
    urgent=maybe(st.booleans()),
    reasons=st.lists(
        st.sampled_from([Reason(ReasonCode.UNREADABLE_DOCUMENT, "x"), Reason(ReasonCode.AMBIGUOUS_QUANTITY, "y"), Reason(ReasonCode.PRICE_MISMATCH, "z")]),
        max_size=1,
    ).map(tuple),
)
# Mostly-clean orders (each field present and likely confident) so that the
# property is exercised on orders that come close to being keyed.
high = st.floats(min_value=0.45, max_value=1.0, allow_nan=False)
clean_lines = st.builds(
    lambda qty, qc, price, pc, uc: OrderLine(
        sku=Field("AX-1523", 0.97), quantity=Field(qty, qc), uom=Field("EA", uc), unit_price=Field(price, pc) if price else Field(None)
    ),
    st.decimals(min_value=1, max_value=2_000, places=0, allow_nan=False, allow_infinity=False),
    high,
    st.sampled_from([None, Decimal("18.90"), Decimal("25.00")]),
    high,
    high,
)
near_clean = st.builds(
    lambda po, dd, cur, ls, c: Order(
        source="body",
        customer_id=Field("C1001", 0.99),
        po_number=Field("4500012345", po),
        delivery_date=Field(TODAY + timedelta(days=dd), 0.9),
        currency=Field(cur, c),
        ship_to=Field(Address(KNOWN.name, KNOWN.street, KNOWN.postal_code, KNOWN.city, KNOWN.country, KNOWN.address_id), 0.95),
        lines=tuple(ls),
    ),
    high,
    st.integers(min_value=-3, max_value=400),
    st.sampled_from(["EUR", "USD"]),
    st.lists(clean_lines, min_size=1, max_size=3),
    high,
)
verified = st.sampled_from([True, True, False])
WARNABLE = sorted(str(c) for c in set(ReasonCode) - ALWAYS_BLOCKING)
settings_choices = st.one_of(
    st.just(SETTINGS),
    st.lists(st.sampled_from(WARNABLE), unique=True).map(lambda codes: RuleSettings(non_blocking=tuple(codes))),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.one_of(orders, near_clean), by_domain=verified, rule_settings=settings_choices)
def test_nothing_doubtful_is_ever_ready(order: Order, by_domain: bool, rule_settings: RuleSettings):
    match = CustomerMatch(MASTER.customer("C1001") if order.customer_id.present else None, by_domain, 0.99)
    checked = validate(order, RuleContext(master=MASTER, today=TODAY, customer=match, settings=rule_settings))
    (state,) = MessageProcessor.decide((checked,))
    warnings = set(rule_settings.non_blocking)
    for reason in checked.reasons:
        assert reason.blocking is (str(reason.code) not in warnings), reason
    if state is not OrderState.READY:
        assert any(r.blocking for r in checked.reasons)
        return
    # Ready: nothing blocking, and nothing doubtful in what is keyed.
    assert all(not r.blocking and str(r.code) in warnings for r in checked.reasons)
    assert by_domain and checked.customer_id.present
    assert checked.po_number.present and checked.ship_to.present and checked.lines
    for name in REQUIRED_CONFIDENT:
        field = getattr(checked, name)
        assert not field.present or field.confidence >= SETTINGS.low_confidence, name
    for line in checked.lines:
        assert line.sku.present and line.quantity.present and line.quantity.value > 0
        for name in REQUIRED_CONFIDENT_LINE:
            field = getattr(line, name)
            assert not field.present or field.confidence >= SETTINGS.low_confidence, name
    if checked.delivery_date.present and "past_delivery_date" not in warnings:
        assert checked.delivery_date.value >= TODAY
    if "new_ship_to" not in warnings:
        assert checked.ship_to.value.address_id is not None, "a new ship-to is never keyed untouched"


def test_the_property_is_not_vacuous():
    """The generators do produce orders the rules let through (else the property proves nothing)."""
    seen = {"ready": 0}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(order=near_clean)
    def count(order: Order):
        match = CustomerMatch(MASTER.customer("C1001"), True, 0.99)
        checked = validate(order, RuleContext(master=MASTER, today=TODAY, customer=match, settings=SETTINGS))
        seen["ready"] += MessageProcessor.decide((checked,))[0] is OrderState.READY

    count()
    assert seen["ready"] >= 10


def test_warnings_alone_let_an_order_through():
    """With past_delivery_date non-blocking, near-clean orders with only that reason are
    ready, and still carry it (the non-blocking branch of the property is exercised)."""
    relaxed = RuleSettings(non_blocking=("past_delivery_date",))
    seen = {"ready_with_warning": 0}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(order=near_clean.map(lambda o: replace(o, delivery_date=Field(TODAY - timedelta(days=2), 0.9))))
    def count(order: Order):
        match = CustomerMatch(MASTER.customer("C1001"), True, 0.99)
        checked = validate(order, RuleContext(master=MASTER, today=TODAY, customer=match, settings=relaxed))
        if MessageProcessor.decide((checked,))[0] is OrderState.READY and checked.reasons:
            assert checked.warning_codes == (ReasonCode.PAST_DELIVERY_DATE,)
            seen["ready_with_warning"] += 1

    count()
    assert seen["ready_with_warning"] >= 10
