"""Line-level validation rules (issue 5, "Lines", "Stock" and "Cross-border").

Each rule reads one resolved ``Order`` and the ``RuleContext`` and returns the
reasons, with evidence, a person must look at. They are registered in
``bot.rules.RULES`` right after ``quantities``. This module imports nothing
from ``bot.rules`` at run time, so ``bot.rules`` can import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.model import Backorder, Order, OrderLine, Reason, ReasonCode
from connectors.masterdata import Product

if TYPE_CHECKING:
    from bot.rules import RuleContext

# Units counted in whole pieces; KGM, MTR and LTR may be fractional.
COUNTABLE_UNITS = frozenset({"EA", "BX", "CS", "PK"})


def _product(line: OrderLine, ctx: RuleContext) -> Product | None:
    return ctx.master.product(line.sku.value) if line.sku.present else None


def _line_unit(line: OrderLine, product: Product | None) -> str | None:
    """The unit the line is written in: its own, else the product's base unit."""
    uom = line.uom.value
    if uom is None and product is not None:
        uom = product.uom
    return uom.upper() if uom else None


def _is_whole(number: Decimal) -> bool:
    return number == number.to_integral_value()


def whole_units(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """A countable unit (EA, BX, CS, PK) cannot be ordered in fractions."""
    for i, line in enumerate(order.lines, 1):
        if not line.quantity.present or line.quantity.value <= 0:
            continue  # missing or non-positive quantities are other rules' business
        uom = _line_unit(line, _product(line, ctx))
        if uom in COUNTABLE_UNITS and not _is_whole(line.quantity.value):
            found = format(line.quantity.value, "f")
            yield Reason(
                ReasonCode.AMBIGUOUS_QUANTITY,
                f"line {i}: {found} {uom} is not a whole number of {uom}",
                field=f"lines[{i}].quantity",
                expected=f"a whole number of {uom}",
                found=found,
            )


def pack_multiples(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """With ``pack_multiple_required``, a line in the product's base unit must order
    whole packs (a multiple of the product's pack_size)."""
    if not ctx.settings.pack_multiple_required:
        return
    for i, line in enumerate(order.lines, 1):
        product = _product(line, ctx)
        if product is None or not product.pack_size or not line.quantity.present:
            continue
        quantity = line.quantity.value
        if quantity <= 0 or _line_unit(line, product) != product.uom.upper():
            continue
        packs = quantity / product.pack_size
        if not _is_whole(packs):
            next_multiple = (packs.to_integral_value(rounding="ROUND_CEILING")) * product.pack_size
            yield Reason(
                ReasonCode.LOW_CONFIDENCE,
                f"line {i}: {format(quantity, 'f')} {product.uom} is not a multiple of the pack size {format(product.pack_size, 'f')}",
                field=f"lines[{i}].quantity",
                expected=format(next_multiple.normalize(), "f"),
                found=format(quantity, "f"),
            )


def backorder_split(needed: Decimal, on_hand: int) -> tuple[Decimal, Decimal]:
    """The part of ``needed`` that can ship now and the part to backorder."""
    shipable = min(Decimal(max(on_hand, 0)), needed)
    return shipable, needed - shipable


def backorder_note(needed: Decimal, product: Product) -> str:
    """What the ``stock`` rule adds to its message with ``split_backorder``, so the
    review UI can offer the split (the reason itself stays blocking)."""
    shipable, rest = backorder_split(needed, product.stock)
    return f"; split: ship {shipable} {product.uom} now, backorder {rest} {product.uom}"


def with_backorders(order: Order, ctx: RuleContext) -> Order:
    """The order with the split recorded on every line short of stock (the
    ``split_backorder`` setting); the ``out_of_stock`` reason stays and blocks."""
    from bot.rules import base_units  # bot.rules imports this module

    lines = []
    for line in order.lines:
        product = _product(line, ctx)
        needed = base_units(line, product) if product is not None else None
        if product is not None and needed is not None and needed > product.stock:
            shipable, rest = backorder_split(needed, product.stock)
            line = replace(line, backorder=Backorder(shipable, rest, product.uom))
        elif line.backorder is not None:
            line = replace(line, backorder=None)
        lines.append(line)
    return replace(order, lines=tuple(lines))


def _ship_to_country(order: Order, ctx: RuleContext) -> str | None:
    address = order.ship_to.value
    if address is None:
        return None
    if address.country:
        return address.country.strip().upper()
    customer_id = order.customer_id.value
    if address.address_id and customer_id:
        for known in ctx.master.addresses(customer_id):
            if known.address_id == address.address_id:
                return known.country.strip().upper()
    return None


def cross_border_hs_codes(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """With ``home_country`` set, an order shipped abroad needs an HS code in master
    data for every line's product (customs papers), else a person looks."""
    home = ctx.settings.home_country
    if not home:
        return
    country = _ship_to_country(order, ctx)
    if country is None or country == home.strip().upper():
        return
    for i, line in enumerate(order.lines, 1):
        product = _product(line, ctx)
        if product is None:
            continue  # unknown_sku already flags it
        if not product.hs_code:
            yield Reason(
                ReasonCode.LOW_CONFIDENCE,
                f"line {i}: {product.sku} ships to {country} but has no HS code in master data",
                field=f"lines[{i}].sku",
                expected="an hs_code in products.csv",
                found=product.sku,
            )
