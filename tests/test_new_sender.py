"""A sender never seen before for the customer (rules.yaml new_sender_needs_review)."""

from __future__ import annotations

import pytest

from bot.model import OrderState, RawMessage, ReasonCode
from bot.processing import parse
from bot.resolve import CustomerMatch
from bot.rules import RuleContext, RuleSettings
from bot.sender_checks import first_order_from_sender
from tests.test_pipeline import TODAY, body_order, inbox, make_pipeline, store  # noqa: F401 - fixtures
from tests.test_rules import order

ON = RuleSettings(new_sender_needs_review=True)
KNOWN = {("C1001", "jana.becker@nordwind.de")}


@pytest.mark.parametrize(
    ("sender", "settings", "flagged"),
    [
        ("jana.becker@nordwind.de", ON, False),
        ("Jana.Becker@nordwind.de", ON, False),  # the parser lower-cases addresses
        ("new.buyer@nordwind.de", ON, True),
        ("new.buyer@nordwind.de", RuleSettings(), False),  # off by default
    ],
)
def test_first_order_from_sender(master, sender, settings, flagged):
    message = parse(RawMessage(body_order("4500088001", sender=sender), "test", "t.eml"))
    asked = []

    def seen(customer_id, address):
        asked.append((customer_id, address))
        return (customer_id, address) in KNOWN

    ctx = RuleContext(
        master=master, today=TODAY, customer=CustomerMatch(master.customer("C1001"), True, 0.99),
        settings=settings, message=message, sender_seen=seen,
    )
    found = list(first_order_from_sender(order(), ctx))
    if not flagged:
        assert found == []
        return
    (reason,) = found
    assert asked == [("C1001", sender.lower())]
    assert reason.code is ReasonCode.UNVERIFIED_SENDER
    assert reason.message == f"first order from {sender.lower()} for C1001"
    assert (reason.field, reason.found) == ("sender", sender.lower())
    assert reason.expected == "an address that sent C1001's orders before"


def test_through_the_pipeline_with_a_store(store, master, inbox, tmp_path):  # noqa: F811
    """Given an order from jana.becker@nordwind.de that went through, when the rule is
    switched on, then her next order is ready and one from a new address of the same
    customer goes to review with the evidence."""
    (inbox / "1.eml").write_bytes(body_order("4500088101"))
    make_pipeline(store, master, inbox).run_once()
    assert [o.state for o in store.orders()] == [OrderState.READY]

    later = tmp_path / "later"
    later.mkdir()
    (later / "2.eml").write_bytes(body_order("4500088102"))
    (later / "3.eml").write_bytes(body_order("4500088103", sender="new.buyer@nordwind.de"))
    make_pipeline(store, master, later, rule_settings=ON).run_once()
    by_po = {o.order.po_number.value: o for o in store.orders()}
    assert by_po["4500088102"].state is OrderState.READY
    newcomer = by_po["4500088103"]
    assert newcomer.state is OrderState.NEEDS_REVIEW
    (reason,) = newcomer.order.reasons
    assert reason.message == "first order from new.buyer@nordwind.de for C1001"
