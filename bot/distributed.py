"""Messages and orders on Celery workers (``executor: celery``): many machines, many browsers.

    daemon (one)                          broker (Redis/RabbitMQ)      orderbot worker (N, any machine)
    intake: record each new message  -->  orderbot.messages      -->  process_message(ledger id):
      in the ledger, send its id                                        parse .. decide, committed
    Dispatcher.dispatch() (job:keying):   orderbot.keying.urgent -->  key_order(order id):
      ready orders that are due,          orderbot.keying        -->    key (one portal session per
      attempts of dead workers,                                         thread, under a slot), then
      messages still undecided                                          send the acknowledgement

The unit of work is one message (intake to decision) and one order (keying
and acknowledgement). The daemon keeps the sources: it records a message's
bytes before it sends the id, and settles the message at its source on a
later fetch, once the ledger holds the worker's decision.

Celery delivers at least once, and nothing here depends on it delivering
once: a task only acts on what the store says is its to act on. A message is
decided under the lease ``message:ID`` and its outcome is committed only if
it is still ``received`` (``save_outcome(expected_from=...)``). A ready
order is taken with ``Store.begin_keying`` (one winner, committed before the
portal is touched); an order in ``keying`` is reconciled by searching the
portal, and only when its attempt's holder is dead. An acknowledgement is
claimed before it is sent. So a task delivered twice, or redelivered after
its worker died, finds nothing to do or settles what the dead worker left:
never a second order in the portal, never a second acknowledgement.

Tasks are acknowledged late (after they ran) and given back when a worker
process is lost; ``celery.visibility_timeout_seconds`` (Redis) must be longer
than the longest keying. A worker that dies without the broker noticing is
covered by the store: each worker renews ``worker:HOLDER`` every
``celery.heartbeat_seconds``; once that lease has lapsed (3 beats) its holder
is dead (``Liveness``), the dispatcher sends its orders out again, and the
worker that takes one reconciles it.

The legacy portal allows only so many sessions at once: with
``celery.portal_sessions: N`` a thread opens a session only while it holds one
of the store leases ``portal-session:0`` .. ``N-1`` (renewed with the
heartbeat), across all workers. A task that finds no free slot goes back to
the queue for a few seconds.

Urgent orders go first. With Redis they go to ``orderbot.keying.urgent``, and
workers read it first, then ``orderbot.messages``, then ``orderbot.keying``
(``queue_order_strategy: priority``). RabbitMQ serves a worker's queues side
by side, so there ``orderbot.keying`` is a priority queue (``x-max-priority``)
and an urgent order is sent to it with a higher priority. ``orderbot worker
--queues`` gives a worker one kind of work only.

Each worker thread decides messages with its own ``Pipeline``: it reads a
customer's open order value from the store under the lease ``credit:CUSTOMER``
(``credit_across_processes``), so an order decided on one worker counts
against the customer's credit on another at once, and its quantity history
is read afresh for each message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot import holders
from bot.config import Settings
from bot.errors import TransientError
from bot.holders import worker_lease
from bot.keying import Keyer, KeyingReport
from bot.model import MessageStatus, OrderState, RawMessage
from bot.pipeline import Pipeline, RunSummary
from bot.ports import Portal
from bot.store import KeyingAttempt, KeyingOutcome, Store, StoredOrder

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("orderbot.distributed")

URGENT_QUEUE = "orderbot.keying.urgent"
QUEUE = "orderbot.keying"
MESSAGE_QUEUE = "orderbot.messages"
QUEUES = (URGENT_QUEUE, MESSAGE_QUEUE, QUEUE)  # the order workers read them in
KEY_ORDER = "orderbot.key_order"
PROCESS_MESSAGE = "orderbot.process_message"
SLOT_PREFIX = "portal-session:"
BEATS_TO_DEATH = 3
URGENT_PRIORITY = 9  # RabbitMQ: the keying queue's top priority
WORKER_LEASE_KEPT = timedelta(days=1)
PRUNE_EVERY_SECONDS = 3600.0


def uses_redis(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0].lower() in ("redis", "rediss", "redis+socket")


def message_lease(ledger_id: int) -> str:
    return f"message:{ledger_id}"


class Liveness:
    """Whether a holder is dead: a process of this host that is gone, or a
    worker whose lease in the store has lapsed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, holder: str) -> bool:
        return holders.holder_dead(self.store, holder)

    def settle_now(self, attempt: KeyingAttempt, stale_after: timedelta) -> bool:
        """Whether another worker should settle ``attempt`` now: its outcome is
        uncertain, or its holder is dead, or (a holder that is no worker, which
        sends no heartbeat) it is older than ``stale_after``. A live worker's
        attempt is never taken from it, however slow the portal."""
        return attempt.outcome is KeyingOutcome.UNCERTAIN or holders.abandoned(
            self.store, attempt.holder, attempt.started_at, stale_after
        )


