"""The order entry form: its values across postbacks and its validation on save."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal

from starlette.datastructures import FormData

from demo.portal import db
from demo.portal.formats import parse_date, parse_decimal, plain, price

SHIP_METHODS = {"STD": "Standard", "EXP": "Express", "FRT": "Freight", "PU": "Pickup"}
INITIAL_ROWS = 5
MAX_ROWS = 200
MAX_REF = 20
PRICE_TOLERANCE = Decimal("0.05")
OTHER = "OTHER"


@dataclass
class LineInput:
    item: str = ""
    qty: str = ""
    price: str = ""

    @property
    def blank(self) -> bool:
        return not (self.item.strip() or self.qty.strip() or self.price.strip())

    @property
    def sku(self) -> str:
        return self.item.strip().upper()


@dataclass
class OrderForm:
    form_token: str
    customer_no: str = ""
    selected_customer: str = ""
    ship_to: str = ""
    other_address: str = ""
    customer_ref: str = ""
    requested_date: str = ""
    ship_method: str = "STD"
    rush: bool = False
    lines: list[LineInput] = field(default_factory=lambda: [LineInput() for _ in range(INITIAL_ROWS)])

    @classmethod
    def from_post(cls, form: FormData) -> OrderForm:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value if isinstance(value, str) else ""

        try:
            rows = min(max(int(text("rows")), 1), MAX_ROWS)
        except ValueError:
            rows = INITIAL_ROWS
        return cls(
            form_token=text("form_token"),
            customer_no=text("customer_no"),
            selected_customer=text("selected_customer"),
            ship_to=text("ship_to"),
            other_address=text("other_address"),
            customer_ref=text("customer_ref"),
            requested_date=text("requested_date"),
            ship_method=text("ship_method") or "STD",
            rush=text("rush") == "1",
            lines=[LineInput(text(f"item_{i}"), text(f"qty_{i}"), text(f"price_{i}")) for i in range(1, rows + 1)],
        )

    @property
    def customer_key(self) -> str:
        return self.customer_no.strip().upper()

    def add_rows(self, count: int = INITIAL_ROWS) -> None:
        room = max(MAX_ROWS - len(self.lines), 0)
        self.lines.extend(LineInput() for _ in range(min(count, room)))


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    row_messages: dict[int, str] = field(default_factory=dict)
    order: db.NewOrder | None = None


def deviates(typed: Decimal, list_price: Decimal) -> bool:
    if list_price == 0:
        return typed != 0
    return abs(typed - list_price) / list_price > PRICE_TOLERANCE


def validate(form: OrderForm, conn: sqlite3.Connection, user: str, price_confirmed: bool) -> Validation:
    """Check the whole form; a Validation without errors carries the order to insert."""
    result = Validation()
    errors = result.errors
    customer_no = form.customer_key
    customer = db.customer(conn, customer_no) if customer_no else None
    ship_to_text = ""
    if not customer_no:
        errors.append("Customer no.: required.")
    elif customer is None:
        errors.append(f"Unknown customer {customer_no}.")
    else:
        by_id = {a["address_id"]: a for a in db.addresses(conn, customer_no)}
        if not form.ship_to:
            errors.append("Ship-to: select an address.")
        elif form.ship_to == OTHER:
            ship_to_text = form.other_address.strip()
            if not ship_to_text:
                errors.append("Other address: required when the ship-to is Other address.")
        elif form.ship_to in by_id:
            ship_to_text = db.address_text(by_id[form.ship_to])
        else:
            errors.append(f"Ship-to: {form.ship_to} is not an address of customer {customer_no}.")
    ref = form.customer_ref.strip()
    if not ref:
        errors.append("Customer reference: required.")
    elif len(ref) > MAX_REF:
        errors.append(f"Customer reference: at most {MAX_REF} characters.")
    requested = None
    if form.requested_date.strip():
        requested = parse_date(form.requested_date)
        if requested is None:
            errors.append("Requested date: use dd.mm.yyyy.")
    if form.ship_method not in SHIP_METHODS:
        errors.append("Shipping method: choose one of the list.")

    products = db.products(conn)
    lines: list[db.NewLine] = []
    for pos, line in enumerate(form.lines, start=1):
        if line.blank:
            continue
        message, new_line = _check_line(pos, line, products, price_confirmed)
        if message:
            result.row_messages[pos] = message
        elif new_line:
            lines.append(new_line)
    if result.row_messages:
        errors.append("Please correct the marked rows.")
    elif not lines:
        errors.append("Enter at least one line with item and quantity.")
    if not errors:
        result.order = db.NewOrder(
            customer_no=customer_no, customer_ref=ref,
            requested_date=requested.isoformat() if requested else None,
            ship_method=form.ship_method, rush=form.rush, ship_to=form.ship_to,
            ship_to_text=ship_to_text, created_by=user, form_token=form.form_token,
            lines=[db.NewLine(i, ln.item, ln.quantity, ln.unit_price) for i, ln in enumerate(lines, start=1)],
        )
    return result


def _check_line(pos: int, line: LineInput, products: dict[str, sqlite3.Row],
                price_confirmed: bool) -> tuple[str | None, db.NewLine | None]:
    sku = line.sku
    if not sku:
        return "Item missing.", None
    product = products.get(sku)
    if product is None:
        return f"Unknown item {sku}.", None
    quantity = parse_decimal(line.qty)
    if quantity is None or quantity <= 0 or quantity.as_tuple().exponent < -3:
        return "Invalid quantity.", None
    list_price = Decimal(product["unit_price"])
    if line.price.strip():
        unit_price = parse_decimal(line.price)
        if unit_price is None or unit_price.as_tuple().exponent < -4:
            return "Invalid unit price.", None
        if deviates(unit_price, list_price) and not price_confirmed:
            return "Price differs from list price; confirm to save.", None
    else:
        unit_price = list_price
    return None, db.NewLine(pos, sku, plain(quantity), price(unit_price))
