"""The logic of ``executor: celery`` without a broker: what the dispatcher sends,
and what a worker's task does with an order, on a real SQLite store and the
in-memory portal. The real thing (Redis, PostgreSQL, worker processes, the
demo portal) is tests/test_celery.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.distributed import (
    QUEUE,
    URGENT_QUEUE,
    Dispatcher,
    Liveness,
    NoSlot,
    WorkerRuntime,
    message_lease,
    worker_lease,
)
from bot.keying import Keyer, KeyingPolicy
from bot.model import MessageStatus, OrderState, RawMessage, ReasonCode
from bot.store import KeyingOutcome, MailStatus, Store
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


def lapse(store: Store, name: str, holder: str) -> None:
    """``holder`` took ``name`` and stopped renewing it: by the store's clock it
    has lapsed when this returns (a 1 ms lease can still be live a moment later)."""
    assert store.acquire_lease(name, holder, 0.001)
    while not store.lease_lapsed(name):
        time.sleep(0.001)


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

    lapse(store, worker_lease(ELSEWHERE), ELSEWHERE)  # its heartbeat stops
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
    lapse(store, worker_lease(ELSEWHERE), ELSEWHERE)
    lapse(store, "portal-session:0", ELSEWHERE)
    state = PortalState()
    assert runtime(store, master, state, sessions=1).key(other) == "keyed=1"
    assert Liveness(store)(ELSEWHERE)
    sent: list[tuple[str, int]] = []
    Dispatcher(store, lambda q, o: sent.append((q, o))).dispatch()
    assert sent == [(QUEUE, stuck)]


# --- messages: recorded by the daemon, decided by a worker ----------------------------


def _pipelines(store: Store, master, inbox, outbox=None):
    from bot.pipeline import Pipeline
    from connectors.folder import FolderSource
    from connectors.outbox import OutboxMailer
    from tests.test_pipeline import TODAY

    def build(sources=()) -> Pipeline:
        return Pipeline(store=store, master=master, sources=list(sources), today=TODAY,
                        mailer=OutboxMailer(outbox) if outbox else None, holder="here:1:feedf00d")

    daemon = build([FolderSource("inbox", inbox)])
    return daemon, build


def _one_message(tmp_path, po: str):
    from tests.test_pipeline import body_order

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / f"{po}.eml").write_bytes(body_order(po))
    return inbox


def test_intake_records_and_sends_a_message_and_settles_it_once_a_worker_decided(store, master, tmp_path):
    daemon, build = _pipelines(store, master, _one_message(tmp_path, "PO-M1"))
    sent: list[int] = []
    daemon.send_message = sent.append

    first = daemon.receive()
    (entry,) = store.messages()
    assert sent == [entry.id] and first.received == 1 and first.dispatched == 1 and first.orders == 0
    assert entry.status is MessageStatus.RECEIVED and not store.orders()  # nothing decided in the daemon
    again = daemon.receive()
    assert sent == [entry.id] and again.received == 0  # still undecided: the dispatcher's to send again

    worker = WorkerRuntime(store, None, holder="here:1:feedf00d", portal_sessions=None, heartbeat_seconds=60,
                           pipelines=build)
    assert "(orders=1 " in worker.process(entry.id)
    assert worker.process(entry.id) == "nothing to do: decided already"  # a task delivered twice
    assert len(store.orders()) == 1
    settled = daemon.receive()
    assert settled.duplicates == 1 and sent == [entry.id]  # known now: settled at the source, not sent


def test_a_message_a_live_worker_decides_is_left_to_it_and_sent_again_once_it_died(store, master, tmp_path):
    daemon, build = _pipelines(store, master, _one_message(tmp_path, "PO-M2"))
    resent: list[int] = []
    daemon.send_message = lambda ledger_id: None  # the first send, lost with the worker that took it
    daemon.receive()
    (entry,) = store.messages()
    dispatcher = Dispatcher(store, lambda q, o: None, resent.append, redispatch_seconds=300, intake_grace_seconds=30)
    dispatcher.dispatch()
    assert resent == []  # just recorded: intake sends it (here, it did)
    dispatcher.intake_grace_seconds = 0

    assert store.acquire_lease(message_lease(entry.id), ELSEWHERE, 60)  # a live worker is at it
    dispatcher.dispatch()
    worker = WorkerRuntime(store, None, holder="here:1:feedf00d", portal_sessions=None, heartbeat_seconds=60,
                           pipelines=build)
    assert resent == [] and worker.process(entry.id) == "being decided by another worker"

    lapse(store, message_lease(entry.id), ELSEWHERE)  # it died: its lease lapses
    dispatcher.dispatch()
    assert resent == [entry.id]
    dispatcher.dispatch()
    assert resent == [entry.id]  # not again within redispatch_seconds
    assert "(orders=1 " in worker.process(entry.id)
    assert store.message(entry.id).status is not MessageStatus.RECEIVED and len(store.orders()) == 1


def test_a_message_three_workers_died_deciding_is_failed_by_the_fourth_and_settled(store, master, tmp_path):
    """Given a message whose deciding killed three workers in turn (each took its lease,
    counted its try, and died), when the dispatcher sends it to a fourth, then that
    one fails it without parsing it, and intake settles it at the source as failed."""
    daemon, build = _pipelines(store, master, _one_message(tmp_path, "PO-M3"))
    daemon.send_message = lambda ledger_id: None
    daemon.receive()
    (entry,) = store.messages()
    for n in range(3):
        lapse(store, message_lease(entry.id), f"worker-{n}.example:1:0000000{n}")
        assert store.begin_deciding(entry.id) == n + 1
    resent: list[int] = []
    Dispatcher(store, lambda q, o: None, resent.append, intake_grace_seconds=0).dispatch()
    assert resent == [entry.id]
    worker = WorkerRuntime(store, None, holder="here:1:feedf00d", portal_sessions=None, heartbeat_seconds=60,
                           pipelines=build)
    assert worker.process(entry.id).startswith("failed (orders=0 ")
    failed = store.message(entry.id)
    assert failed.status is MessageStatus.FAILED and "died 3 time(s)" in failed.reason and not store.orders()
    assert daemon.receive().duplicates == 1  # settled at the source now that the ledger knows


class _Died(BaseException):
    """The daemon's process ending where it stands (nothing catches it)."""


