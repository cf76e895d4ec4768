"""A handler's edits: parsed from the form, applied to the order as a new
record, and each changed field kept as a labelled example (document, field,
wrong value, right value, provenance of the wrong one) for later learning.

Form names: ``customer_id``, ``po_number``, ``order_date``, ``delivery_date``,
``currency``, ``ship_to`` (an address id of the customer), ``notes``, and per
line ``line-N-sku``, ``line-N-quantity``, ``line-N-uom``, ``line-N-unit_price``
(N from 0) and ``line-N-remove`` (drop the line: it was no order line); a line
the bot missed is added with ``line-new-sku``, ``line-new-quantity`` and the
optional ``line-new-uom`` (default: the product's) and ``line-new-unit_price``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from sqlalchemy import insert, select

from bot.model import MISSING, Address, Field, Order, OrderLine, Provenance
from bot.review.store import ReviewDb
from bot.store import StoredOrder
from bot.store.schema import corrections
from connectors.masterdata import MasterData

HEADER_FIELDS = ("customer_id", "po_number", "order_date", "delivery_date", "currency", "notes")
LINE_FIELDS = ("sku", "quantity", "uom", "unit_price")
_DECIMALS = {"quantity", "unit_price"}
_DATES = {"order_date", "delivery_date"}


class EditError(ValueError):
    """A value in the form that cannot be taken (not a number, not a date, unknown address)."""


@dataclass(frozen=True, slots=True)
class Change:
    field: str  # "po_number", "ship_to", "lines[0].quantity"
    before: Field[Any]
    after: Field[Any]


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    at: datetime
    user: str
    order_id: int
    ledger_id: int
    document: str | None
    field: str
    wrong: str | None
    right: str | None
    provenance: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user": self.user,
            "order_id": self.order_id,
            "ledger_id": self.ledger_id,
            "document": self.document,
            "field": self.field,
            "wrong": self.wrong,
            "right": self.right,
            "provenance": self.provenance,
        }


def text(value: object) -> str:
    """A field's value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, Address):
        return value.address_id or ", ".join(p for p in (value.name, value.street, value.postal_code, value.city, value.country) if p)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def _parse(name: str, raw: str) -> object:
    raw = raw.strip()
    if not raw:
        return None
    if name in _DECIMALS:
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            raise EditError(f"{name}: {raw!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise EditError(f"{name}: {raw!r} is not a positive number")
        return value
    if name in _DATES:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise EditError(f"{name}: {raw!r} is not a date YYYY-MM-DD") from None
    if name in ("sku", "currency"):
        return raw.upper()
    return raw


def _provenance_json(provenance: Provenance | None) -> dict[str, Any] | None:
    if provenance is None:
        return None
    return {
        "source": provenance.source,
        "page": provenance.page,
        "bbox": list(provenance.bbox) if provenance.bbox else None,
        "span": list(provenance.span) if provenance.span else None,
        "rule": provenance.rule,
    }


def apply_edits(
    order: Order, form: Mapping[str, str], *, user: str, master: MasterData
) -> tuple[Order, list[Change]]:
    """The order with the form's values, and what changed. Fields not in the
    form stay; an unchanged value keeps its confidence and provenance."""
    changes: list[Change] = []
    by_hand = Provenance("review", rule=f"handler:{user}")

    def edited(name: str, current: Field[Any], raw: str | None) -> Field[Any]:
        if raw is None:
            return current
        value = _parse(name.rsplit(".", 1)[-1], raw)
        if text(value) == text(current.value):
            return current
        new: Field[Any] = Field(value, 1.0, by_hand)
        changes.append(Change(name, current, new))
        return new

    header = {n: edited(n, getattr(order, n), form.get(n)) for n in HEADER_FIELDS}
    ship_to = order.ship_to
    wanted = form.get("ship_to")
    if wanted is not None and wanted.strip() != text(order.ship_to.value):
        customer = header["customer_id"].value
        known = {a.address_id: a for a in master.addresses(customer)} if customer else {}
        choice = known.get(wanted.strip())
        if choice is None:
            raise EditError(f"ship_to: {wanted!r} is not an address of customer {customer}")
        address = Address(choice.name, choice.street, choice.postal_code, choice.city, choice.country, choice.address_id)
        ship_to = Field(address, 1.0, by_hand)
        changes.append(Change("ship_to", order.ship_to, ship_to))
    lines = []
    for i, line in enumerate(order.lines):
        if form.get(f"line-{i}-remove"):
            written = line.text or text(line.description.value) or text(line.sku.value) or f"line {i + 1}"
            changes.append(Change(f"lines[{i}]", Field(written, line.sku.confidence, line.sku.provenance), MISSING))
            continue
        values = {n: edited(f"lines[{i}].{n}", getattr(line, n), form.get(f"line-{i}-{n}")) for n in LINE_FIELDS}
        if values["sku"] is not line.sku and values["sku"].value and master.product(values["sku"].value) is None:
            raise EditError(f"lines[{i}].sku: {values['sku'].value!r} is not one of our products")
        lines.append(replace(line, **values))
    added = _added_line(form, by_hand, master, user)
    if added is not None:
        n = len(order.lines)
        changes.extend(Change(f"lines[{n}].{name}", MISSING, getattr(added, name))
                       for name in LINE_FIELDS if getattr(added, name).present)
        lines.append(added)
    customer_name = order.customer_name
    if header["customer_id"] is not order.customer_id and header["customer_id"].value:
        known_customer = master.customer(header["customer_id"].value)
        if known_customer is None:
            raise EditError(f"customer_id: {header['customer_id'].value!r} is not a known customer")
        customer_name = Field(known_customer.name, 1.0, by_hand)
    new_order = replace(order, **header, customer_name=customer_name, ship_to=ship_to, lines=tuple(lines))
    return new_order, changes


def _added_line(form: Mapping[str, str], by_hand: Provenance, master: MasterData, user: str) -> OrderLine | None:
    """The line a handler typed into the form's empty row, or None if they typed none."""
    raw = {name: (form.get(f"line-new-{name}") or "").strip() for name in LINE_FIELDS}
    if not any(raw.values()):
        return None
    sku, quantity = _parse("sku", raw["sku"]), _parse("quantity", raw["quantity"])
    if not sku or not quantity:
        raise EditError("new line: give at least a sku and a quantity above 0")
    product = master.product(str(sku))
    if product is None:
        raise EditError(f"new line: sku {sku!r} is not one of our products")
    uom = _parse("uom", raw["uom"]) or product.uom
    price = _parse("unit_price", raw["unit_price"])
    return OrderLine(
        sku=Field(str(sku), 1.0, by_hand),
        description=Field(product.description, 1.0, by_hand),
        quantity=Field(quantity, 1.0, by_hand),  # type: ignore[arg-type]
        uom=Field(str(uom), 1.0, by_hand),
        unit_price=Field(price, 1.0, by_hand) if price is not None else MISSING,  # type: ignore[arg-type]
        text=f"added by {user} in review",
    )


def _document(provenance: Provenance | None) -> str | None:
    if provenance is None:
        return None
    return provenance.source.removeprefix("attachment:")


class Corrections:
    def __init__(self, db: ReviewDb) -> None:
        self.db = db

    def record(self, user: str, stored: StoredOrder, changes: list[Change]) -> None:
        now = self.db.now()
        with self.db.writing() as conn:
            for change in changes:
                conn.execute(
                    insert(corrections).values(
                        at=now,
                        user=user,
                        order_id=stored.id,
                        ledger_id=stored.ledger_id,
                        document=_document(change.before.provenance),
                        field=change.field,
                        wrong=text(change.before.value) or None,
                        right=text(change.after.value) or None,
                        provenance_json=json.dumps(_provenance_json(change.before.provenance)),
                    )
                )

    def all(self, order_id: int | None = None) -> list[Correction]:
        query = select(corrections).order_by(corrections.c.id)
        if order_id is not None:
            query = query.where(corrections.c.order_id == order_id)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        return [
            Correction(
                r.id, r.at, r.user, r.order_id, r.ledger_id, r.document, r.field, r.wrong, r.right,
                json.loads(r.provenance_json) if r.provenance_json else None,
            )
            for r in rows
        ]

    def export(self, out: TextIO) -> int:
        """Write every correction as JSON Lines; returns how many."""
        n = 0
        for n, correction in enumerate(self.all(), start=1):
            out.write(json.dumps(correction.to_json(), ensure_ascii=False) + "\n")
        return n
