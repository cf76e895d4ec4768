"""Changes and cancellations, linked to the order they refer to.

A message of kind ``change`` or ``cancellation`` names an existing order by its
PO number. ``link_request`` finds what the bot knows of that order (the same
customer and PO number, from the store or earlier in the run) and rewrites the
order's ``change_request`` / ``cancellation_request`` reason with the evidence a
person needs: which order, in what state, its portal number, and for a change
what would change (``order_difference``). The reason always blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.model import (
    Address,
    MessageKind,
    Order,
    OrderLine,
    OrderState,
    Reason,
    ReasonCode,
)


@dataclass(frozen=True, slots=True)
class EarlierOrder:
    """The order a change or cancellation refers to, as the bot knows it."""

    order: Order
    order_id: int | None = None  # None: seen earlier in this run, not stored
    state: OrderState | None = None
    portal_order_number: str | None = None

    def describe(self) -> str:
        parts = [f"order {self.order_id}" if self.order_id is not None else "an order earlier in this run"]
        details = [str(self.state)] if self.state else []
        if self.portal_order_number:
            details.append(f"portal order {self.portal_order_number}")
        return parts[0] + (f" ({', '.join(details)})" if details else "")


FindEarlier = Callable[[str, str], EarlierOrder | None]

_HEADER_FIELDS = ("order_date", "delivery_date", "currency", "ship_to", "notes")
_LINE_FIELDS = ("quantity", "uom", "unit_price")


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, Address):
        return ", ".join(p for p in (value.name, value.street, value.postal_code, value.city, value.country) if p)
    return str(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, Address) and isinstance(b, Address):
        return _shown(a) == _shown(b)
    return a == b


def _line_key(line: OrderLine) -> str | None:
    return line.sku.value or line.customer_sku.value or line.description.value


def _line_summary(line: OrderLine) -> str:
    quantity = _shown(line.quantity.value) if line.quantity.present else "?"
    return f"{quantity} {line.uom.value or ''}".strip()


def order_difference(before: Order, after: Order) -> tuple[str, ...]:
    """What ``after`` (a change as read) would change in ``before``, one item per
    difference. A field the change leaves empty is not a difference: the change
    says only what it changes."""
    changes: list[str] = []
    for name in _HEADER_FIELDS:
        old, new = getattr(before, name).value, getattr(after, name).value
        if new is not None and not _same(old, new):
            changes.append(f"{name} {_shown(old) if old is not None else '(none)'} -> {_shown(new)}")
    old_lines = {_line_key(line): line for line in before.lines if _line_key(line)}
    seen: set[str] = set()
    for line in after.lines:
        key = _line_key(line)
        if key is None:
            changes.append(f"new line without a product ({_line_summary(line)})")
            continue
        seen.add(key)
        old = old_lines.get(key)
        if old is None:
            changes.append(f"new line {key} ({_line_summary(line)})")
            continue
        for name in _LINE_FIELDS:
            was, now = getattr(old, name).value, getattr(line, name).value
            if now is not None and not _same(was, now):
                changes.append(f"line {key}: {name} {_shown(was) if was is not None else '(none)'} -> {_shown(now)}")
    if after.lines:
        for key, line in old_lines.items():
            if key not in seen:
                changes.append(f"line {key} not in the change (was {_line_summary(line)})")
    return tuple(changes)


def request_code(order: Order, kind: MessageKind) -> ReasonCode:
    if any(r.code is ReasonCode.CANCELLATION_REQUEST for r in order.reasons):
        return ReasonCode.CANCELLATION_REQUEST
    if any(r.code is ReasonCode.CHANGE_REQUEST for r in order.reasons):
        return ReasonCode.CHANGE_REQUEST
    return ReasonCode.CANCELLATION_REQUEST if kind is MessageKind.CANCELLATION else ReasonCode.CHANGE_REQUEST


def request_reason(order: Order, code: ReasonCode, earlier: EarlierOrder | None) -> Reason:
    """The change/cancellation reason with the linked order and the difference as evidence."""
    po, customer_id = order.po_number.value, order.customer_id.value
    verb = "cancel" if code is ReasonCode.CANCELLATION_REQUEST else "change"
    if not po or not customer_id:
        missing = " and ".join(n for n, v in (("PO number", po), ("customer", customer_id)) if not v)
        return Reason(code, f"the customer asks to {verb} an order, but its {missing} could not be read", field="po_number", expected="an earlier order", found=po)
    if earlier is None:
        return Reason(code, f"the customer asks to {verb} PO {po}: no earlier order PO {po} from {customer_id} in the store", field="po_number", expected=f"an earlier order PO {po} from {customer_id}", found=None)
    linked = earlier.describe()
    if code is ReasonCode.CANCELLATION_REQUEST:
        return Reason(code, f"the customer asks to cancel PO {po}: {linked}", field="po_number", expected=linked, found="cancel")
    difference = "; ".join(order_difference(earlier.order, order)) or "no difference read from the message; compare by hand"
    return Reason(code, f"the customer asks to change PO {po}: {linked}: {difference}", field="po_number", expected=linked, found=difference)


def link_request(order: Order, kind: MessageKind, find: FindEarlier) -> Order:
    """``order`` (read from a change or cancellation) linked to the earlier order,
    its request reason rewritten with the evidence."""
    code = request_code(order, kind)
    po, customer_id = order.po_number.value, order.customer_id.value
    earlier = find(customer_id, po) if po and customer_id else None
    kept = tuple(r for r in order.reasons if r.code is not code)
    linked_id = earlier.order_id if earlier is not None else None
    return replace(order, reasons=(*kept, request_reason(order, code, earlier)), linked_order_id=linked_id)
