"""The pipeline: every stage of an order's life, in order.

    receive      a source yields raw bytes; the ledger records them (and skips
                 what it already knows) before anything else happens
    parse        bytes -> Message (MIME, attachments sniffed by content)
    extract      Message -> Extraction (kind, orders with per-field confidence)
    resolve      customer, ship-to and SKUs against master data
    validate     named rules add reasons with evidence
    decide       reasons -> needs_review, none -> ready; the outcome is
                 committed in one transaction, then the source settles
    key          ready orders are keyed into the portal, exactly once
    acknowledge  keyed orders are confirmed to the customer by email

A message that cannot be parsed is kept (its bytes are in the store) and
marked ``failed`` with the reason; the run goes on with the next one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from bot import failpoints, holders
from bot.changes import EarlierOrder
from bot.errors import InvalidTransition, PermanentError, StoreBusy, TransientError
from bot.identity import identify
from bot.keying import Keyer, KeyingPolicy, PortalFactory
from bot.model import (
    MessageStatus,
    Order,
    OrderState,
    RawMessage,
    Reason,
    ReasonCode,
)
from bot.money import Amounts
from bot.outgoing import MailQueue
from bot.ports import Mailer, MailSource
from bot.processing import DuplicateIndex, MessageProcessor, urgency_priority
from bot.replies import ReplyWriter, Templates
from bot.rules import RuleSettings, base_units, order_value
from bot.store import MailKind, MailStatus, Store
from connectors.masterdata import MasterData
from extractors.templates import TemplateSet

log = logging.getLogger("orderbot.pipeline")

STAGES = ("receive", "parse", "extract", "resolve", "validate", "decide", "key", "acknowledge")

# Orders that count against a customer's credit limit.
_CREDIT_STATES = (OrderState.READY, OrderState.KEYING, OrderState.KEYED, OrderState.ACKNOWLEDGED)
# With credit_across_processes: how long the lease ``credit:CUSTOMER`` lasts (it is
# held from the credit rule to the commit of the outcome, milliseconds as a rule),
# and how long a decider waits for another to let go of it before it gives up.
CREDIT_LEASE_SECONDS = 60.0
CREDIT_WAIT_SECONDS = CREDIT_LEASE_SECONDS + 5.0


@dataclass(frozen=True, slots=True)
class _Counted:
    """What the credit and quantity rules need of one stored order, as read at ``version``."""

    version: int
    value: Amounts
    units: tuple[tuple[str, Decimal], ...]  # (our sku, base units) per line


@dataclass
class RunSummary:
    received: int = 0
    duplicates: int = 0
    orders: int = 0
    ready: int = 0
    needs_review: int = 0
    failed: int = 0
    keyed: int = 0
    acknowledged: int = 0
    dispatched: int = 0  # executor: celery: messages sent to the workers
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def then(self, keyed: RunSummary, acked: RunSummary) -> RunSummary:
        """This intake's summary with the keying and acknowledgement that followed it."""
        self.keyed, self.acknowledged = keyed.keyed, acked.acknowledged
        self.needs_review += keyed.needs_review
        self.failed += keyed.failed
        self.errors += keyed.errors + acked.errors
        return self

    def line(self) -> str:
        return (
            f"received={self.received} duplicates={self.duplicates} orders={self.orders} "
            f"ready={self.ready} to_review={self.needs_review} keyed={self.keyed} "
            f"acknowledged={self.acknowledged} failed={self.failed} "
            + (f"dispatched={self.dispatched} " if self.dispatched else "")
            + f"duration={self.seconds:.1f}s"
        )


Progress = Callable[[str, int], None]  # (stage, how many done) for progress bars


