"""One message from bytes to decided orders: parse, extract, resolve, validate, decide.

This is the unit of work that needs no store and no portal, shared by the
pipeline (which records the outcome) and by ``orderbot extract`` / ``eval``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cache

from bot.changes import EarlierOrder, FindEarlier, link_request
from bot.dkim_check import TxtLookup
from bot.errors import UnreadableInput
from bot.identity import identify
from bot.model import (
    Document,
    Extraction,
    Message,
    MessageKind,
    Order,
    OrderState,
    RawMessage,
    Reason,
    ReasonCode,
)
from bot.money import Amounts
from bot.resolve import Catalogue, CustomerMatch, customer_country, resolve_order
from bot.rules import RULES, Rule, RuleContext, RuleSettings, order_value, validate
from connectors.masterdata import Customer, MasterData
from extractors.context import ExtractionContext
from extractors.dispatch import extract_message
from extractors.mime import parse_message
from extractors.quotes import order_text, signature_start, text_vocabulary
from extractors.templates import TemplateSet

_DAY_LAST_COUNTRIES = frozenset({"US"})
_DECIMAL_POINT_COUNTRIES = frozenset({"US", "GB", "IE", "CN", "JP", "AU", "CA", "IN"})


def normalise_po(po_number: str) -> str:
    return " ".join(po_number.split()).upper()


@dataclass
class DuplicateIndex:
    """The (customer, PO) pairs seen in this run, plus an optional look-up in the store."""

    in_store: Callable[[str, str], bool] = lambda customer_id, po: False
    seen: set[tuple[str, str]] = field(default_factory=set)

    def is_duplicate(self, customer_id: str, po_number: str) -> bool:
        key = (customer_id, normalise_po(po_number))
        return key in self.seen or self.in_store(customer_id, po_number)

    def remember(self, order: Order) -> None:
        if order.customer_id.present and order.po_number.present:
            self.seen.add((order.customer_id.value, normalise_po(order.po_number.value)))


@dataclass(frozen=True, slots=True)
class Decided:
    """The outcome for one message: what was extracted and each order's next state."""

    message: Message | None
    extraction: Extraction
    states: tuple[OrderState, ...]


def parse(raw: RawMessage) -> Message:
    """Bytes to a ``Message``; a bare PDF becomes a message with one attachment."""
    if not raw.data.strip():
        raise UnreadableInput(raw.name, "the file is empty")
    if raw.data.startswith(b"%PDF"):
        identity = identify(raw.data)
        return Message(
            message_id=identity.message_id,
            sha256=identity.sha256,
            subject=raw.name,
            documents=(Document(raw.name, "application/pdf", raw.data, declared_type="application/pdf"),),
        )
    return parse_message(raw)


@cache
def _priority_goods() -> re.Pattern[str]:
    words = sorted({str(w) for w in text_vocabulary().get("priority_goods", [])}, key=len, reverse=True)
    return re.compile(r"(?<![^\W\d_])(?:" + "|".join(re.escape(w) for w in words) + r")(?![^\W\d_])", re.IGNORECASE)


def urgency_priority(order: Order, master: MasterData | None = None) -> int:
    """Queue rank: 2 when the customer asks for urgency, 1 for medical or perishable
    goods (a category alone does not make an order urgent), else 0."""
    if order.urgent.value:
        return 2
    if master is not None:
        pattern = _priority_goods()
        for line in order.lines:
            product = master.product(line.sku.value) if line.sku.present else None
            if product is not None and pattern.search(product.description):
                return 1
    return 0