class _HeadersOnly:
    """A mailbox with one message too big to download: the source gives its header block."""

    name = "big"

    def __init__(self, data: bytes) -> None:
        self.raw = RawMessage(data=data.split(b"\n\n", 1)[0] + b"\n\n", origin="imap:big/INBOX", name="INBOX 7",
                              size=90_000_000, truncated=True)

    def fetch_new(self):
        yield self.raw

    def settle(self, raw, status):
        pass


def test_a_message_too_big_to_download_stays_unparsed_when_a_worker_decides_it(store, master, tmp_path):
    """Given a message over max_message_bytes that the daemon recorded (its header block)
    and died before deciding, when the dispatcher sends it to a worker, then the worker
    sends it to review as too big, as the daemon would have, not parsing the headers
    as if they were the whole message."""
    from tests.test_pipeline import body_order

    daemon, build = _pipelines(store, master, tmp_path)
    daemon.sources = [_HeadersOnly(body_order("PO-BIG"))]
    daemon.send_message = lambda ledger_id: None

    def die(*args):
        raise _Died()

    daemon._process = die
    with pytest.raises(_Died):
        daemon.receive()
    (entry,) = store.messages()
    assert entry.status is MessageStatus.RECEIVED and entry.full_size == 90_000_000
    resent: list[int] = []
    Dispatcher(store, lambda q, o: None, resent.append, intake_grace_seconds=0).dispatch()
    worker = WorkerRuntime(store, None, holder="here:1:feedf00d", portal_sessions=None, heartbeat_seconds=60,
                           pipelines=build)
    assert resent == [entry.id] and worker.process(entry.id).startswith("needs_review (orders=1 ")
    (order,) = store.orders()
    assert "90000000 bytes is over the limit" in store.message(entry.id).reason
    assert [r.code for r in order.order.reasons] == [ReasonCode.UNREADABLE_DOCUMENT] and not order.order.lines


def test_the_worker_that_keys_an_order_acknowledges_it(store, master, tmp_path):
    order_id = ready(store, "D-10")
    state = PortalState()
    outbox = tmp_path / "outbox"
    _, build = _pipelines(store, master, tmp_path, outbox)
    keyer = Keyer(store, master, lambda: DoublePortal(state), holder="here:1:feedf00d",
                  policy=KeyingPolicy(first_retry_seconds=0))
    worker = WorkerRuntime(store, keyer, holder="here:1:feedf00d", portal_sessions=None, heartbeat_seconds=60,
                           pipelines=build)
    assert worker.key(order_id) == "keyed=1, acknowledged"
    assert store.get_order(order_id).state is OrderState.ACKNOWLEDGED
    assert len(list(outbox.glob("*.eml"))) == 1
    assert worker.key(order_id) == "nothing to do: acknowledged"
    assert len(list(outbox.glob("*.eml"))) == 1