class Pipeline:
    def __init__(
        self,
        *,
        store: Store,
        master: MasterData,
        sources: Sequence[MailSource],
        today: date,
        portal: PortalFactory | None = None,
        keying: KeyingPolicy = KeyingPolicy(),
        mailer: Mailer | None = None,
        ack_sender: str = "orders@example.invalid",
        rule_settings: RuleSettings = RuleSettings(),
        max_message_bytes: int = 25_000_000,
        max_decide_attempts: int = 3,
        holder: str | None = None,
        lease_seconds: float = 300.0,
        outgoing: MailQueue | None = None,
        templates: TemplateSet | None = None,
        send_message: Callable[[int], None] | None = None,
        credit_across_processes: bool = False,
    ) -> None:
        self.store = store
        # Other processes decide messages into this store at the same time (the
        # workers of executor: celery): a customer's open order value is read
        # from the store for each order, under the customer's credit lease.
        self.credit_across_processes = credit_across_processes
        self._credit_holder = holders.holder()
        self._credit_leases: list[str] = []
        self._deciding = False  # credit leases are taken only while a message is decided (and released after)
        self._counted: dict[str, dict[int, _Counted]] = {}  # customer -> order id -> as read
        self._read_in_this_decision: set[str] = set()  # customers whose orders were read afresh
        # executor: celery: a new message is recorded and handed to the workers
        # (this callable, with its ledger id) instead of being processed here.
        self.send_message = send_message
        self.master = master
        self.sources = sources
        # Opens one portal session; each keying worker opens its own.
        self.portal = portal
        self.keying = keying
        self.max_message_bytes = max_message_bytes
        self.max_decide_attempts = max_decide_attempts
        self._open_values: dict[str, Amounts] | None = None
        self._history: dict[tuple[str, str], list[Decimal]] | None = None
        self._senders: set[tuple[str, str]] = set()  # (customer_id, address) that sent orders
        self._senders_read: set[int] = set()  # order ids whose sender is in _senders
        # Who holds the source leases: unique per process, readable in the store.
        self.holder = holder or holders.holder()
        self.lease_seconds = lease_seconds
        # Customer email: given, or built on the mailer with the bundled templates.
        if outgoing is None and mailer is not None:
            writer = ReplyWriter(Templates.load(), sender=ack_sender, master=master)
            outgoing = MailQueue(store, mailer, writer, holder=self.holder)
        self.outgoing = outgoing
        self.processor = MessageProcessor(
            master,
            today=today,
            duplicates=DuplicateIndex(in_store=self._po_in_store),
            open_order_value=self._open_order_value,
            quantity_history=self._quantity_history,
            find_earlier=self._earlier_order,
            sender_seen=self._sender_seen,
            rule_settings=rule_settings,
            templates=templates,
        )

    # -- look-ups the rules need from the store --------------------------------

    def _po_in_store(self, customer_id: str, po_number: str) -> bool:
        return bool(self.store.find_orders(customer_id, po_number))

    def _open_order_value(self, customer_id: str) -> Amounts:
        """Value of the customer's orders that are on their way to the portal, per
        currency (the credit rule converts them).

        Read from the store once per run, then kept up to date as this run
        saves orders, so a run stays linear in the number of messages. With
        ``credit_across_processes`` read afresh, under the customer's lease."""
        if self.credit_across_processes:
            if self._deciding:
                self._take_credit_lease(customer_id)
            return self._fresh_open_value(customer_id)
        if self._open_values is None:
            values: dict[str, Amounts] = {}
            for state in _CREDIT_STATES:
                for stored in self.store.orders(state=state):
                    if stored.customer_id:
                        values[stored.customer_id] = values.get(stored.customer_id, Amounts()) + order_value(stored.order, self.master)
            self._open_values = values
        return self._open_values.get(customer_id, Amounts())

    def _earlier_order(self, customer_id: str, po_number: str) -> EarlierOrder | None:
        """The stored order a change or cancellation refers to: the oldest one with
        this customer and PO number that is not itself a change or cancellation."""
        for stored in self.store.find_orders(customer_id, po_number):
            if not any(r.code in (ReasonCode.CHANGE_REQUEST, ReasonCode.CANCELLATION_REQUEST) for r in stored.order.reasons):
                return EarlierOrder(stored.order, stored.id, stored.state, stored.portal_order_number)
        return None

    def _sender_seen(self, customer_id: str, sender: str) -> bool:
        """Whether ``sender`` sent an order of the customer that went through (ready
        or keyed). Pairs only ever get added, so a hit needs no store access; a miss
        reads the senders of stored orders not read before."""
        key = (customer_id, sender.lower())
        if key in self._senders:
            return True
        for state in _CREDIT_STATES:
            for stored in self.store.orders(state=state):
                if stored.id in self._senders_read:
                    continue
                self._senders_read.add(stored.id)
                raw = self.store.raw_bytes(self.store.message(stored.ledger_id).sha256)
                address = parseaddr(BytesHeaderParser().parsebytes(raw).get("From", ""))[1].lower()
                if stored.customer_id and address:
                    self._senders.add((stored.customer_id, address))
        return key in self._senders

    def _quantity_history(self, customer_id: str, sku: str) -> list[Decimal]:
        """Base-unit quantities of the customer's earlier orders of a sku that went
        through (ready or keyed), read from the store once per run; with
        ``credit_across_processes`` afresh, once per decision."""
        if self.credit_across_processes:
            fresh = customer_id not in self._read_in_this_decision
            return [units for counted in self._customer_orders(customer_id, fresh=fresh)
                    for line_sku, units in counted.units if line_sku == sku]
        if self._history is None:
            history: dict[tuple[str, str], list[Decimal]] = {}
            for state in _CREDIT_STATES:
                for stored in self.store.orders(state=state):
                    for line_sku, units in self._units_by_sku(stored.order):
                        if stored.customer_id:
                            history.setdefault((stored.customer_id, line_sku), []).append(units)
            self._history = history
        return self._history.get((customer_id, sku), [])

    def _units_by_sku(self, order: Order) -> Iterator[tuple[str, Decimal]]:
        for line in order.lines:
            product = self.master.product(line.sku.value) if line.sku.present else None
            units = base_units(line, product) if product is not None else None
            if product is not None and units is not None:
                yield product.sku, units

    def _fresh_open_value(self, customer_id: str) -> Amounts:
        """The open order value as the store has it now."""
        return sum((counted.value for counted in self._customer_orders(customer_id, fresh=True)), Amounts())

    def _customer_orders(self, customer_id: str, *, fresh: bool) -> list[_Counted]:
        """What the credit and quantity rules need of the customer's orders that
        count (ready .. acknowledged): ``fresh``, as the store has them now. Orders
        read before are kept with the version they were read at; only orders new
        or changed since are read again, so a customer with thousands of orders
        costs one small query, not thousands of decodes."""
        known = self._counted.setdefault(customer_id, {})
        if fresh or not known:
            current = self.store.customer_order_versions(customer_id, _CREDIT_STATES)
            for gone in known.keys() - current.keys():
                del known[gone]
            stale = [order_id for order_id, version in current.items()
                     if order_id not in known or known[order_id].version != version]
            for stored in self.store.orders_by_id(stale):
                known[stored.id] = _Counted(stored.version, order_value(stored.order, self.master),
                                            tuple(self._units_by_sku(stored.order)))
            if self._deciding:
                self._read_in_this_decision.add(customer_id)
        return list(known.values())

    def _take_credit_lease(self, customer_id: str) -> None:
        """Hold ``credit:CUSTOMER`` until this message's outcome is committed, so
        that no other process decides an order of the customer between the read
        of the open value and the commit: two orders cannot each pass a limit
        that together they exceed."""
        lease = f"credit:{customer_id}"
        if lease in self._credit_leases:
            return
        deadline = time.monotonic() + CREDIT_WAIT_SECONDS
        pause = 0.005
        while not self.store.acquire_lease(lease, self._credit_holder, CREDIT_LEASE_SECONDS):
            if time.monotonic() >= deadline:
                raise StoreBusy(f"the credit of customer {customer_id} has been held by another process "
                                f"for over {CREDIT_WAIT_SECONDS:.0f} s; the message is tried again later")
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
        self._credit_leases.append(lease)

    def _release_credit_leases(self) -> None:
        while self._credit_leases:
            self.store.release_lease(self._credit_leases.pop(), self._credit_holder)

    def begin_run(self) -> None:
        """Forget the run's snapshots of the store (open order values, quantity
        history): the next message reads them afresh."""
        self._open_values = None
        self._history = None

    def _count_towards_credit(self, order: Order) -> None:
        if not self.credit_across_processes and self._open_values is not None and order.customer_id.value:
            key = order.customer_id.value
            self._open_values[key] = self._open_values.get(key, Decimal(0)) + order_value(order, self.master)

    # -- receive .. decide -------------------------------------------------------

    def receive(self, progress: Progress | None = None, sources: Sequence[MailSource] | None = None) -> RunSummary:
        """Take new messages from ``sources`` (default: all), each under its
        ``source:NAME`` lease; a source another run is reading is skipped."""
        summary = RunSummary()
        self.begin_run()
        for source in self.sources if sources is None else sources:
            lease = f"source:{source.name}"
            if not self.store.acquire_lease(lease, self.holder, self.lease_seconds):
                summary.errors.append(f"source {source.name}: another run is reading it; skipped")
                continue
            renewed = time.monotonic()
            try:
                for raw in source.fetch_new():
                    if time.monotonic() - renewed > self.lease_seconds / 3:
                        if not self.store.acquire_lease(lease, self.holder, self.lease_seconds):
                            summary.errors.append(f"source {source.name}: lease lost; stopping this source")
                            break
                        renewed = time.monotonic()
                    self._receive_one(source, raw, summary)
                    if progress:
                        progress("receive", summary.received + summary.duplicates)
            except TransientError as exc:
                log.warning("source %s unavailable: %s", source.name, exc)
                summary.errors.append(str(exc))
            except PermanentError as exc:
                # A rejected login or a bad folder stops this source, not the others.
                log.error("source %s needs a person: %s", source.name, exc)
                summary.errors.append(f"source {source.name}: {exc}")
            finally:
                self.store.release_lease(lease, self.holder)
        return summary

    def _receive_one(self, source: MailSource, raw: RawMessage, summary: RunSummary) -> None:
        identity = identify(raw.data)
        known = self.store.seen(identity.dedup_key)
        if known is not None and known.status != MessageStatus.RECEIVED:
            summary.duplicates += 1
            self.store.add_location(known.id, raw.account, raw.folder, raw.uidvalidity, raw.uid)
            source.settle(raw, known.status)  # heals a crash between commit and settle
            return
        entry = known or self.store.record_message(
            message_id=identity.message_id,
            sha256=identity.sha256,
            dedup_key=identity.dedup_key,
            raw=raw.data,
            origin=raw.origin,
            name=raw.name,
            full_size=raw.size if raw.truncated else None,
        )
        if raw.account is not None:
            self.store.add_location(entry.id, raw.account, raw.folder, raw.uidvalidity, raw.uid)
        if self.send_message is not None and not self._too_big(raw):
            # The worker decides; the source settles on a later fetch, once the
            # ledger knows the outcome (the first branch above). A message that
            # was recorded before is the dispatcher's to send again.
            if known is None:
                summary.received += 1
                try:
                    self.send_message(entry.id)
                except Exception as exc:  # noqa: BLE001 - the broker down: recorded, the dispatcher sends it later
                    summary.errors.append(f"message {entry.id} ({raw.name}) not sent to the workers yet: {type(exc).__name__}: {exc}")
                else:
                    summary.dispatched += 1
            return
        summary.received += 1
        status = self._process(entry.id, raw, summary)
        failpoints.reach("intake.after_commit")
        source.settle(raw, status)

    def process_recorded(self, ledger_id: int) -> tuple[MessageStatus, RunSummary]:
        """Decide a message the ledger holds (an ``orderbot worker``'s task): its
        bytes come from the store. A message decided already is left as it is."""
        summary = RunSummary()
        entry = self.store.message(ledger_id)
        if entry.status is not MessageStatus.RECEIVED:
            return entry.status, summary
        raw = RawMessage(data=self.store.raw_bytes(entry.sha256), origin=entry.origin, name=entry.name,
                         size=entry.full_size, truncated=entry.full_size is not None)
        return self._process(ledger_id, raw, summary), summary

    def _too_big(self, raw: RawMessage) -> bool:
        return raw.truncated or (raw.size if raw.size is not None else len(raw.data)) > self.max_message_bytes

    def _process(self, ledger_id: int, raw: RawMessage, summary: RunSummary) -> MessageStatus:
        self._deciding = True
        try:
            return self._try_deciding(ledger_id, raw, summary)
        finally:
            self._deciding = False
            self._read_in_this_decision.clear()
            self._release_credit_leases()  # after the outcome's commit (or its failure)

    def _try_deciding(self, ledger_id: int, raw: RawMessage, summary: RunSummary) -> MessageStatus:
        try:
            tries = self.store.begin_deciding(ledger_id)
            if tries == 0:
                return self.store.message(ledger_id).status  # decided by another process already
            if tries > self.max_decide_attempts:
                return self._give_up(ledger_id, raw, tries - 1, summary)
            failpoints.reach("intake.while_deciding")
            try:
                return self._decide(ledger_id, raw, summary)
            except TransientError:
                self.store.end_deciding(ledger_id)  # not this message's fault: the try does not count
                raise
        except InvalidTransition:
            # Decided meanwhile by another process (a task delivered twice): its outcome stands.
            status = self.store.message(ledger_id).status
            log.info("message %s was decided by another process meanwhile: %s", raw.name, status)
            return status

    def _give_up(self, ledger_id: int, raw: RawMessage, deaths: int, summary: RunSummary) -> MessageStatus:
        """A message that killed the process each time it was decided (the OOM
        killer, a crash in a native parser) is kept for a person, not tried again."""
        reason = (f"{raw.name}: the process deciding it died {deaths} time(s) before it was decided "
                  f"(max_decide_attempts is {self.max_decide_attempts}); not tried again")
        self.store.set_message_status(ledger_id, MessageStatus.FAILED, reason=reason, expected_from=MessageStatus.RECEIVED)
        summary.failed += 1
        log.error("message %s failed: %s", raw.name, reason)
        return MessageStatus.FAILED

    def _decide(self, ledger_id: int, raw: RawMessage, summary: RunSummary) -> MessageStatus:
        size = raw.size if raw.size is not None else len(raw.data)
        if self._too_big(raw):
            reason = f"{raw.name}: {size} bytes is over the limit of {self.max_message_bytes}; not parsed"
            unreadable = Order(source=raw.name, reasons=(Reason(ReasonCode.UNREADABLE_DOCUMENT, reason),))
            self.store.save_outcome(ledger_id, [(unreadable, OrderState.NEEDS_REVIEW, reason)], MessageStatus.NEEDS_REVIEW,
                                    reason=reason, expected_from=MessageStatus.RECEIVED)
            summary.orders += 1
            summary.needs_review += 1
            return MessageStatus.NEEDS_REVIEW
        try:
            decided = self.processor.process(raw)
        except TransientError:
            raise
        except PermanentError as exc:
            self.store.set_message_status(ledger_id, MessageStatus.FAILED, reason=str(exc), expected_from=MessageStatus.RECEIVED)
            summary.failed += 1
            log.warning("message %s failed: %s", raw.name, exc)
            return MessageStatus.FAILED
        except Exception as exc:  # noqa: BLE001 - one bad message never aborts the batch
            reason = f"{raw.name}: unexpected {type(exc).__name__}: {exc}"
            self.store.set_message_status(ledger_id, MessageStatus.FAILED, reason=reason, expected_from=MessageStatus.RECEIVED)
            summary.failed += 1
            log.exception("message %s failed unexpectedly", raw.name)
            return MessageStatus.FAILED
        message = decided.message
        if message is not None:
            # A message left half-done by a crash is processed again: keep one copy of each document.
            kept = {(d.name, d.sha256) for d in self.store.documents(ledger_id)}
            for document in message.documents:
                if (document.name, hashlib.sha256(document.data).hexdigest()) not in kept:
                    self.store.add_document(ledger_id, document.name, document.content_type, document.data)
        outcome = []
        for order, state in zip(decided.extraction.orders, decided.states, strict=True):
            reason = ", ".join(str(c) for c in order.reason_codes) or None
            outcome.append((order, state, reason))
            summary.orders += 1
            if state is OrderState.READY:
                summary.ready += 1
                self._count_towards_credit(order)
            else:
                summary.needs_review += 1
        status = MessageStatus.NEEDS_REVIEW if any(s is OrderState.NEEDS_REVIEW for s in decided.states) else MessageStatus.PROCESSED
        self.store.save_outcome(
            ledger_id,
            outcome,
            status,
            reason=f"kind={decided.extraction.kind}",
            priorities=[urgency_priority(o, self.master) for o, _, _ in outcome],
            expected_from=MessageStatus.RECEIVED,
        )
        return status

    # -- key, acknowledge --------------------------------------------------------

    def key(self, progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> RunSummary:
        """Key every ready order that is due into the portal, exactly once
        (``bot.keying``), after settling what a dead worker left; without a
        portal, orders stay ready. Once ``stop()`` is true, each worker
        finishes the order in hand and takes no other."""
        summary = RunSummary()
        if self.portal is None:
            return summary
        keyer = Keyer(self.store, self.master, self.portal, holder=self.holder, policy=self.keying)
        report = keyer.run(progress, stop=stop)
        summary.keyed = report.keyed + report.found
        summary.needs_review = report.to_review
        summary.failed = report.failed
        summary.errors += report.errors
        return summary

    def acknowledge(self, stop: Callable[[], bool] | None = None) -> RunSummary:
        """Queue an acknowledgement for every keyed order (once per order),
        deliver what is due, and move an order to acknowledged when its mail is
        sent or deliberately not sent. An uncertain or failed one leaves the
        order keyed, with the reason in its events, for a person. Once
        ``stop()`` is true, delivery ends after the mail in hand."""
        summary = RunSummary()
        if self.outgoing is None:
            return summary
        keyed = self.store.orders(state=OrderState.KEYED)
        for stored in keyed:
            self.outgoing.queue_acknowledgement(stored)
        report = self.outgoing.deliver(stop=stop)
        summary.errors += report.errors
        for stored in keyed:
            self._mark_acknowledged(stored.id, summary)
        return summary

    def acknowledge_one(self, order_id: int) -> RunSummary:
        """Acknowledge one keyed order now (the worker that keyed it, with
        ``executor: celery``): queue its mail, send it unless another process is
        sending it, and move the order on as ``acknowledge`` does. What cannot be
        sent now stays queued for the daemon's acknowledge job."""
        summary = RunSummary()
        if self.outgoing is None:
            return summary
        stored = self.store.get_order(order_id)
        if stored.state is not OrderState.KEYED:
            return summary
        mail = self.outgoing.queue_acknowledgement(stored)
        summary.errors += self.outgoing.deliver_one(mail.id).errors
        self._mark_acknowledged(order_id, summary)
        return summary

    def _mark_acknowledged(self, order_id: int, summary: RunSummary) -> None:
        mail = self.store.outgoing_mail_for(order_id, MailKind.ACKNOWLEDGEMENT)
        if mail is None or mail.status not in (MailStatus.SENT, MailStatus.SUPPRESSED):
            return
        reason = f"acknowledged to {mail.recipient}" if mail.status is MailStatus.SENT else f"acknowledgement not sent: {mail.note}"
        try:
            self.store.transition(order_id, OrderState.ACKNOWLEDGED, actor="bot", reason=reason, expected_from=OrderState.KEYED)
        except InvalidTransition:
            return  # another run got there first
        summary.acknowledged += 1

    def run_once(self, progress: Progress | None = None) -> RunSummary:
        started = time.monotonic()
        summary = self.receive(progress).then(self.key(progress), self.acknowledge())
        summary.seconds = time.monotonic() - started
        return summary


__all__ = ["STAGES", "Pipeline", "RunSummary"]
