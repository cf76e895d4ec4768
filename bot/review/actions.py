"""What a handler does to an order, each step checked, applied and audited.

Every action needs the order's lock (``Locks``): a handler acts only on an
order they hold. The store's state machine does the rest: an order someone
else moved meanwhile raises ``InvalidTransition``.

* approve: ``needs_review`` -> ``ready``, actor ``handler:NAME``, the reasons
  the handler accepted in the event; the keying stage keys it later.
* reject (with a reason), duplicate of order N: -> ``rejected``.
* ask the customer: a clarification request (``MailQueue``), the order stays
  in review waiting for the answer.
* change/cancellation requests: apply (the handler changed the portal order
  by hand; recorded, the request is closed as ``rejected`` with "applied by")
  or decline (-> ``rejected`` with the reason).
* a message the bot could not read (``failed``) is sent to review: an empty
  order with the reason ``unreadable_document``, for the handler to fill in
  from the original or to ask the customer about.
* a mail the bot will not send on its own (``uncertain``, ``failed``) is
  settled, with a reason: the customer has it (``sent``), send it again
  (``queued``), or it stays unsent (``failed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from bot.errors import OrderbotError
from bot.model import MISSING, Field, MessageStatus, Order, OrderState, Provenance, Reason, ReasonCode
from bot.outgoing import MailQueue
from bot.review.audit import Audit
from bot.review.auth import User
from bot.review.corrections import Change, Corrections, apply_edits, text
from bot.review.locks import Locks
from bot.review.queries import why_keying_gave_up
from bot.store import LedgerEntry, MailStatus, OutgoingMail, Store, StoredOrder
from connectors.masterdata import Customer, MasterData

REQUEST_CODES = frozenset({ReasonCode.CHANGE_REQUEST, ReasonCode.CANCELLATION_REQUEST})
SENDER = Provenance("header", rule="sender domain")  # a customer known by the From address


class Refused(OrderbotError):
    """An action the handler may not take now; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Workbench:
    store: Store
    master: MasterData
    locks: Locks
    audit: Audit
    corrections: Corrections
    mail: MailQueue | None = None

    # --- guards ---------------------------------------------------------------

    def hold(self, user: User, order_id: int) -> StoredOrder:
        """The order, in review and locked to ``user`` (taken or renewed now)."""
        stored = self._in_state(order_id, OrderState.NEEDS_REVIEW, "not in review any more")
        lock = self.locks.acquire(order_id, user.name)
        if lock.holder != user.name:
            raise Refused(f"order {order_id} is locked by {lock.holder}", 403)
        return stored

    def _in_state(self, order_id: int, state: OrderState, otherwise: str) -> StoredOrder:
        try:
            stored = self.store.get_order(order_id)
        except KeyError:
            raise Refused(f"there is no order {order_id}", 404) from None
        if stored.state is not state:
            raise Refused(f"order {order_id} is {stored.state}, {otherwise}")
        return stored

    def _done(self, user: User, stored: StoredOrder) -> None:
        self.locks.release(stored.id, user.name)

    # --- actions ---------------------------------------------------------------

    def edit(self, user: User, order_id: int, form: Mapping[str, str]) -> list[Change]:
        """Apply the form's corrections; returns what changed (nothing: no write)."""
        stored = self.hold(user, order_id)
        order, changes = apply_edits(stored.order, form, user=user.name, master=self.master)
        if not changes:
            return changes
        fields = ", ".join(c.field for c in changes)
        self.store.update_order(order_id, order, actor=user.actor, reason=f"corrected {fields}")
        self.corrections.record(user.name, stored, changes)
        self.audit.record_many(
            user.name, "edit", order_id, [(c.field, _shown(c.before.value), _shown(c.after.value)) for c in changes]
        )
        return changes

    def approve(self, user: User, order_id: int) -> StoredOrder:
        stored = self.hold(user, order_id)
        if set(stored.order.reason_codes) & REQUEST_CODES:
            raise Refused("a change or cancellation request is applied or declined, not approved")
        missing = unkeyable(stored)
        if missing:
            raise Refused(f"cannot approve order {order_id}: {'; '.join(missing)}. Correct it first, or ask the customer.")
        accepted = ", ".join(stored.order.reason_codes) or "none"
        moved = self.store.transition(
            order_id, OrderState.READY, actor=user.actor, reason=f"approved; reasons accepted: {accepted}",
            expected_from=OrderState.NEEDS_REVIEW,
        )
        self.audit.record(user.name, "approve", order_id, field="state", before=stored.state, after=moved.state)
        self._done(user, stored)
        return moved

    def reopen(self, user: User, order_id: int) -> StoredOrder:
        """Send an order keying gave up on back to review, with the reason on it;
        approving it then gives keying a fresh round of attempts."""
        stored = self._in_state(order_id, OrderState.FAILED, "and only an order keying gave up on is sent back")
        why = why_keying_gave_up(self.store, order_id)
        order = stored.order.with_reason(Reason(ReasonCode.KEYING_GAVE_UP, why))
        moved = self.store.transition(order_id, OrderState.NEEDS_REVIEW, actor=user.actor, reason=f"sent back to review; {why}",
                                      expected_from=OrderState.FAILED, order=order)
        self.audit.record(user.name, "reopen", order_id, field="state", before=stored.state, after=moved.state)
        return moved

    def review_message(self, user: User, ledger_id: int) -> StoredOrder:
        """Send a message the bot could not read to review as an order to fill in
        by hand: its customer is the sender's when the master data knows them."""
        try:
            entry = self.store.message(ledger_id)
        except KeyError:
            raise Refused(f"there is no message {ledger_id}", 404) from None
        if entry.status is not MessageStatus.FAILED:
            raise Refused(f"message {ledger_id} is {entry.status}, and only a message the bot could not read is sent to review")
        why = entry.reason or "the bot could not read it"
        customer = self._sender_customer(entry)
        order = Order(
            source=entry.name,
            customer_id=Field(customer.customer_id, 1.0, SENDER) if customer else MISSING,
            customer_name=Field(customer.name, 1.0, SENDER) if customer else MISSING,
            reasons=(Reason(ReasonCode.UNREADABLE_DOCUMENT, f"the bot could not read the message: {why}"),),
        )
        (stored,) = self.store.save_outcome(
            ledger_id, [(order, OrderState.NEEDS_REVIEW, f"sent to review by {user.actor}; {why}")],
            MessageStatus.NEEDS_REVIEW, reason=f"sent to review by {user.actor}", actor=user.actor,
            expected_from=MessageStatus.FAILED,
        )
        self.audit.record(user.name, "review_message", stored.id, field="message", before=f"{ledger_id}: failed",
                          after=MessageStatus.NEEDS_REVIEW)
        return stored

    def _sender_customer(self, entry: LedgerEntry) -> Customer | None:
        sender = parseaddr(BytesHeaderParser().parsebytes(self.store.raw_bytes(entry.sha256)).get("From", ""))[1]
        _, at, domain = sender.rpartition("@")
        return self.master.customer_by_domain(domain.lower()) if at and domain else None

    def settle_mail(self, user: User, mail_id: int, status: str, reason: str) -> OutgoingMail:
        reason = " ".join(reason.split())
        if not reason:
            raise Refused("say why: how do you know, or why send it again?", 400)
        try:
            wanted = MailStatus(status)
            before = self.store.outgoing_mail(mail_id)
        except ValueError:
            raise Refused(f"{status!r} is not a way to settle a mail (sent, queued or failed)", 400) from None
        except KeyError:
            raise Refused(f"there is no mail {mail_id}", 404) from None
        settled = self.store.settle_mail(mail_id, wanted, actor=user.actor, reason=reason)
        self.audit.record(user.name, "settle_mail", before.order_id, field=f"mail {mail_id} ({before.kind})",
                          before=before.status, after=f"{settled.status}: {reason}")
        if settled.status is MailStatus.QUEUED and self.mail is not None:
            self.mail.deliver_one(mail_id)
        return self.store.outgoing_mail(mail_id)

    def reject(self, user: User, order_id: int, reason: str, *, action: str = "reject") -> StoredOrder:
        reason = " ".join(reason.split())
        if not reason:
            raise Refused("say why the order is rejected", 400)
        stored = self.hold(user, order_id)
        moved = self.store.transition(
            order_id, OrderState.REJECTED, actor=user.actor, reason=reason, expected_from=OrderState.NEEDS_REVIEW
        )
        self.audit.record(user.name, action, order_id, field="state", before=stored.state, after=f"{moved.state}: {reason}")
        self._done(user, stored)
        return moved

    def duplicate(self, user: User, order_id: int, original_id: int) -> StoredOrder:
        if original_id == order_id:
            raise Refused("an order is not a duplicate of itself", 400)
        try:
            self.store.get_order(original_id)
        except KeyError:
            raise Refused(f"there is no order {original_id}", 400) from None
        return self.reject(user, order_id, f"duplicate of order {original_id}", action="duplicate")

    def ask_customer(self, user: User, order_id: int) -> OutgoingMail:
        stored = self.hold(user, order_id)
        if self.mail is None:
            raise Refused("no outgoing mail is configured for the workbench", 503)
        mail = self.mail.request_clarification(order_id, actor=user.actor)
        self.audit.record(user.name, "ask_customer", order_id, field="clarification", after=f"{mail.status} to {mail.recipient}")
        self.mail.deliver()
        self._done(user, stored)
        return self.store.outgoing_mail(mail.id)

    def apply_request(self, user: User, order_id: int, note: str) -> StoredOrder:
        stored = self.hold(user, order_id)
        if not set(stored.order.reason_codes) & REQUEST_CODES:
            raise Refused("only a change or cancellation request is applied")
        what = "cancellation" if ReasonCode.CANCELLATION_REQUEST in stored.order.reason_codes else "change"
        why = f"{what} request applied by {user.actor} in the portal" + (f": {' '.join(note.split())}" if note.strip() else "")
        return self.reject(user, order_id, why, action="apply_request")

    def decline_request(self, user: User, order_id: int, reason: str) -> StoredOrder:
        stored = self.hold(user, order_id)
        if not set(stored.order.reason_codes) & REQUEST_CODES:
            raise Refused("only a change or cancellation request is declined")
        if not reason.strip():
            raise Refused("say why the request is declined", 400)
        return self.reject(user, order_id, f"request declined: {reason}", action="decline_request")


def unkeyable(stored: StoredOrder) -> list[str]:
    """What an order lacks to be keyed at all: a handler's approval cannot make up for it."""
    order = stored.order
    gaps = [f"no {name}" for name in ("customer_id", "po_number") if not getattr(order, name).value]
    if not order.lines:
        gaps.append("no lines")
    for i, line in enumerate(order.lines, start=1):
        if not line.sku.value or line.quantity.value is None or line.quantity.value <= 0:
            gaps.append(f"line {i} has no sku or quantity")
    return gaps


def is_request(stored: StoredOrder) -> bool:
    return bool(set(stored.order.reason_codes) & REQUEST_CODES)


def _shown(value: object) -> str | None:
    return text(value) or None


__all__ = ["Refused", "Workbench", "is_request"]