def test_the_daemons_delivery_leaves_a_live_workers_send_alone(store, master, tmp_path):
    """Given an acknowledgement a live worker on another machine is sending, and one a
    non-worker process there left sending long ago, when the daemon delivers, then
    the worker's is still sending and only the abandoned one is uncertain."""
    _, build = _pipelines(store, master, tmp_path, tmp_path / "outbox")
    daemon = build()
    mails = []
    for po in ("D-11", "D-12"):
        order_id = ready(store, po)
        store.transition(order_id, OrderState.KEYING, actor="bot")
        store.transition(order_id, OrderState.KEYED, actor="bot", portal_order_number=f"SO-{po}")
        mails.append(daemon.outgoing.queue_acknowledgement(order_id))
    assert store.acquire_lease(worker_lease(ELSEWHERE), ELSEWHERE, 60)
    store.claim_mail(mails[0].id, ELSEWHERE)
    store.claim_mail(mails[1].id, "elsewhere.example:77:00ff00ff")
    daemon.outgoing.lease_seconds = 0.001  # the second claim is older than the delivery lease
    time.sleep(0.01)
    report = daemon.outgoing.deliver()
    assert [m.id for m in report.uncertain] == [mails[1].id]
    assert store.outgoing_mail(mails[0].id).status is MailStatus.SENDING


def test_a_worker_silent_for_a_day_is_forgotten_and_what_it_left_is_still_settled(store, master):
    order_id = ready(store, "D-13")
    store.begin_keying(order_id, holder=ELSEWHERE)
    lapse(store, worker_lease(ELSEWHERE), ELSEWHERE)
    assert store.acquire_lease(worker_lease("here:3:0c0c0c0c"), "here:3:0c0c0c0c", 60)  # alive
    assert store.prune_lapsed_leases("worker:", timedelta(days=1)) == []  # lapsed, but not for a day yet
    assert store.prune_lapsed_leases("worker:", timedelta(0)) == [worker_lease(ELSEWHERE)]
    assert store.lease_expiry(worker_lease("here:3:0c0c0c0c")) is not None
    sent: list[tuple[str, int]] = []
    Dispatcher(store, lambda q, o: sent.append((q, o)), stale_after_seconds=0).dispatch()
    assert sent == [(QUEUE, order_id)]  # no heartbeat to go by: its attempt is settled by age


def _credit_messages(store: Store, master, tmp_path, *pos: str, unknown: str | None = None) -> tuple[dict[str, int], Callable]:
    """Orders of 132,300 each from C1001 (credit limit 250,000), recorded by the daemon;
    and the PO ``unknown``, for a part number we do not carry (to review)."""
    from tests.test_pipeline import body_order

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for po in pos:
        (inbox / f"{po}.eml").write_bytes(body_order(po, qty=7000))
    if unknown:
        (inbox / f"{unknown}.eml").write_bytes(
            body_order(unknown, qty=5).replace(b"AX-1523 Hand dispenser for stretch film", b"QQ-0000 Flux capacitor"))
    daemon, build = _pipelines(store, master, inbox)
    daemon.send_message = lambda ledger_id: None
    daemon.receive()

    def worker_pipeline():
        pipeline = build()
        pipeline.credit_across_processes = True
        return pipeline

    return {e.name.removesuffix(".eml"): e.id for e in store.messages()}, worker_pipeline


def _state(store: Store, po: str):
    (stored,) = [o for o in store.orders() if o.po_number == po]
    return stored.state, stored.order.reason_codes


def test_two_workers_cannot_each_pass_a_credit_limit_their_orders_exceed_together(store, master, tmp_path):
    """Given two worker threads, the second having read the store before the first
    decided an order of 132,300 for a customer with a 250,000 limit, when the second
    decides another such order, then it counts the first and sends it to review."""
    assert master.customer("C1001").credit_limit == 250000
    ids, worker_pipeline = _credit_messages(store, master, tmp_path, "CRED-2001", "CRED-2002", unknown="CRED-2000")
    first, second = worker_pipeline(), worker_pipeline()
    second.process_recorded(ids["CRED-2000"])  # an earlier order of the customer: it has read the store
    assert _state(store, "CRED-2000")[0] is OrderState.NEEDS_REVIEW
    first.process_recorded(ids["CRED-2001"])
    second.process_recorded(ids["CRED-2002"])
    assert _state(store, "CRED-2001") == (OrderState.READY, ())
    assert _state(store, "CRED-2002") == (OrderState.NEEDS_REVIEW, ("credit_limit",))