def make_app(settings: Settings) -> Celery:
    """The Celery app of ``settings``: the producer side (the daemon) and the
    worker side use the same one."""
    from celery import Celery
    from kombu import Exchange, Queue

    assert settings.celery.broker_url is not None  # Settings refuses executor: celery without it
    url = settings.celery.broker_url.get_secret_value()
    app = Celery("orderbot", broker=url, set_as_current=False)
    priority = None if uses_redis(url) else {"x-max-priority": URGENT_PRIORITY}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_queues=tuple(
            Queue(name, Exchange(name, type="direct"), routing_key=name,
                  queue_arguments=priority if name == QUEUE else None)
            for name in QUEUES
        ),
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.celery.visibility_timeout_seconds,
            "queue_order_strategy": "priority",
        },
    )
    return app


# --- the daemon's side ------------------------------------------------------------


@dataclass
class Dispatcher:
    """Sends work to the workers (the daemon's side): every new message as intake
    records it (``send_new_message``); and in the keying job (``dispatch``)
    ready orders that are due, orders left in ``keying`` by a worker that is
    dead, and messages still ``received`` that no live worker is deciding (sent
    before the daemon restarted, or taken by a worker that died). Nothing sent
    is sent again for ``redispatch_seconds`` unless it is still waiting then."""

    store: Store
    send: Callable[[str, int], None]  # (queue, order id)
    send_message: Callable[[int], None] | None = None  # (ledger id)
    redispatch_seconds: float = 300.0
    stale_after_seconds: float = 120.0
    intake_grace_seconds: float = 30.0  # a message this new is intake's to send
    _sent: dict[int, float] = field(default_factory=dict)
    _sent_messages: dict[int, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pruned_at: float | None = None

    def send_new_message(self, ledger_id: int) -> None:
        """Intake's hook (``Pipeline.send_message``): raises if the broker is down."""
        assert self.send_message is not None
        with self._lock:  # first, so the keying job's scan does not send it too
            self._sent_messages[ledger_id] = time.monotonic()
        try:
            self.send_message(ledger_id)
        except BaseException:
            with self._lock:
                self._sent_messages.pop(ledger_id, None)
            raise

    def dispatch(self) -> RunSummary:
        summary = RunSummary()
        now = time.monotonic()
        with self._lock:
            self._sent = {k: t for k, t in self._sent.items() if now - t < self.redispatch_seconds}
            self._sent_messages = {k: t for k, t in self._sent_messages.items() if now - t < self.redispatch_seconds}
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            # A day after a worker's heartbeat stopped its lease is no evidence worth keeping:
            # what it left is settled by age then (Liveness.settle_now, MailQueue._interrupted).
            gone = self.store.prune_lapsed_leases("worker:", WORKER_LEASE_KEPT)
            if gone:
                log.info("forgot %d worker(s) silent for a day: %s", len(gone), ", ".join(gone))
        if self.send_message is not None and not self._dispatch_messages(summary, now):
            return summary
        liveness = Liveness(self.store)
        waiting: list[StoredOrder] = list(self.store.orders_to_key())
        stale_after = timedelta(seconds=self.stale_after_seconds)
        for attempt in self.store.unfinished_attempts():
            if liveness.settle_now(attempt, stale_after):
                waiting.append(self.store.get_order(attempt.order_id))
        sent = 0
        for stored in waiting:
            if stored.id in self._sent:
                continue
            try:
                self.send(URGENT_QUEUE if stored.urgent else QUEUE, stored.id)
            except Exception as exc:  # noqa: BLE001 - the broker down: the next run sends again
                summary.errors.append(f"could not send order {stored.id} to the workers: {type(exc).__name__}: {exc}")
                break
            self._sent[stored.id] = now
            sent += 1
        if sent:
            log.info("sent %d order(s) to the workers", sent)
        return summary

    def _dispatch_messages(self, summary: RunSummary, now: float) -> bool:
        """Send again the undecided messages no one is deciding; False if the broker is down."""
        assert self.send_message is not None
        resent = 0
        clock = self.store.now()
        for entry in self.store.messages(status=MessageStatus.RECEIVED):
            with self._lock:
                if entry.id in self._sent_messages:
                    continue
            if entry.received_at > clock - timedelta(seconds=self.intake_grace_seconds):
                continue  # just recorded: intake is about to send it
            expiry = self.store.lease_expiry(message_lease(entry.id))
            if expiry is not None and expiry > clock:
                continue  # a live worker is deciding it
            try:
                self.send_message(entry.id)
            except Exception as exc:  # noqa: BLE001 - the broker down: the next run sends again
                summary.errors.append(f"could not send message {entry.id} to the workers: {type(exc).__name__}: {exc}")
                return False
            with self._lock:
                self._sent_messages[entry.id] = now
            resent += 1
        if resent:
            log.info("sent %d undecided message(s) to the workers again", resent)
        return True


def celery_sender(app: Celery) -> Callable[[str, int], None]:
    """Sends an order to ``queue`` (``URGENT_QUEUE`` or ``QUEUE``); on RabbitMQ an
    urgent one goes to ``QUEUE`` with ``URGENT_PRIORITY``."""
    redis = uses_redis(str(app.conf.broker_url))

    def send(queue: str, order_id: int) -> None:
        if redis:
            app.send_task(KEY_ORDER, args=[order_id], queue=queue, exchange=queue, routing_key=queue)
            return
        app.send_task(KEY_ORDER, args=[order_id], queue=QUEUE, exchange=QUEUE, routing_key=QUEUE,
                      priority=URGENT_PRIORITY if queue == URGENT_QUEUE else 0)

    return send


def celery_message_sender(app: Celery) -> Callable[[int], None]:
    def send(ledger_id: int) -> None:
        app.send_task(PROCESS_MESSAGE, args=[ledger_id], queue=MESSAGE_QUEUE, exchange=MESSAGE_QUEUE,
                      routing_key=MESSAGE_QUEUE)

    return send


# --- the worker's side --------------------------------------------------------------


@dataclass
class _Session:
    portal: Portal
    slot: str | None


class WorkerRuntime:
    """What one ``orderbot worker`` process holds: the store, a ``Keyer`` (None:
    this worker decides messages only), one ``Pipeline`` and one portal session
    per pool thread (each session under a slot when sessions are capped), and
    the heartbeat that keeps its leases."""

    def __init__(self, store: Store, keyer: Keyer | None, *, holder: str, portal_sessions: int | None,
                 heartbeat_seconds: float, stale_after: timedelta = timedelta(minutes=2),
                 pipelines: Callable[[], Pipeline] | None = None, run_seconds: float = 60.0,
                 today: Callable[[], date] | None = None) -> None:
        self.store = store
        self.keyer = keyer
        # Builds this thread's pipeline (deciding messages, acknowledging orders); None: neither.
        self.pipelines = pipelines
        self.run_seconds = run_seconds
        self.today = today
        self.holder = holder
        self.portal_sessions = portal_sessions
        self.heartbeat_seconds = heartbeat_seconds
        self.lease_seconds = heartbeat_seconds * BEATS_TO_DEATH
        self.liveness = Liveness(store)
        self.stale_after = stale_after
        self._local = threading.local()
        self._sessions: dict[int, _Session] = {}
        self._held: set[str] = set()  # message leases, renewed with the heartbeat
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # lifetime

    def start(self, *, warm_up: bool = True) -> None:
        """Take the worker lease, start the heartbeat and (``warm_up``, for a
        worker that decides messages) load the extractors' models."""
        self.store.release_dead_leases(holders.is_dead)
        if not self.store.acquire_lease(worker_lease(self.holder), self.holder, self.lease_seconds):
            raise RuntimeError(f"worker lease of {self.holder} is held: two workers with one holder id")
        self._beat = threading.Thread(target=self._heartbeat, name="orderbot-heartbeat", daemon=True)
        self._beat.start()
        if warm_up and self.pipelines is not None:
            self._warm_up()
        log.info("worker %s started (portal sessions cap: %s)", self.holder, self.portal_sessions or "none")

    def _warm_up(self) -> None:
        """Load the extractors' models now, so the first message is not the slow one."""
        started = time.monotonic()
        try:
            self.pipelines().processor.process(RawMessage(data=_WARM_UP, origin="warm-up", name="warm-up"))
        except Exception:  # noqa: BLE001 - only a head start; a real message reports real problems
            log.warning("warming up the extractors failed", exc_info=True)
        log.info("extractors loaded in %.1f s", time.monotonic() - started)

    def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._lock:
            sessions, self._sessions = dict(self._sessions), {}
        here = threading.get_ident()
        for ident, session in sessions.items():
            # Playwright's sync API only works in the thread that started it: a session
            # of a pool thread (gone by now) ends with this process's browser driver.
            if ident == here:
                try:
                    session.portal.close()
                except Exception:
                    log.warning("closing a portal session failed", exc_info=True)
            if session.slot is not None:
                self.store.release_lease(session.slot, self.holder)
        self.store.release_lease(worker_lease(self.holder), self.holder)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                if not self.store.acquire_lease(worker_lease(self.holder), self.holder, self.lease_seconds):
                    log.error("worker lease of %s was taken over: this worker was thought dead", self.holder)
                with self._lock:
                    slots = [s.slot for s in self._sessions.values() if s.slot is not None]
                    held = sorted(self._held)
                for slot in slots:
                    if not self.store.acquire_lease(slot, self.holder, self.lease_seconds):
                        log.error("portal session slot %s lost to another worker", slot)
                for lease in held:
                    if not self.store.acquire_lease(lease, self.holder, self.lease_seconds):
                        log.error("lease %s lost to another worker", lease)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    # one task

    def process(self, ledger_id: int) -> str:
        """Decide one recorded message, if no one has and no live worker is at it;
        returns what happened. A ``TransientError`` leaves it ``received``."""
        if self.pipelines is None:
            raise RuntimeError("this worker was started without a pipeline: it cannot decide messages")
        if self.store.message(ledger_id).status is not MessageStatus.RECEIVED:
            return "nothing to do: decided already"
        lease = message_lease(ledger_id)
        if not self.store.acquire_lease(lease, self.holder, self.lease_seconds):
            return "being decided by another worker"
        with self._lock:
            self._held.add(lease)
        try:
            status, summary = self._pipeline().process_recorded(ledger_id)
        finally:
            with self._lock:
                self._held.discard(lease)
            self.store.release_lease(lease, self.holder)
        return f"{status} (orders={summary.orders} ready={summary.ready} to_review={summary.needs_review})"

    def _pipeline(self) -> Pipeline:
        assert self.pipelines is not None
        pipeline: Pipeline | None = getattr(self._local, "pipeline", None)
        now = time.monotonic()
        if pipeline is None:
            pipeline = self._local.pipeline = self.pipelines()
            self._local.run_started = now
        elif now - self._local.run_started >= self.run_seconds:
            pipeline.begin_run()  # as an intake run would: read the store's totals afresh
            self._local.run_started = now
        if self.today is not None:
            pipeline.processor.today = self.today()
        return pipeline

    def key(self, order_id: int) -> str:
        """Key or reconcile one order, if it is this task's to do, then send its
        acknowledgement; returns what happened. Raises ``NoSlot`` when every
        portal session slot is taken."""
        if self.keyer is None:
            raise RuntimeError("this worker was started without a portal: it cannot key orders")
        stored = self.store.get_order(order_id)
        report = KeyingReport()
        if stored.state is OrderState.READY:
            if not self.store.due_for_keying(order_id):
                return "not due yet"
            self.keyer.key_one(self._portal(), stored, report)
        elif stored.state is OrderState.KEYING:
            attempt = next((a for a in self.store.unfinished_attempts() if a.order_id == order_id), None)
            if attempt is None or not self.liveness.settle_now(attempt, self.stale_after):
                return "being keyed by a live worker"
            self.keyer.reconcile_one(self._portal(), attempt, report)
        else:
            return f"nothing to do: {stored.state}"
        outcome = ", ".join(f"{name}={getattr(report, name)}" for name in ("keyed", "found", "to_review", "retry", "failed", "uncertain")
                            if getattr(report, name))
        if (report.keyed or report.found) and self.pipelines is not None:
            acked = self._pipeline().acknowledge_one(order_id)
            for problem in acked.errors:
                log.warning("order %s: %s", order_id, problem)
            outcome += ", acknowledged" if acked.acknowledged else ", acknowledgement left to the daemon"
        return outcome or "taken by another worker"

    def _portal(self) -> Portal:
        ident = threading.get_ident()
        with self._lock:
            session = self._sessions.get(ident)
        if session is not None and session.slot is not None and not self._holds(session.slot):
            self._close(ident, session)  # its slot lapsed (a long stall): take a fresh one
            session = None
        if session is None:
            assert self.keyer is not None
            slot = self._take_slot()
            try:
                portal = self.keyer.portal_factory()
            except BaseException:
                if slot is not None:
                    self.store.release_lease(slot, self.holder)
                raise
            session = _Session(portal, slot)
            with self._lock:
                self._sessions[ident] = session
        return session.portal

    def _holds(self, slot: str) -> bool:
        return self.store.acquire_lease(slot, self.holder, self.lease_seconds)

    def _close(self, ident: int, session: _Session) -> None:
        with self._lock:
            self._sessions.pop(ident, None)
        try:
            session.portal.close()
        finally:
            if session.slot is not None:
                self.store.release_lease(session.slot, self.holder)

    def _take_slot(self) -> str | None:
        if self.portal_sessions is None:
            return None
        # A dead worker's slot lapses with its heartbeat (same ttl), so acquire_lease takes it
        # then; its lapsed worker: lease must stay, it is what tells others it is dead.
        for n in range(self.portal_sessions):
            name = f"{SLOT_PREFIX}{n}"
            if self.store.acquire_lease(name, self.holder, self.lease_seconds):
                with self._lock:
                    mine = {s.slot for s in self._sessions.values()}
                if name not in mine:
                    return name
        raise NoSlot(f"all {self.portal_sessions} portal sessions are in use")


_WARM_UP = (
    b"From: buyer@warm-up.invalid\r\nTo: orders@warm-up.invalid\r\nSubject: Order 1\r\n"
    b"Message-ID: <warm-up@orderbot.invalid>\r\n\r\nPlease deliver 4 pcs AX-1523.\r\nPO 1\r\n"
)


class NoSlot(Exception):
    """Every portal session slot is held by a live worker."""


def register_tasks(app: Celery, runtime: Callable[[], WorkerRuntime]) -> None:
    """The worker's tasks; ``runtime`` gives this process's ``WorkerRuntime``."""

    @app.task(name=PROCESS_MESSAGE, bind=True, max_retries=None)
    def process_message(task: Any, ledger_id: int) -> str:
        try:
            outcome = runtime().process(ledger_id)
        except TransientError as exc:
            log.warning("message %s: %s; trying again in 30 s", ledger_id, exc)
            raise task.retry(countdown=30, exc=exc) from None
        log.info("message %s: %s", ledger_id, outcome)
        return outcome

    @app.task(name=KEY_ORDER, bind=True, max_retries=None)
    def key_order(task: Any, order_id: int) -> str:
        try:
            outcome = runtime().key(order_id)
        except NoSlot as exc:
            raise task.retry(countdown=2, exc=exc) from None
        log.info("order %s: %s", order_id, outcome)
        return outcome


__all__ = [
    "KEY_ORDER",
    "MESSAGE_QUEUE",
    "PROCESS_MESSAGE",
    "QUEUE",
    "QUEUES",
    "URGENT_QUEUE",
    "Dispatcher",
    "Liveness",
    "NoSlot",
    "WorkerRuntime",
    "celery_message_sender",
    "celery_sender",
    "make_app",
    "message_lease",
    "register_tasks",
    "worker_lease",
]