class MessageProcessor:
    """Runs the message stages in order with master data and the run's reference date."""

    def __init__(
        self,
        master: MasterData,
        *,
        today: date,
        duplicates: DuplicateIndex | None = None,
        open_order_value: Callable[[str], Amounts | Decimal] = lambda customer_id: Amounts(),
        quantity_history: Callable[[str, str], Sequence[Decimal]] = lambda customer_id, sku: (),
        find_earlier: FindEarlier | None = None,
        sender_seen: Callable[[str, str], bool] = lambda customer_id, sender: True,
        dkim_dns: TxtLookup | None = None,
        rule_settings: RuleSettings = RuleSettings(),
        rules: tuple[Rule, ...] = RULES,
        templates: TemplateSet | None = None,
    ) -> None:
        self.master = master
        self.templates = templates
        self.today = today
        self.duplicates = duplicates or DuplicateIndex()
        self.open_order_value = open_order_value
        self.quantity_history = quantity_history
        self.find_earlier_in_store = find_earlier
        self.sender_seen = sender_seen
        self.dkim_dns = dkim_dns
        # Without a store, the orders of this run by (customer, normalised PO), for the
        # changes that follow them (``orderbot extract``); a store holds them itself.
        self.run_orders: dict[tuple[str, str], Order] | None = {} if find_earlier is None else None
        self.rule_settings = rule_settings
        self.rules = rules
        self.catalogue = Catalogue.build(master)

    # -- stages ----------------------------------------------------------------

    def sender_customer(self, message: Message) -> Customer | None:
        """The customer the sender's domain belongs to (known before extraction)."""
        return self.master.customer_by_domain(message.sender_domain) if message.sender_domain else None

    def context_for(self, message: Message) -> ExtractionContext:
        reference = message.sent_at.date() if message.sent_at else self.today
        customer = self.sender_customer(message)
        country = customer_country(self.master, customer) if customer else None
        return ExtractionContext(
            reference_date=reference,
            day_first=None if country is None else country not in _DAY_LAST_COUNTRIES,
            decimal_comma=None if country is None else country not in _DECIMAL_POINT_COUNTRIES,
            country=country,
        )

    def extract(self, message: Message) -> Extraction:
        customer = self.sender_customer(message) if self.templates else None
        customer_id = customer.customer_id if customer else None
        return extract_message(message, self.context_for(message), templates=self.templates, customer_id=customer_id)

    def resolve(self, message: Message, extraction: Extraction) -> tuple[tuple[Order, CustomerMatch], ...]:
        texts = (message.body, *(o.customer_name.value or "" for o in extraction.orders))
        return tuple(resolve_order(order, message, self.master, self.catalogue, texts) for order in extraction.orders)

    def find_earlier(self, customer_id: str, po_number: str) -> EarlierOrder | None:
        """The order a change or cancellation refers to: in the store, or without one
        earlier in this run."""
        if self.find_earlier_in_store is not None:
            return self.find_earlier_in_store(customer_id, po_number)
        order = self.run_orders.get((customer_id, normalise_po(po_number))) if self.run_orders is not None else None
        return EarlierOrder(order) if order is not None else None

    def validate(
        self,
        kind: MessageKind,
        resolved: tuple[tuple[Order, CustomerMatch], ...],
        body_text: str = "",
        message: Message | None = None,
        raw_message: bytes | None = None,
    ) -> tuple[Order, ...]:
        orders = []
        # Orders of this message that go through count against the credit of the ones after them.
        passed: dict[str, Amounts] = {}

        def open_order_value(customer_id: str) -> Amounts | Decimal:
            value = self.open_order_value(customer_id)
            if customer_id not in passed:
                return value
            if not isinstance(value, Amounts):
                customer = self.master.customer(customer_id)
                value = Amounts.of([(customer.currency if customer else "", value)])
            return value + passed[customer_id]

        for order, match in resolved:
            if kind in (MessageKind.CHANGE, MessageKind.CANCELLATION):
                order = link_request(order, kind, self.find_earlier)
            elif kind is MessageKind.ORDER and not any(r.code is ReasonCode.UNREADABLE_DOCUMENT for r in order.reasons):
                ctx = RuleContext(
                    master=self.master,
                    today=self.today,
                    customer=match,
                    settings=self.rule_settings,
                    is_duplicate=self.duplicates.is_duplicate,
                    open_order_value=open_order_value,
                    quantity_history=self.quantity_history,
                    body_text=body_text,
                    message=message,
                    raw_message=raw_message,
                    dkim_dns=self.dkim_dns,
                    sender_seen=self.sender_seen,
                )
                order = validate(order, ctx, self.rules)
                if not order.review and order.customer_id.value:
                    key = order.customer_id.value
                    passed[key] = passed.get(key, Amounts()) + order_value(order, self.master)
                self.duplicates.remember(order)
                if self.run_orders is not None and order.customer_id.present and order.po_number.present:
                    self.run_orders.setdefault((order.customer_id.value, normalise_po(order.po_number.value)), order)
            orders.append(order)
        return tuple(orders)

    @staticmethod
    def decide(orders: tuple[Order, ...]) -> tuple[OrderState, ...]:
        return tuple(OrderState.NEEDS_REVIEW if o.review else OrderState.READY for o in orders)

    # -- the whole message ---------------------------------------------------

    def process(self, raw: RawMessage) -> Decided:
        message = parse(raw)
        return self.process_message(message, raw.data)

    def process_message(self, message: Message, raw_message: bytes | None = None) -> Decided:
        extraction = self.extract(message)
        resolved = self.resolve(message, extraction)
        text = order_text(message.body, message.quoted, message.subject)
        orders = self.validate(extraction.kind, resolved, text[: signature_start(text)], message, raw_message)
        extraction = replace(extraction, orders=orders)
        return Decided(message, extraction, self.decide(orders))


def failed_extraction(raw: RawMessage, problem: str) -> Extraction:
    """What ``extract`` reports for a message that cannot be parsed at all: an order
    entry a person must look at (``other`` would have to carry no orders, and the
    message would be lost from the review queue)."""
    identity = identify(raw.data) if raw.data else None
    message_id = identity.message_id if identity else f"<{hashlib.sha256(b'').hexdigest()}@orderbot.invalid>"
    order = Order(source=raw.name, reasons=(Reason(ReasonCode.UNREADABLE_DOCUMENT, problem),))
    return Extraction(message_id=message_id, kind=MessageKind.ORDER, orders=(order,))
