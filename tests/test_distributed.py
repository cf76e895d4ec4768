"""The logic of ``executor: celery`` without a broker: what the dispatcher sends,
and what a worker's task does with an order, on a real SQLite store and the
in-memory portal. The real thing (Redis, PostgreSQL, worker processes, the
demo portal) is tests/test_celery.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.distributed import (
    QUEUE,
    URGENT_QUEUE,
    Dispatcher,
    Liveness,
    NoSlot,
    WorkerRuntime,
    worker_lease,
)
from bot.keying import Keyer, KeyingPolicy
from bot.model import OrderState
from bot.store import KeyingOutcome, Store
from tests.portal_double import DoublePortal, PortalState
from tests.test_keying import entry_for, ready

ELSEWHERE = "worker-7.example:4242:0a1b2c3d"  # a worker on another machine


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def runtime(store: Store, master, state: PortalState, *, holder: str = "here:1:feedf00d", sessions: int | None = None):
    keyer = Keyer(store, master, lambda: DoublePortal(state), holder=holder, policy=KeyingPolicy(first_retry_seconds=0))
    return WorkerRuntime(store, keyer, holder=holder, portal_sessions=sessions, heartbeat_seconds=60)


def test_the_dispatcher_sends_due_orders_urgent_first_and_not_twice(store):
    urgent, plain = ready(store, "D-1", urgent=True), ready(store, "D-2")
    sent: list[tuple[str, int]] = []
    dispatcher = Dispatcher(store, lambda queue, order_id: sent.append((queue, order_id)), redispatch_seconds=300)
    dispatcher.dispatch()
    assert sent == [(URGENT_QUEUE, urgent), (QUEUE, plain)]
    dispatcher.dispatch()
    assert len(sent) == 2  # still within redispatch_seconds
    dispatcher.redispatch_seconds = 0
    dispatcher.dispatch()
    assert len(sent) == 4  # still ready later: sent again (a lost message is no lost order)


def test_the_dispatcher_keeps_an_order_when_the_broker_is_down(store):
    ready(store, "D-3")

    def down(queue: str, order_id: int) -> None:
        raise ConnectionError("broker unreachable")

    summary = Dispatcher(store, down).dispatch()
    assert "broker unreachable" in summary.errors[0]
    sent: list[tuple[str, int]] = []
    Dispatcher(store, lambda q, o: sent.append((q, o))).dispatch()
    assert len(sent) == 1


def test_an_attempt_is_taken_from_a_worker_only_once_its_heartbeat_lapsed(store, master):
    order_id = ready(store, "D-4")
    attempt = store.begin_keying(order_id, holder=ELSEWHERE)
    liveness = Liveness(store)
    sent: list[tuple[str, int]] = []
    dispatcher = Dispatcher(store, lambda q, o: sent.append((q, o)), stale_after_seconds=0)

    assert store.acquire_lease(worker_lease(ELSEWHERE), ELSEWHERE, 60)  # alive, however old its attempt
    assert not liveness.settle_now(store.unfinished_attempts()[0], timedelta(0))
    dispatcher.dispatch()
    assert sent == []
    state = PortalState()
    assert runtime(store, master, state).key(order_id) == "being keyed by a live worker"

    assert store.acquire_lease(worker_lease(ELSEWHERE), ELSEWHERE, 0.001)  # its heartbeat stops
    assert liveness(ELSEWHERE)
    dispatcher.dispatch()
    assert sent == [(QUEUE, order_id)]
    DoublePortal(state).submit(entry_for(store.get_order(order_id).order, master))  # it had saved the order
    assert runtime(store, master, state).key(order_id) == "found=1"
    assert store.get_order(order_id).state is OrderState.KEYED and state.submits == 1
    (settled,) = store.keying_attempts(order_id)
    assert settled.id == attempt.id and settled.outcome is KeyingOutcome.FOUND


def test_a_task_delivered_twice_keys_once(store, master):
    order_id = ready(store, "D-5")
    state = PortalState()
    worker = runtime(store, master, state)
    assert worker.key(order_id) == "keyed=1"
    assert worker.key(order_id) == "nothing to do: keyed"
    assert runtime(store, master, state, holder="here:2:beefcafe").key(order_id) == "nothing to do: keyed"
    assert state.submits == 1


def test_portal_sessions_are_capped_across_workers(store, master):
    first, second = ready(store, "D-6"), ready(store, "D-7")
    state = PortalState()
    one = runtime(store, master, state, holder="here:1:feedf00d", sessions=1)
    other = runtime(store, master, state, holder=ELSEWHERE, sessions=1)
    assert one.key(first) == "keyed=1"  # holds portal-session:0 while its session is open
    assert store.acquire_lease(worker_lease("here:1:feedf00d"), "here:1:feedf00d", 60)
    with pytest.raises(NoSlot):
        other.key(second)
    one.stop()  # closes its session, gives the slot back
    assert other.key(second) == "keyed=1"


def test_a_dead_workers_slot_is_taken_and_it_stays_known_dead(store, master):
    """Given a worker on another machine that died holding the only session slot and
    an open attempt, when another worker takes the slot over, then the dead one is
    still known dead (its lapsed heartbeat is the evidence) and its order is sent out."""
    stuck, other = ready(store, "D-8"), ready(store, "D-9")
    store.begin_keying(stuck, holder=ELSEWHERE)
    assert store.acquire_lease(worker_lease(ELSEWHERE), ELSEWHERE, 0.001)
    assert store.acquire_lease("portal-session:0", ELSEWHERE, 0.001)
    state = PortalState()
    assert runtime(store, master, state, sessions=1).key(other) == "keyed=1"
    assert Liveness(store)(ELSEWHERE)
    sent: list[tuple[str, int]] = []
    Dispatcher(store, lambda q, o: sent.append((q, o))).dispatch()
    assert sent == [(QUEUE, stuck)]
