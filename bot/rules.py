"""The validate stage: small, named rules, each returning reasons with evidence.

A rule reads one resolved ``Order`` and the ``RuleContext`` (master data, the
reference date, the customer match, what came before in this run) and returns
the ``Reason`` objects a person must look at. Rules never change the order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from bot import line_rules, sender_checks
from bot.dkim_check import TxtLookup
from bot.model import ALWAYS_BLOCKING, Message, Order, OrderLine, Reason, ReasonCode
from bot.money import Amounts, MissingRate, RateTable
from bot.resolve import CustomerMatch
from connectors.masterdata import MasterData, Product


@dataclass(frozen=True, slots=True)
class RuleSettings:
    price_tolerance: Decimal = Decimal("0.02")  # relative deviation from the list price
    # Rough rates to the list currency, only for a plausibility check across
    # currencies (a price 3x off is a unit or pack problem, not an exchange rate).
    approximate_rates: tuple[tuple[str, str, Decimal], ...] = (
        ("USD", "EUR", Decimal("0.9")),
        ("GBP", "EUR", Decimal("1.15")),
        ("CNY", "EUR", Decimal("0.13")),
        ("CHF", "EUR", Decimal("1.05")),
        ("SEK", "EUR", Decimal("0.09")),
        ("PLN", "EUR", Decimal("0.23")),
        ("JPY", "EUR", Decimal("0.006")),
    )
    implausible_price_factor: Decimal = Decimal(3)
    new_ship_to_needs_review: bool = True
    low_confidence: float = 0.5  # a key field below this goes to review
    max_days_ahead: int = 366  # a requested date further out is implausible
    # The authserv-id of our own mail server's Authentication-Results header; only
    # that header's DMARC/DKIM/SPF results are read (any other copy is forgeable).
    authserv_id: str | None = None
    require_dmarc_pass: bool = False  # with authserv_id: anything but dmarc=pass goes to review
    # Line rules (bot/line_rules.py):
    pack_multiple_required: bool = False  # a base-unit quantity must be a multiple of the pack size
    split_backorder: bool = False  # out_of_stock states the shipable part and the backorder
    home_country: str | None = None  # set: lines shipped elsewhere need an hs_code in master data
    # A line quantity this many times the customer's usual one (median of its
    # earlier orders of that sku, at least history_min_orders of them) goes to review.
    history_factor: Decimal = Decimal(10)
    history_min_orders: int = 3
    # Reason codes recorded as warnings only: shown, but the order may still be
    # keyed. Codes in bot.model.ALWAYS_BLOCKING cannot be listed.
    non_blocking: tuple[str, ...] = ()
    # Rates for the credit check: (A, B, r) means 1 A = r B (inverse used too).
    # An amount in a currency with no rate to the customer's makes the check
    # impossible, which goes to review.
    exchange_rates: tuple[tuple[str, str, Decimal], ...] = (
        ("USD", "EUR", Decimal("0.92")),
        ("GBP", "EUR", Decimal("1.17")),
        ("CNY", "EUR", Decimal("0.13")),
        ("CHF", "EUR", Decimal("1.06")),
        ("SEK", "EUR", Decimal("0.087")),
        ("PLN", "EUR", Decimal("0.23")),
        ("JPY", "EUR", Decimal("0.0061")),
    )
    verify_dkim: bool = False  # verify the message's DKIM signatures with dkimpy
    new_sender_needs_review: bool = False  # a sender never seen for the customer goes to review

    def __post_init__(self) -> None:
        check_non_blocking(self.non_blocking)


def check_non_blocking(codes: Iterable[str]) -> None:
    """ValueError naming the first code that is unknown or may never be a warning."""
    for code in codes:
        try:
            reason = ReasonCode(code)
        except ValueError:
            raise ValueError(f"{code!r} is not a reason code; known ones: {', '.join(ReasonCode)}") from None
        if reason in ALWAYS_BLOCKING:
            raise ValueError(f"{code!r} always sends an order to review and cannot be non-blocking")


@dataclass(frozen=True)
class RuleContext:
    master: MasterData
    today: date
    customer: CustomerMatch
    settings: RuleSettings = RuleSettings()
    # (customer_id, normalised PO) already seen in this run or held in the store
    is_duplicate: Callable[[str, str], bool] = lambda customer_id, po: False
    # The customer's open orders' value; a plain Decimal is in the customer's currency.
    open_order_value: Callable[[str], Amounts | Decimal] = lambda customer_id: Amounts()
    # The message's own text an order written in the body was read from (signature
    # and quoted history removed), for checks that every product it names was read.
    body_text: str = ""
    # The message the order came in (sender checks); None for orders not from email.
    message: Message | None = None
    # Quantities (in base units) of the customer's earlier orders of a sku.
    quantity_history: Callable[[str, str], Sequence[Decimal]] = lambda customer_id, sku: ()
    # The message's bytes as received (DKIM verification); None when not at hand.
    raw_message: bytes | None = None
    # DNS TXT look-up for DKIM keys; None: dkimpy's own resolver.
    dkim_dns: TxtLookup | None = None
    # Whether (customer_id, sender address) has sent an order that went through before.
    sender_seen: Callable[[str, str], bool] = lambda customer_id, sender: True


Rule = Callable[[Order, RuleContext], Iterable[Reason]]


def _missing(field: str) -> Reason:
    return Reason(ReasonCode.MISSING_FIELD, f"{field} is not stated", field=field)


def completeness(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    if not order.po_number.present:
        yield _missing("po_number")
    if not order.ship_to.present or order.ship_to.value.is_empty():
        yield _missing("ship_to")
    if not order.lines:
        yield _missing("lines")
    for i, line in enumerate(order.lines, 1):
        if not line.quantity.present and line.quantity_text is None:
            yield Reason(ReasonCode.MISSING_FIELD, f"line {i} has no quantity", field=f"lines[{i}].quantity")


def ship_to_known(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """A delivery address that is not one of the customer's known sites goes to a person
    (``new_ship_to_needs_review``): goods sent to a new address are hard to get back."""
    customer = ctx.customer.customer
    if not ctx.settings.new_ship_to_needs_review or customer is None:
        return
    address = order.ship_to.value
    if address is None or address.is_empty() or address.address_id is not None:
        return
    if ctx.master.addresses(customer.customer_id):
        shown = ", ".join(p for p in (address.name, address.street, address.postal_code, address.city, address.country) if p)
        yield Reason(ReasonCode.NEW_SHIP_TO, f"{shown!r} is not one of {customer.name}'s known delivery addresses", field="ship_to", found=shown)


_CODE_TOKEN = re.compile(r"(?<![\w.-])[A-Za-z0-9][A-Za-z0-9.\-/]{2,}[A-Za-z0-9](?![\w-])")


def unread_lines(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """Every product the email text names must be on a line of a body order: a line
    whose quantity could not be read is dropped by the extractor, not keyed short."""
    if order.source != "body" or not ctx.body_text:
        return
    customer_id = order.customer_id.value
    ordered = {line.sku.value for line in order.lines if line.sku.present}
    for match in _CODE_TOKEN.finditer(ctx.body_text):
        token = match.group(0)
        sku = (ctx.master.cross_reference(customer_id, token) if customer_id else None) or (
            product.sku if (product := ctx.master.product(token)) else None
        )
        if sku and sku not in ordered:
            start = ctx.body_text.rfind("\n", 0, match.start()) + 1
            end = ctx.body_text.find("\n", match.end())
            line_text = ctx.body_text[start : end if end >= 0 else len(ctx.body_text)]
            yield Reason(ReasonCode.UNREAD_LINE, f"the text names {token} ({sku}) but no order line was read from it", field="lines", found=line_text.strip()[:200])
            ordered.add(sku)


def customer_and_sender(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    match = ctx.customer
    if match.customer is None:
        yield Reason(ReasonCode.UNKNOWN_CUSTOMER, "the sender's domain and the document name no known customer", field="customer_id")
    elif not match.by_domain:
        yield Reason(
            ReasonCode.UNVERIFIED_SENDER,
            f"the document names {match.customer.name}, but the sender's domain is not one of theirs",
            field="customer_id",
            expected=", ".join(match.customer.email_domains),
        )


def quantities(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    for i, line in enumerate(order.lines, 1):
        if line.quantity_text is not None and not line.quantity.present:
            yield Reason(ReasonCode.AMBIGUOUS_QUANTITY, f"line {i}: quantity {line.quantity_text!r} is not a number", field=f"lines[{i}].quantity", found=line.quantity_text)
        elif line.quantity.present and line.quantity.value <= 0:
            yield Reason(ReasonCode.AMBIGUOUS_QUANTITY, f"line {i}: quantity must be positive", field=f"lines[{i}].quantity", found=str(line.quantity.value))


def skus(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    for i, line in enumerate(order.lines, 1):
        if not line.sku.present:
            written = line.customer_sku.value or (line.codes[0] if line.codes else None) or line.description.value
            yield Reason(ReasonCode.UNKNOWN_SKU, f"line {i}: no product matches {written!r}", field=f"lines[{i}].sku", found=written)


# Units the rules can compare and convert (UN/ECE rec 20 and the package codes the
# normaliser maps to); anything else was not understood.
KNOWN_UNITS = frozenset({"EA", "BX", "CS", "PK", "KGM", "MTR", "LTR"})


def units(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """A unit nobody understood, or one that does not convert to the product's unit,
    makes quantity, price and stock checks meaningless: a person must look."""
    for i, line in enumerate(order.lines, 1):
        uom = line.uom.value
        if uom is None:
            continue
        product = ctx.master.product(line.sku.value) if line.sku.present else None
        if uom not in KNOWN_UNITS and (product is None or uom != product.uom):
            yield Reason(ReasonCode.LOW_CONFIDENCE, f"line {i}: unit {uom!r} is not one orderbot knows", field=f"lines[{i}].uom", found=uom)
        elif product is not None and line.quantity.present and base_units(line, product) is None:
            yield Reason(
                ReasonCode.LOW_CONFIDENCE,
                f"line {i}: {uom} does not convert to the product's unit {product.uom}",
                field=f"lines[{i}].uom",
                expected=product.uom,
                found=uom,
            )


def unusual_quantity(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """A quantity far outside what this customer usually orders of a product: a typo
    (1000 for 100) is cheaper to catch before keying than after shipping."""
    customer_id = order.customer_id.value
    if not customer_id:
        return
    for i, line in enumerate(order.lines, 1):
        product = ctx.master.product(line.sku.value) if line.sku.present else None
        units = base_units(line, product) if product is not None else None
        if units is None:
            continue
        history = sorted(ctx.quantity_history(customer_id, product.sku))
        if len(history) < ctx.settings.history_min_orders:
            continue
        usual = history[len(history) // 2]
        if usual > 0 and (units > usual * ctx.settings.history_factor or units * ctx.settings.history_factor < usual):
            yield Reason(
                ReasonCode.LOW_CONFIDENCE,
                f"line {i}: {units} {product.uom} of {product.sku}, where this customer usually orders {usual}",
                field=f"lines[{i}].quantity",
                expected=f"about {usual}",
                found=str(units),
            )


def currency_for_prices(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    if order.currency.present:
        return
    if any(line.unit_price.present or line.line_total.present for line in order.lines):
        yield Reason(ReasonCode.LOW_CONFIDENCE, "prices are stated but no currency was read", field="currency")


def printed_order_date(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """A printed purchase order carries its date; none read means a caption was missed."""
    source = order.source.lower()
    if source.startswith("attachment:") and ".pdf" in source and not order.order_date.present and order.lines:
        yield Reason(ReasonCode.LOW_CONFIDENCE, "no order date was read from the printed order", field="order_date")


def base_units(line: OrderLine, product: Product) -> Decimal | None:
    """The line's quantity in the product's base unit, or None when units do not convert."""
    if not line.quantity.present:
        return None
    uom = line.uom.value or product.uom
    if uom == product.uom:
        return line.quantity.value
    if uom in ("BX", "CS", "PK") and product.pack_size:
        return line.quantity.value * product.pack_size
    return None


def list_price_per_line_unit(line: OrderLine, product: Product) -> Decimal | None:
    uom = line.uom.value or product.uom
    if uom == product.uom:
        return product.unit_price
    if uom in ("BX", "CS", "PK") and product.pack_size:
        return product.unit_price * product.pack_size
    return None


def prices(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    for i, line in enumerate(order.lines, 1):
        if not (line.unit_price.present and line.sku.present):
            continue
        product = ctx.master.product(line.sku.value)
        if product is None:
            continue
        currency = order.currency.value or (ctx.customer.customer.currency if ctx.customer.customer else None)
        if currency != product.currency:
            continue  # no conversion rates yet: prices in another currency are not compared
        expected = list_price_per_line_unit(line, product)
        if expected is None or expected == 0:
            continue
        deviation = abs(line.unit_price.value - expected) / expected
        if deviation > ctx.settings.price_tolerance:
            yield Reason(
                ReasonCode.PRICE_MISMATCH,
                f"line {i}: {line.unit_price.value} per {line.uom.value or product.uom} differs from list {expected.normalize()} by {deviation:.0%}",
                field=f"lines[{i}].unit_price",
                expected=format(expected.normalize(), "f"),
                found=format(line.unit_price.value, "f"),
            )


def prices_across_currencies(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    """In another currency prices are not compared exactly, but one several times the
    list price (or a fraction of it) means the unit is not what was read: a pack
    priced per box with no unit written, say."""
    currency = order.currency.value
    rates = {(a, b): r for a, b, r in ctx.settings.approximate_rates}
    factor = ctx.settings.implausible_price_factor
    for i, line in enumerate(order.lines, 1):
        product = ctx.master.product(line.sku.value) if line.sku.present else None
        if product is None or not line.unit_price.present or currency in (None, product.currency):
            continue
        rate = rates.get((currency, product.currency))
        expected = list_price_per_line_unit(line, product)
        if rate is None or not expected:
            continue
        ratio = line.unit_price.value * rate / expected
        if ratio > factor or ratio < 1 / factor:
            yield Reason(
                ReasonCode.LOW_CONFIDENCE,
                f"line {i}: {line.unit_price.value} {currency} per {line.uom.value or product.uom} is {ratio:.1f}x the list price; is the unit right?",
                field=f"lines[{i}].unit_price",
                expected=f"about {(expected / rate).quantize(Decimal('0.01'))} {currency}",
                found=format(line.unit_price.value, "f"),
            )


def stock(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    for i, line in enumerate(order.lines, 1):
        product = ctx.master.product(line.sku.value) if line.sku.present else None
        if product is None:
            continue
        needed = base_units(line, product)
        if needed is not None and needed > product.stock:
            message = f"line {i}: {needed} {product.uom} ordered, {product.stock} on hand"
            if ctx.settings.split_backorder:
                message += line_rules.backorder_note(needed, product)
            yield Reason(ReasonCode.OUT_OF_STOCK, message, field=f"lines[{i}].quantity", expected=f"<= {product.stock}", found=str(needed))


UNKNOWN_CURRENCY = "unknown currency"


def order_value(order: Order, master: MasterData, customer_currency: str | None = None) -> Amounts:
    """The order's value per currency: a stated price in the order's currency (else
    the customer's), a line without one at the list price in the product's currency."""
    if customer_currency is None and order.customer_id.present:
        customer = master.customer(order.customer_id.value)
        customer_currency = customer.currency if customer else None
    stated_in = order.currency.value or customer_currency or UNKNOWN_CURRENCY
    parts: list[tuple[str, Decimal]] = []
    for line in order.lines:
        product = master.product(line.sku.value) if line.sku.present else None
        if line.quantity.present and line.unit_price.present:
            parts.append((stated_in, line.quantity.value * line.unit_price.value))
        elif product is not None and (units := base_units(line, product)) is not None:
            parts.append((product.currency, units * product.unit_price))
    return Amounts.of(parts)


def credit(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    customer = ctx.customer.customer
    if customer is None:
        return
    if customer.on_hold:
        yield Reason(ReasonCode.CREDIT_HOLD, f"{customer.name} is on credit hold", field="customer_id")
        return
    if customer.credit_limit is None:
        return
    limit = f"{customer.credit_limit} {customer.currency}"
    open_value = ctx.open_order_value(customer.customer_id)
    if not isinstance(open_value, Amounts):
        open_value = Amounts.of([(customer.currency, open_value)])
    amounts = open_value + order_value(order, ctx.master, customer.currency)
    try:
        exposure = RateTable(ctx.settings.exchange_rates).convert(amounts, customer.currency)
    except MissingRate as missing:
        yield Reason(
            ReasonCode.CREDIT_LIMIT,
            f"the credit limit cannot be checked: {missing} (exchange_rates in rules.yaml)",
            field="customer_id",
            expected=f"a rate {missing.source} -> {missing.target}",
            found=str(amounts),
        )
        return
    if exposure > customer.credit_limit:
        yield Reason(
            ReasonCode.CREDIT_LIMIT,
            f"open orders plus this one come to {exposure:.2f} {customer.currency} ({amounts}), over the limit {limit}",
            field="customer_id",
            expected=f"<= {limit}",
            found=f"{exposure:.2f} {customer.currency}",
        )


def dates(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    requested = order.delivery_date.value
    if requested is None:
        return
    if requested < ctx.today:
        yield Reason(ReasonCode.PAST_DELIVERY_DATE, f"requested delivery {requested} is before {ctx.today}", field="delivery_date", expected=f">= {ctx.today}", found=requested.isoformat())
    elif requested > ctx.today + timedelta(days=ctx.settings.max_days_ahead):
        yield Reason(ReasonCode.LOW_CONFIDENCE, f"requested delivery {requested} is implausibly far ahead", field="delivery_date", found=requested.isoformat())


def duplicates(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    if order.customer_id.present and order.po_number.present and ctx.is_duplicate(order.customer_id.value, order.po_number.value):
        yield Reason(ReasonCode.DUPLICATE_PO, f"PO {order.po_number.value} of {order.customer_id.value} was received before", field="po_number", found=order.po_number.value)


# Fields that are keyed into the portal: each must be read at least as surely as
# the ``low_confidence`` threshold, or a person looks.
REQUIRED_CONFIDENT = ("customer_id", "po_number", "delivery_date", "currency", "ship_to")
REQUIRED_CONFIDENT_LINE = ("sku", "quantity", "uom", "unit_price")


def confidence(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    threshold = ctx.settings.low_confidence
    named = {name: getattr(order, name) for name in REQUIRED_CONFIDENT}
    for name, field in named.items():
        if field.present and field.confidence < threshold:
            yield Reason(ReasonCode.LOW_CONFIDENCE, f"{name} was read with confidence {field.confidence:.2f}", field=name)
    for i, line in enumerate(order.lines, 1):
        for name in REQUIRED_CONFIDENT_LINE:
            field = getattr(line, name)
            if field.present and field.confidence < threshold:
                yield Reason(ReasonCode.LOW_CONFIDENCE, f"line {i} {name} was read with confidence {field.confidence:.2f}", field=f"lines[{i}].{name}")


RULES: tuple[Rule, ...] = (
    completeness,
    customer_and_sender,
    sender_checks.authentication_results,
    sender_checks.reply_to_outside_customer,
    sender_checks.look_alike_domain,
    sender_checks.display_name_impersonation,
    sender_checks.strict_sender_address,
    sender_checks.dkim_signatures,
    sender_checks.first_order_from_sender,
    ship_to_known,
    unread_lines,
    quantities,
    line_rules.whole_units,
    line_rules.pack_multiples,
    line_rules.cross_border_hs_codes,
    skus,
    units,
    unusual_quantity,
    currency_for_prices,
    printed_order_date,
    prices,
    prices_across_currencies,
    stock,
    credit,
    dates,
    duplicates,
    confidence,
)


def validate(order: Order, ctx: RuleContext, rules: tuple[Rule, ...] = RULES) -> Order:
    """The order with every reason the rules found added (reasons from extraction are
    kept), the backorder split on its lines when configured, and each reason marked
    blocking or not by the settings."""
    for rule in rules:
        for reason in rule(order, ctx):
            order = order.with_reason(reason)
    if ctx.settings.split_backorder:
        order = line_rules.with_backorders(order, ctx)
    return mark_blocking(order, ctx.settings)


def mark_blocking(order: Order, settings: RuleSettings) -> Order:
    """Reasons whose code is in ``non_blocking`` become warnings; all others block."""
    warnings = {ReasonCode(code) for code in settings.non_blocking} - ALWAYS_BLOCKING
    reasons = tuple(replace(r, blocking=r.code not in warnings) for r in order.reasons)
    return order if reasons == order.reasons else replace(order, reasons=reasons)
