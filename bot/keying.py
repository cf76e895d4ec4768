"""The key stage: ready orders typed into the portal, exactly once.

For each order, a worker holding one portal session:

1. commits "keying started" (``Store.begin_keying``: the order moves to
   ``keying`` with an attempt row) before the portal is touched;
2. searches the portal for the customer's PO: found means an earlier attempt
   saved it, so it is recorded, never typed again;
3. types and saves the order, then reads it back from the portal and compares
   every header field and line with what was sent (a difference goes to review);
4. commits the outcome with the portal's order number.

When the portal fails after the save may have happened (a 500 after commit, a
timeout, a dropped connection, a crash), the attempt is settled by searching
again, never by a blind retry: ``reconcile`` does it for attempts a dead worker
left behind. Transient failures before the save put the order back to
``ready`` with a pause that doubles each time (``KeyingPolicy``); the portal's
own refusal sends it to review with the portal's words.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot import failpoints, holders
from bot.errors import (
    DuplicateOrder,
    InvalidTransition,
    KeyingUncertain,
    PortalRejected,
    PortalUnavailable,
)
from bot.model import Order, OrderState, Reason, ReasonCode
from bot.ports import Portal, PortalEntry, PortalLine, PortalOrder
from bot.rules import base_units
from bot.store import KeyingAttempt, KeyingOutcome, Store, StoredOrder
from connectors.masterdata import MasterData

log = logging.getLogger("orderbot.keying")

PortalFactory = Callable[[], Portal]


@dataclass(frozen=True, slots=True)
class KeyingPolicy:
    workers: int = 1  # portal sessions keying in parallel
    first_retry_seconds: float = 30.0
    max_retry_seconds: float = 900.0
    max_attempts: int = 5  # then the order fails with the last error, for a person
    # An attempt with no outcome this old belongs to a dead worker: reconcile it.
    stale_after_seconds: float = 120.0
    # Screenshots and traces of failures hold session cookies: kept this long.
    artifacts_keep_days: float = 14.0

    def delay(self, attempts: int) -> timedelta:
        seconds = min(self.first_retry_seconds * 2 ** max(attempts - 1, 0), self.max_retry_seconds)
        return timedelta(seconds=seconds)


@dataclass
class KeyingReport:
    keyed: int = 0
    found: int = 0  # already in the portal from an earlier attempt
    to_review: int = 0
    retry: int = 0
    failed: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: KeyingReport) -> None:
        for name in ("keyed", "found", "to_review", "retry", "failed", "uncertain"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


class EntryError(ValueError):
    """The order cannot be expressed as a portal entry (a line without a sku or
    a quantity that does not convert): validation should have caught it."""


def entry_for(order: Order, master: MasterData) -> PortalEntry:
    """What a clerk would type for ``order``: quantities in the product's base
    unit and prices per base unit, the known ship-to by id, else its text."""
    lines = []
    for i, line in enumerate(order.lines, 1):
        product = master.product(line.sku.value) if line.sku.present else None
        if product is None:
            raise EntryError(f"line {i} has no known sku")
        quantity = base_units(line, product)
        if quantity is None:
            raise EntryError(f"line {i}: {line.uom.value} of {product.sku} does not convert to {product.uom}")
        price = None
        if line.unit_price.present and line.quantity.present and quantity:
            price = (line.unit_price.value * line.quantity.value / quantity).quantize(Decimal("0.0001")).normalize()
        lines.append(PortalLine(product.sku, quantity.normalize(), price))
    address = order.ship_to.value
    ship_to_id = address.address_id if address else None
    ship_to_text = None
    if address is not None and ship_to_id is None:
        ship_to_text = "\n".join(
            part for part in (address.name, address.street,
                              " ".join(p for p in (address.postal_code, address.city) if p), address.country) if part
        )
    return PortalEntry(
        customer_id=order.customer_id.value or "",
        po_number=(order.po_number.value or "").strip(),
        lines=tuple(lines),
        requested_date=order.delivery_date.value,
        ship_to_id=ship_to_id,
        ship_to_text=ship_to_text,
        urgent=bool(order.urgent.value),
    )


def differences(sent: PortalEntry, saved: PortalOrder) -> list[str]:
    """Every header field and line where the portal's copy differs from what
    was typed; empty when they agree. Fields the portal did not show are skipped."""
    found: list[str] = []

    def compare(name: str, want: object, got: object) -> None:
        if got is not None and want != got:
            found.append(f"{name}: sent {want!r}, portal has {got!r}")

    compare("customer", sent.customer_id, saved.customer_id)
    compare("PO number", sent.po_number.lower(), saved.po_number.strip().lower())
    compare("requested date", sent.requested_date, saved.requested_date)
    if sent.ship_to_id is not None:
        compare("ship-to", sent.ship_to_id, saved.ship_to_id)
    compare("urgent", sent.urgent, saved.urgent)
    if saved.lines is not None:
        if len(saved.lines) != len(sent.lines):
            found.append(f"lines: sent {len(sent.lines)}, portal has {len(saved.lines)}")
        for i, (want, got) in enumerate(zip(sent.lines, saved.lines, strict=False), 1):
            compare(f"line {i} item", want.sku, got.sku)
            compare(f"line {i} quantity", want.quantity, got.quantity)
            if want.unit_price is not None:
                compare(f"line {i} unit price", want.unit_price, got.unit_price)
    return found


class Keyer:
    """Keys ready orders with ``policy.workers`` portal sessions in parallel,
    urgent orders first. One ``Keyer`` per process; a store with leases and the
    state machine keeps several processes from keying the same order."""

    def __init__(
        self,
        store: Store,
        master: MasterData,
        portal_factory: PortalFactory,
        *,
        holder: str,
        policy: KeyingPolicy = KeyingPolicy(),
        on_keyed: Callable[[StoredOrder], None] | None = None,
    ) -> None:
        self.store = store
        self.master = master
        self.portal_factory = portal_factory
        self.holder = holder
        self.policy = policy
        self.on_keyed = on_keyed

    # -- the whole stage -------------------------------------------------------

    def run(self, progress: Callable[[str, int], None] | None = None, limit: int | None = None,
            stop: Callable[[], bool] | None = None) -> KeyingReport:
        """Reconcile what dead workers left, then key every ready order that is due.
        Once ``stop()`` is true, each worker finishes the order in hand and
        takes no other (the rest stays ready for the next run)."""
        report = KeyingReport()
        self.store.prune_artifacts(timedelta(days=self.policy.artifacts_keep_days))
        stale = self.store.unfinished_attempts(timedelta(seconds=self.policy.stale_after_seconds))
        # A worker of this host that was killed needs no waiting for: its attempts are stale now.
        known = {a.id for a in stale}
        stale += [a for a in self.store.unfinished_attempts() if a.id not in known and holders.is_dead(a.holder)]
        due = self.store.orders_to_key(limit)
        if not stale and not due:
            return report
        work: queue.Queue[tuple[str, object]] = queue.Queue()
        for attempt in stale:
            work.put(("reconcile", attempt))
        for stored in due:
            work.put(("key", stored))
        lock = threading.Lock()
        done = [0]

        def worker() -> None:
            mine = KeyingReport()
            portal: Portal | None = None
            try:
                while not (stop and stop()):
                    try:
                        kind, item = work.get_nowait()
                    except queue.Empty:
                        break
                    if portal is None:
                        try:
                            portal = self.portal_factory()
                        except PortalUnavailable as exc:
                            mine.errors.append(f"portal session: {exc}")
                            break
                    try:
                        if kind == "reconcile":
                            assert isinstance(item, KeyingAttempt)
                            self.reconcile_one(portal, item, mine)
                        else:
                            assert isinstance(item, StoredOrder)
                            self.key_one(portal, item, mine)
                    except Exception as exc:  # noqa: BLE001 - e.g. the store busy: the attempt stays open
                        # for reconciliation; this worker goes on with the next order.
                        log.exception("keying %s failed", kind)
                        mine.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                    with lock:
                        done[0] += 1
                        if progress:
                            progress("key", done[0])
            finally:
                if portal is not None:
                    portal.close()
                with lock:
                    report.add(mine)

        threads = [threading.Thread(target=worker, name=f"keyer-{i}", daemon=True)
                   for i in range(max(1, min(self.policy.workers, work.qsize())))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return report

    # -- one order -------------------------------------------------------------

    def key_one(self, portal: Portal, stored: StoredOrder, report: KeyingReport) -> None:
        order = stored.order
        try:
            entry = entry_for(order, self.master)
        except EntryError as exc:
            self._to_review_before_start(stored, f"cannot be keyed: {exc}", report)
            return
        try:
            attempt = self.store.begin_keying(stored.id, holder=self.holder)
            failpoints.reach("keying.after_begin")
        except InvalidTransition:
            return  # another worker or process took it
        except DuplicateOrder as exc:
            self._to_review_before_start(stored, str(exc), report, code=ReasonCode.DUPLICATE_PO)
            return
        number: str | None = None
        try:
            existing = portal.find(entry.customer_id, entry.po_number)
            if existing is not None:
                self._found(portal, attempt, stored, entry, existing.order_number, report)
                return
            number = portal.submit(entry).order_number
            failpoints.reach("keying.after_submit")
            self._check_and_finish(portal, attempt, stored, entry, number, KeyingOutcome.KEYED, report)
        except KeyingUncertain as exc:
            self._keep_artifacts(portal, attempt)
            self._settle_uncertain(portal, attempt, stored, entry, str(exc), report)
        except PortalRejected as exc:
            self._keep_artifacts(portal, attempt)
            self._review(attempt, stored, f"the portal refused the order: {exc}", report)
        except PortalUnavailable as exc:
            self._keep_artifacts(portal, attempt)
            if number is not None:
                # Saved, then the read-back failed: the number stands; review it later.
                self._finish(attempt, KeyingOutcome.KEYED, OrderState.KEYED, report,
                             f"portal order {number} (read-back not possible: {exc})", number=number)
                report.keyed += 1
            else:
                self._retry(attempt, str(exc), report)
        except Exception as exc:
            log.exception("keying order %s failed unexpectedly", stored.id)
            self._keep_artifacts(portal, attempt)
            self._settle_uncertain(portal, attempt, stored, entry, f"{type(exc).__name__}: {exc}", report)

    def reconcile_one(self, portal: Portal, attempt: KeyingAttempt, report: KeyingReport) -> None:
        """Settle an attempt a dead worker left (or an uncertain one) by searching."""
        stored = self.store.get_order(attempt.order_id)
        if stored.state != OrderState.KEYING:
            return
        try:
            entry = entry_for(stored.order, self.master)
        except EntryError as exc:
            self._review(attempt, stored, f"cannot be reconciled: {exc}", report)
            return
        self._settle_uncertain(portal, attempt, stored, entry, attempt.error or "the keying worker stopped", report)

    # -- outcomes --------------------------------------------------------------

    def _settle_uncertain(self, portal: Portal, attempt: KeyingAttempt, stored: StoredOrder,
                          entry: PortalEntry, why: str, report: KeyingReport) -> None:
        try:
            existing = portal.find(entry.customer_id, entry.po_number)
        except Exception as exc:  # noqa: BLE001 - any failure leaves it uncertain, never lost
            self.store.finish_keying(
                attempt.id, KeyingOutcome.UNCERTAIN, to_state=None, error=f"{why}; search failed: {exc}",
                reason=f"keying outcome uncertain ({why}); the portal could not be searched: {exc}",
            )
            report.uncertain += 1
            report.errors.append(f"order {stored.id}: uncertain: {exc}")
            return
        if existing is not None:
            self._found(portal, attempt, stored, entry, existing.order_number, report)
        else:
            self._retry(attempt, f"{why}; the portal has no such order, so it was not saved", report)

    def _found(self, portal: Portal, attempt: KeyingAttempt, stored: StoredOrder, entry: PortalEntry,
               number: str, report: KeyingReport) -> None:
        try:
            self._check_and_finish(portal, attempt, stored, entry, number, KeyingOutcome.FOUND, report)
        except PortalUnavailable as exc:
            self._finish(attempt, KeyingOutcome.FOUND, OrderState.KEYED, report,
                         f"portal order {number} found (read-back not possible: {exc})", number=number)
            report.found += 1

    def _check_and_finish(self, portal: Portal, attempt: KeyingAttempt, stored: StoredOrder,
                          entry: PortalEntry, number: str, outcome: KeyingOutcome, report: KeyingReport) -> None:
        saved = portal.read(number)
        diffs = differences(entry, saved)
        if diffs:
            self._keep_artifacts(portal, attempt)
            text = "; ".join(diffs)
            order = stored.order.with_reason(Reason(
                ReasonCode.PORTAL_MISMATCH, f"portal order {number} differs from what was typed: {text}",
            ))
            self._finish(attempt, KeyingOutcome.REVIEW, OrderState.NEEDS_REVIEW, report,
                         f"portal order {number} differs: {text}", number=number, order=order)
            report.to_review += 1
            return
        verb = "keyed as" if outcome is KeyingOutcome.KEYED else "already in the portal as"
        keyed = self._finish(attempt, outcome, OrderState.KEYED, report, f"{verb} portal order {number}", number=number)
        if outcome is KeyingOutcome.KEYED:
            report.keyed += 1
        else:
            report.found += 1
        if keyed is not None and self.on_keyed:
            self.on_keyed(keyed)

    def _retry(self, attempt: KeyingAttempt, why: str, report: KeyingReport) -> None:
        # Attempts count from the last time keying gave up: a person who sent the
        # order back (review, approve) gives it a fresh round.
        gave_up = [a.attempt for a in self.store.keying_attempts(attempt.order_id)
                   if a.outcome is KeyingOutcome.FAILED and a.attempt < attempt.attempt]
        tries = attempt.attempt - max(gave_up, default=0)
        if tries >= self.policy.max_attempts:
            self._finish(attempt, KeyingOutcome.FAILED, OrderState.FAILED, report,
                         f"gave up after {tries} attempts: {why}", error=why)
            report.failed += 1
            return
        pause = self.policy.delay(attempt.attempt)
        self._finish(attempt, KeyingOutcome.RETRY, OrderState.READY, report,
                     f"will retry in {pause.total_seconds():.0f}s: {why}", error=why,
                     not_before=datetime.now(UTC) + pause)
        report.retry += 1
        report.errors.append(why)

    def _review(self, attempt: KeyingAttempt, stored: StoredOrder, why: str, report: KeyingReport) -> None:
        order = stored.order.with_reason(Reason(ReasonCode.PORTAL_REJECTED, why))
        self._finish(attempt, KeyingOutcome.REVIEW, OrderState.NEEDS_REVIEW, report, why, error=why, order=order)
        report.to_review += 1

    def _to_review_before_start(self, stored: StoredOrder, why: str, report: KeyingReport,
                                code: ReasonCode = ReasonCode.PORTAL_REJECTED) -> None:
        order = stored.order.with_reason(Reason(code, why, field="po_number" if code is ReasonCode.DUPLICATE_PO else None))
        try:
            self.store.update_order(stored.id, order, actor="bot", reason=why)
            self.store.transition(stored.id, OrderState.NEEDS_REVIEW, actor="bot", reason=why,
                                  expected_from=OrderState.READY)
        except InvalidTransition:
            return
        report.to_review += 1

    def _finish(self, attempt: KeyingAttempt, outcome: KeyingOutcome, to_state: OrderState,
                report: KeyingReport, reason: str, *, number: str | None = None, error: str | None = None,
                not_before: datetime | None = None, order: Order | None = None) -> StoredOrder | None:
        try:
            self.store.finish_keying(attempt.id, outcome, to_state=to_state, reason=reason,
                                     portal_order_number=number, error=error, not_before=not_before, order=order)
        except InvalidTransition as exc:
            report.errors.append(f"order {attempt.order_id}: {exc}")
            return None
        return self.store.get_order(attempt.order_id)

    def _keep_artifacts(self, portal: Portal, attempt: KeyingAttempt) -> None:
        """The portal's screenshot and trace of a failure, kept with the order."""
        collect = getattr(portal, "diagnostics", None)
        if collect is None:
            return
        try:
            artifacts: Iterable[tuple[str, str, bytes]] = collect()
            for kind, name, data in artifacts:
                self.store.add_artifact(attempt.id, kind, name, data)
        except Exception:
            log.warning("could not keep the diagnostics of keying attempt %s", attempt.id, exc_info=True)


__all__ = ["EntryError", "Keyer", "KeyingPolicy", "KeyingReport", "differences", "entry_for"]
