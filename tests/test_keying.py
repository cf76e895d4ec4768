"""The keying protocol (bot.keying) against an in-memory portal: exactly once
through every failure a portal can have, on a real SQLite store."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.errors import PortalUnavailable
from bot.extraction_json import order_from_json
from bot.identity import identify
from bot.keying import EntryError, Keyer, KeyingPolicy, differences, entry_for
from bot.model import MessageStatus, OrderState, ReasonCode
from bot.ports import PortalEntry, PortalLine, PortalOrder
from bot.store import KeyingOutcome, Store
from tests.portal_double import DoublePortal, PortalState


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def ready(store: Store, po: str, *, lines=None, urgent=False, ship_to=None) -> int:
    data = f"From: a@nordwind.de\r\nMessage-ID: <{po}@t>\r\nSubject: {po}\r\n\r\nx\r\n".encode()
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256,
                                 dedup_key=identity.dedup_key, raw=data, origin="test", name=po)
    order = order_from_json({
        "source": "body", "customer_id": "C1001", "po_number": po, "urgent": urgent,
        "delivery_date": "2026-12-14",
        "lines": lines or [{"sku": "AX-1523", "quantity": "4", "uom": "EA", "unit_price": "18.90"}],
        "ship_to": ship_to or {"name": "Nordwind Logistik GmbH", "street": "Hafenstrasse 12",
                               "postal_code": "20457", "city": "Hamburg", "country": "DE"},
    })
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED)
    return stored.id


def keyer(store, master, state: PortalState, **policy) -> Keyer:
    return Keyer(store, master, lambda: DoublePortal(state), holder="test",
                 policy=KeyingPolicy(**{"first_retry_seconds": 0, "stale_after_seconds": 0, **policy}))


def test_ready_orders_are_keyed_once_and_read_back(store, master):
    ids = [ready(store, f"PO-{i}") for i in range(3)]
    state = PortalState()
    report = keyer(store, master, state).run()
    assert report.keyed == 3 and state.submits == 3
    for order_id in ids:
        stored = store.get_order(order_id)
        assert stored.state is OrderState.KEYED and stored.portal_order_number.startswith("SO-")
        (attempt,) = store.keying_attempts(order_id)
        assert attempt.outcome is KeyingOutcome.KEYED and attempt.idempotency_key.startswith("C1001/")
    assert keyer(store, master, state).run().keyed == 0  # nothing left to key


def test_commit_then_fail_is_settled_by_searching_not_by_typing_again(store, master):
    order_id = ready(store, "PO-CTF")
    state = PortalState(after_save=1)
    report = keyer(store, master, state).run()
    assert state.submits == 1 and len(state.orders) == 1
    assert report.found == 1
    stored = store.get_order(order_id)
    assert stored.state is OrderState.KEYED and stored.portal_order_number == "SO-000001"


def test_failure_before_save_is_retried_with_a_pause(store, master):
    order_id = ready(store, "PO-500")
    state = PortalState(before_save=1)
    report = keyer(store, master, state, first_retry_seconds=3600, max_retry_seconds=7200).run()
    assert report.retry == 1 and store.get_order(order_id).state is OrderState.READY
    assert store.orders_to_key() == []  # held back by the pause
    report = keyer(store, master, state).run()
    assert report.keyed == 0  # still held back: the pause is in the store
    events = [e.reason for e in store.events(entity_id=order_id) if e.reason]
    assert any("will retry in 3600s" in r for r in events)


def test_an_order_that_keeps_failing_fails_with_the_last_error(store, master):
    order_id = ready(store, "PO-DOWN")
    state = PortalState(before_save=10)
    for _ in range(3):
        keyer(store, master, state, max_attempts=3).run()
    stored = store.get_order(order_id)
    assert stored.state is OrderState.FAILED
    assert [a.outcome for a in store.keying_attempts(order_id)] == [KeyingOutcome.RETRY, KeyingOutcome.RETRY, KeyingOutcome.FAILED]
    assert not state.orders


def test_an_order_sent_back_after_keying_gave_up_gets_a_fresh_round_of_attempts(store, master):
    order_id = ready(store, "PO-AGAIN")
    state = PortalState(before_save=10)
    for _ in range(2):
        keyer(store, master, state, max_attempts=2).run()
    assert store.get_order(order_id).state is OrderState.FAILED
    store.transition(order_id, OrderState.NEEDS_REVIEW, actor="handler:hana", reason="sent back")
    store.transition(order_id, OrderState.READY, actor="handler:hana", reason="approved")
    keyer(store, master, state, max_attempts=2).run()
    assert store.get_order(order_id).state is OrderState.READY  # attempt 3, but the first of its round
    keyer(store, master, state, max_attempts=2).run()
    assert store.get_order(order_id).state is OrderState.FAILED
    assert [a.outcome for a in store.keying_attempts(order_id)] == [
        KeyingOutcome.RETRY, KeyingOutcome.FAILED, KeyingOutcome.RETRY, KeyingOutcome.FAILED]
    assert "gave up after 2 attempts" in (store.events(entity_id=order_id)[-1].reason or "")


def test_portal_refusal_goes_to_review_with_the_portals_words(store, master):
    order_id = ready(store, "PO-BAD")
    state = PortalState(rejects={"PO-BAD"})
    keyer(store, master, state).run()
    stored = store.get_order(order_id)
    assert stored.state is OrderState.NEEDS_REVIEW
    (reason,) = [r for r in stored.order.reasons if r.code is ReasonCode.PORTAL_REJECTED]
    assert "Unknown item" in reason.message


def test_read_back_difference_goes_to_review_and_approval_never_types_it_twice(store, master):
    order_id = ready(store, "PO-TAMPER")
    state = PortalState(tamper={"PO-TAMPER": PortalLine("AX-1523", Decimal(40), Decimal("18.9"))})
    keyer(store, master, state).run()
    stored = store.get_order(order_id)
    assert stored.state is OrderState.NEEDS_REVIEW and stored.portal_order_number == "SO-000001"
    (reason,) = [r for r in stored.order.reasons if r.code is ReasonCode.PORTAL_MISMATCH]
    assert "line 1 quantity: sent Decimal('4'), portal has Decimal('40')" in reason.message
    # A handler fixes the portal by hand and approves: the search finds it, nothing is typed.
    state.orders["SO-000001"] = (entry_for(stored.order, master), "PO-TAMPER")
    store.transition(order_id, OrderState.READY, actor="handler:ann")
    keyer(store, master, state).run()
    assert store.get_order(order_id).state is OrderState.KEYED and state.submits == 1


def test_a_dead_workers_attempt_is_reconciled_by_search(store, master):
    saved, lost = ready(store, "PO-SAVED"), ready(store, "PO-LOST")
    state = PortalState()
    # Two workers died mid-keying: one after the portal saved, one before.
    for order_id in (saved, lost):
        store.begin_keying(order_id, holder="dead-worker")
    DoublePortal(state).submit(entry_for(store.get_order(saved).order, master))
    report = keyer(store, master, state).run()
    assert store.get_order(saved).state is OrderState.KEYED and report.found == 1
    assert store.get_order(lost).state is OrderState.READY and report.retry == 1
    keyer(store, master, state).run()
    assert store.get_order(lost).state is OrderState.KEYED
    assert len(state.orders) == 2 and state.submits == 2


def test_an_attempt_that_cannot_be_searched_stays_uncertain_until_it_can(store, master):
    order_id = ready(store, "PO-UNC")
    state = PortalState(after_save=1)

    class SearchDownAfterSave(DoublePortal):
        def find(self, customer_id, po_number):
            if self.state.orders:
                raise PortalUnavailable("search page timed out")
            return super().find(customer_id, po_number)

    policy = KeyingPolicy(first_retry_seconds=0, stale_after_seconds=0)
    report = Keyer(store, master, lambda: SearchDownAfterSave(state), holder="t", policy=policy).run()
    assert report.uncertain == 1 and store.get_order(order_id).state is OrderState.KEYING
    assert store.keying_attempts(order_id)[0].outcome is KeyingOutcome.UNCERTAIN
    report = keyer(store, master, state).run()  # the portal's search works again
    assert report.found == 1 and store.get_order(order_id).state is OrderState.KEYED
    assert state.submits == 1


def test_urgent_orders_are_keyed_first(store, master):
    ids = [ready(store, "PO-LATE"), ready(store, "PO-RUSH", urgent=True)]
    state = PortalState()
    keyer(store, master, state).run()
    first = state.orders["SO-000001"][0]
    assert first.po_number == "PO-RUSH" and {store.get_order(i).state for i in ids} == {OrderState.KEYED}


def test_parallel_workers_key_each_order_exactly_once(store, master):
    ids = [ready(store, f"PO-P{i}") for i in range(24)]
    state = PortalState(after_save=3, before_save=3)
    for _ in range(3):
        keyer(store, master, state, workers=4).run()
    assert {store.get_order(i).state for i in ids} == {OrderState.KEYED}
    pos = sorted(entry.po_number for entry, _ in state.orders.values())
    assert pos == sorted(f"PO-P{i}" for i in range(24))


def test_artifacts_are_kept_with_the_attempt_and_pruned_by_age(store, master):
    order_id = ready(store, "PO-ART")
    attempt = store.begin_keying(order_id, holder="t")
    store.add_artifact(attempt.id, "screenshot", "failure.png", b"\x89PNG")
    (artifact,) = store.artifacts(order_id)
    assert artifact.kind == "screenshot" and artifact.data == b"\x89PNG"
    assert store.prune_artifacts(timedelta(days=1)) == 0
    assert store.prune_artifacts(timedelta(seconds=-1)) == 1 and store.artifacts(order_id) == []


# -- entry_for / differences ------------------------------------------------------

def test_entry_converts_boxes_to_base_units_and_box_prices_to_unit_prices(master):
    product = next(p for p in master.products() if p.pack_size)
    order = order_from_json({"source": "body", "customer_id": "C1001", "po_number": "X",
                             "lines": [{"sku": product.sku, "quantity": "2", "uom": "BX",
                                        "unit_price": str(product.unit_price * product.pack_size)}]})
    (line,) = entry_for(order, master).lines
    assert line.quantity == 2 * product.pack_size
    assert line.unit_price == product.unit_price.normalize()


def test_entry_refuses_a_line_without_sku(master):
    order = order_from_json({"source": "body", "customer_id": "C1001", "po_number": "X",
                             "lines": [{"sku": None, "quantity": "2"}]})
    with pytest.raises(EntryError, match="line 1 has no known sku"):
        entry_for(order, master)


def test_entry_types_an_address_unknown_to_master_data_as_text(master):
    known = order_from_json({"source": "body", "customer_id": "C1001", "po_number": "X", "lines": [],
                             "ship_to": {"name": "N", "city": "Hamburg"}})
    entry = entry_for(known, master)
    assert entry.ship_to_id is None and entry.ship_to_text == "N\nHamburg"


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        (PortalOrder("SO-1", "C1001", "po-1", date(2026, 12, 14), "C1001-01", False,
                     (PortalLine("AX-1", Decimal(4), Decimal("2.5")),)), []),
        (PortalOrder("SO-1", "C1001", "PO-1"), []),  # a search result shows no lines: nothing to compare
        (PortalOrder("SO-1", "C1002", "PO-1"), ["customer: sent 'C1001', portal has 'C1002'"]),
        (PortalOrder("SO-1", "C1001", "PO-1", date(2026, 12, 15)),
         ["requested date: sent datetime.date(2026, 12, 14), portal has datetime.date(2026, 12, 15)"]),
        (PortalOrder("SO-1", "C1001", "PO-1", urgent=True), ["urgent: sent False, portal has True"]),
        (PortalOrder("SO-1", "C1001", "PO-1", lines=()), ["lines: sent 1, portal has 0"]),
        (PortalOrder("SO-1", "C1001", "PO-1", lines=(PortalLine("AX-1", Decimal(4), Decimal("2.6")),)),
         ["line 1 unit price: sent Decimal('2.5'), portal has Decimal('2.6')"]),
    ],
)
def test_differences(saved, expected):
    sent = PortalEntry("C1001", "PO-1", (PortalLine("AX-1", Decimal(4), Decimal("2.5")),),
                       date(2026, 12, 14), "C1001-01", None, False)
    assert differences(sent, saved) == expected


def test_a_keying_run_prunes_old_artifacts(store, master):
    order_id = ready(store, "PO-OLD")
    attempt = store.begin_keying(order_id, holder="t")
    store.add_artifact(attempt.id, "trace", "t.zip", b"PK")
    keyer(store, master, PortalState(), artifacts_keep_days=1).run()
    assert len(store.artifacts(order_id)) == 1  # young: kept
    keyer(store, master, PortalState(), artifacts_keep_days=-1).run()
    assert store.artifacts(order_id) == []


def test_a_store_failure_on_one_order_does_not_stop_the_others(store, master, monkeypatch):
    from bot.errors import StoreBusy

    first, second = ready(store, "PO-X1"), ready(store, "PO-X2")
    real = store.begin_keying
    calls = []

    def busy_once(order_id, **kwargs):
        calls.append(order_id)
        if len(calls) == 1:
            raise StoreBusy("database is locked")
        return real(order_id, **kwargs)

    monkeypatch.setattr(store, "begin_keying", busy_once)
    state = PortalState()
    report = keyer(store, master, state).run()  # one worker: the second order still goes
    assert any("StoreBusy: database is locked" in e for e in report.errors)
    assert {store.get_order(i).state for i in (first, second)} == {OrderState.READY, OrderState.KEYED}
    keyer(store, master, state).run()
    assert {store.get_order(i).state for i in (first, second)} == {OrderState.KEYED} and state.submits == 2


def test_a_stop_ends_the_pass_after_the_order_in_hand(store, master):
    """Given five ready orders and one worker, when the daemon is told to stop while
    the first is keyed, then that one is keyed and the others stay ready."""
    ids = [ready(store, f"ST-{i}") for i in range(5)]
    state = PortalState()
    stopping = []
    report = keyer(store, master, state).run(progress=lambda stage, done: stopping.append(done), stop=lambda: bool(stopping))
    assert report.keyed == 1 and state.submits == 1
    assert sorted(store.get_order(i).state for i in ids) == [OrderState.KEYED] + [OrderState.READY] * 4


def test_an_attempt_of_a_killed_worker_is_settled_at_once(store, master):
    """Given an attempt left in keying by a process of this host that is gone (the
    order was saved in the portal), when keying runs with the usual stale time,
    then it is settled by searching now, not two minutes later."""
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    order_id = ready(store, "KILLED-1")
    store.begin_keying(order_id, holder=f"{socket.gethostname()}:{child.pid}:0a1b2c3d")
    state = PortalState()
    DoublePortal(state).submit(entry_for(store.get_order(order_id).order, master))
    report = keyer(store, master, state, stale_after_seconds=120).run()
    assert report.found == 1 and state.submits == 1
    assert store.get_order(order_id).state is OrderState.KEYED
    # A live holder's attempt is left alone until it is stale.
    live = ready(store, "LIVE-1")
    store.begin_keying(live, holder="another-live-worker")
    assert keyer(store, master, state, stale_after_seconds=120).run().found == 0
    assert store.get_order(live).state is OrderState.KEYING