def test_a_worker_waits_for_the_customers_credit_and_then_counts_what_was_decided_meanwhile(store, master, tmp_path):
    """Given another process holding customer C1001's credit lease while it decides an
    order, when a worker comes to the credit rule of the customer's next order, then it
    waits, and once the other commits and lets go, it counts the other's order."""
    import threading

    ids, worker_pipeline = _credit_messages(store, master, tmp_path, "CRED-3001", "CRED-3002")
    assert store.acquire_lease("credit:C1001", ELSEWHERE, 60)
    waiting = threading.Thread(target=worker_pipeline().process_recorded, args=(ids["CRED-3002"],))
    waiting.start()
    time.sleep(1.0)
    assert waiting.is_alive() and store.message(ids["CRED-3002"]).status is MessageStatus.RECEIVED
    other = worker_pipeline()
    other._credit_leases.append("credit:C1001")  # the other process's pipeline: it holds the lease
    other._credit_holder = ELSEWHERE
    other.process_recorded(ids["CRED-3001"])  # commits, then lets go
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert _state(store, "CRED-3001") == (OrderState.READY, ())
    assert _state(store, "CRED-3002") == (OrderState.NEEDS_REVIEW, ("credit_limit",))
    assert store.lease_expiry("credit:C1001") is None  # both gave it back


def test_a_credit_held_too_long_leaves_the_message_received_for_a_later_try(store, master, tmp_path, monkeypatch):
    import bot.pipeline
    from bot.errors import StoreBusy

    monkeypatch.setattr(bot.pipeline, "CREDIT_WAIT_SECONDS", 0.2)
    ids, worker_pipeline = _credit_messages(store, master, tmp_path, "CRED-4001")
    assert store.acquire_lease("credit:C1001", ELSEWHERE, 60)
    with pytest.raises(StoreBusy, match="credit of customer C1001"):
        worker_pipeline().process_recorded(ids["CRED-4001"])
    entry = store.message(ids["CRED-4001"])
    assert entry.status is MessageStatus.RECEIVED and entry.attempts == 0 and not store.orders()


def test_a_worker_thread_pipeline_reads_credit_across_processes_and_the_daemons_does_not(store, master, tmp_path):
    from bot.config import Settings
    from bot.wiring import build_pipeline, build_templates, build_worker_pipeline
    from tests.test_pipeline import TODAY

    settings = Settings(data_dir=tmp_path, store={"url": f"sqlite:///{tmp_path / 'store.db'}"})
    worker = build_worker_pipeline(settings, store, master, build_templates(settings), holder="here:1:feedf00d",
                                   today=TODAY)
    assert worker.credit_across_processes and worker._credit_holder != worker.holder
    daemon = build_pipeline(settings, today=TODAY)
    with daemon.store:
        assert not daemon.credit_across_processes


def test_a_worker_counts_an_order_rejected_since_it_read_it_no_more(store, master, tmp_path):
    ids, worker_pipeline = _credit_messages(store, master, tmp_path, "CRED-5001", "CRED-5002")
    pipeline = worker_pipeline()
    pipeline.process_recorded(ids["CRED-5001"])
    (first,) = store.orders()
    store.transition(first.id, OrderState.REJECTED, actor="jana", reason="customer cancelled by phone")
    pipeline.process_recorded(ids["CRED-5002"])
    assert _state(store, "CRED-5002") == (OrderState.READY, ())


def test_reading_a_message_outside_a_decision_takes_no_credit_lease(store, master, tmp_path):
    """A worker's warm-up (or any look at a message that decides nothing) reads the
    credit afresh but holds no lease that would keep other workers waiting."""
    from bot.model import RawMessage
    from tests.test_pipeline import body_order

    _, worker_pipeline = _credit_messages(store, master, tmp_path)
    worker_pipeline().processor.process(RawMessage(data=body_order("CRED-7001", qty=7000), origin="warm-up", name="w"))
    assert store.lease_expiry("credit:C1001") is None


def test_a_worker_compares_a_quantity_with_the_orders_other_workers_decided_since(store, master, tmp_path):
    """Given a worker thread that has decided an order of 4 AX-1523 (and so read the
    customer's history), when two more such orders are decided elsewhere and it then
    decides an order for 100, then it compares with all three and sends it to review."""
    from tests.test_pipeline import _ready_order, body_order

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(body_order("4500081"))
    (inbox / "b.eml").write_bytes(body_order("4500089", qty=100))
    daemon, build = _pipelines(store, master, inbox)
    daemon.send_message = lambda ledger_id: None
    daemon.receive()
    first, big = (e.id for e in store.messages())
    pipeline = build()
    pipeline.credit_across_processes = True
    pipeline.process_recorded(first)
    assert _state(store, "4500081") == (OrderState.READY, ())
    for po in ("4500082", "4500083"):  # decided on other workers meanwhile
        _ready_order(store, po)
    pipeline.process_recorded(big)
    (stored,) = [o for o in store.orders() if o.po_number == "4500089"]
    assert stored.state is OrderState.NEEDS_REVIEW
    assert any("usually orders 4" in r.message for r in stored.order.reasons)
