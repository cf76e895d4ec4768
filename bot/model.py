"""The typed, immutable records that flow through the pipeline.

A value taken from a document is a ``Field``: the value, how sure the extractor
is (0..1) and where it came from (``Provenance``). Records are frozen; a stage
that changes something returns a new record (``dataclasses.replace``).

Money and quantities are ``Decimal``; dates are ``datetime.date``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

T = TypeVar("T")


class MessageKind(enum.StrEnum):
    ORDER = "order"
    CHANGE = "change"
    CANCELLATION = "cancellation"
    INQUIRY = "inquiry"
    OTHER = "other"


class ReasonCode(enum.StrEnum):
    """Why a person must look at an order (FORMATS.md section 2; more may be added)."""

    MISSING_FIELD = "missing_field"
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNVERIFIED_SENDER = "unverified_sender"
    UNKNOWN_SKU = "unknown_sku"
    AMBIGUOUS_QUANTITY = "ambiguous_quantity"
    PRICE_MISMATCH = "price_mismatch"
    DUPLICATE_PO = "duplicate_po"
    PAST_DELIVERY_DATE = "past_delivery_date"
    CREDIT_HOLD = "credit_hold"
    CREDIT_LIMIT = "credit_limit"
    OUT_OF_STOCK = "out_of_stock"
    LOW_CONFIDENCE = "low_confidence"
    UNREADABLE_DOCUMENT = "unreadable_document"
    CHANGE_REQUEST = "change_request"
    CANCELLATION_REQUEST = "cancellation_request"
    # Added to the FORMATS.md list (it says more may be added):
    NEW_SHIP_TO = "new_ship_to"  # a delivery address that is not one of the customer's known ones
    UNREAD_LINE = "unread_line"  # the text names one of our products on a line no order line came from
    PORTAL_REJECTED = "portal_rejected"  # the portal refused the order when it was keyed
    PORTAL_MISMATCH = "portal_mismatch"  # the order read back from the portal differs from what was typed
    KEYING_GAVE_UP = "keying_gave_up"  # keying failed every attempt; a person sent the order back to review


class OrderState(enum.StrEnum):
    """An order's life. ``received`` is the state of the message that carried it
    (kept in the message ledger); an order row starts at ``extracted``."""

    RECEIVED = "received"
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    READY = "ready"
    KEYING = "keying"
    KEYED = "keyed"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    FAILED = "failed"


ORDER_TRANSITIONS: dict[OrderState | None, frozenset[OrderState]] = {
    None: frozenset({OrderState.RECEIVED, OrderState.EXTRACTED}),
    OrderState.RECEIVED: frozenset({OrderState.EXTRACTED, OrderState.FAILED}),
    OrderState.EXTRACTED: frozenset(
        {OrderState.NEEDS_REVIEW, OrderState.READY, OrderState.FAILED, OrderState.REJECTED}
    ),
    OrderState.NEEDS_REVIEW: frozenset(
        {OrderState.READY, OrderState.REJECTED, OrderState.FAILED, OrderState.NEEDS_REVIEW}
    ),
    OrderState.READY: frozenset(
        {OrderState.KEYING, OrderState.NEEDS_REVIEW, OrderState.REJECTED, OrderState.FAILED}
    ),
    # From keying the outcome may be uncertain (portal died after commit): the
    # order goes back to ready only through reconciliation, or to review.
    OrderState.KEYING: frozenset(
        {OrderState.KEYED, OrderState.READY, OrderState.NEEDS_REVIEW, OrderState.FAILED}
    ),
    OrderState.KEYED: frozenset({OrderState.ACKNOWLEDGED}),
    OrderState.ACKNOWLEDGED: frozenset(),
    OrderState.REJECTED: frozenset(),
    OrderState.FAILED: frozenset({OrderState.NEEDS_REVIEW}),
}

# States in which an order holds its (customer_id, po_number) in the portal.
KEYED_STATES = frozenset({OrderState.KEYING, OrderState.KEYED, OrderState.ACKNOWLEDGED})


class MessageStatus(enum.StrEnum):
    """The message ledger's status for one raw message."""

    RECEIVED = "received"
    PROCESSED = "processed"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a value came from.

    ``source`` is ``"body"``, ``"subject"``, ``"header"``, ``"attachment:NAME"``
    or ``"masterdata"``. For a PDF, ``page`` (1-based) and ``bbox``
    (x0, top, x1, bottom in PDF points, origin top-left as pdfplumber gives it);
    for text, ``span`` is the character range in that text.
    """

    source: str
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    span: tuple[int, int] | None = None
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class Field(Generic[T]):
    value: T | None = None
    confidence: float = 0.0
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence}")

    @property
    def present(self) -> bool:
        return self.value is not None

    @classmethod
    def known(cls, value: T, source: str = "masterdata", confidence: float = 1.0) -> Field[T]:
        return cls(value, confidence, Provenance(source))


MISSING: Field = Field()


@dataclass(frozen=True, slots=True)
class Address:
    name: str | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    address_id: str | None = None  # set when resolved to a known address of the customer

    def is_empty(self) -> bool:
        return not any((self.name, self.street, self.postal_code, self.city, self.country))


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for review, with its evidence."""

    code: ReasonCode
    message: str = ""
    field: str | None = None
    expected: str | None = None
    found: str | None = None
    # False when the rule settings make this code a warning: recorded and shown,
    # but it does not send the order to review (``RuleSettings.non_blocking``).
    blocking: bool = True


# Codes that always send an order to a person, whatever the rule settings say:
# besides trust and duplicates, what keying needs (every field stated and read
# with confidence, a resolved sku, a positive quantity).
ALWAYS_BLOCKING = frozenset(
    {
        ReasonCode.LOW_CONFIDENCE,
        ReasonCode.UNKNOWN_SKU,
        ReasonCode.AMBIGUOUS_QUANTITY,
        ReasonCode.DUPLICATE_PO,
        ReasonCode.UNREADABLE_DOCUMENT,
        ReasonCode.UNVERIFIED_SENDER,
        ReasonCode.CREDIT_HOLD,
        ReasonCode.CHANGE_REQUEST,
        ReasonCode.CANCELLATION_REQUEST,
        ReasonCode.UNKNOWN_CUSTOMER,
        ReasonCode.MISSING_FIELD,
    }
)


@dataclass(frozen=True, slots=True)
class Backorder:
    """How an out-of-stock line splits: what ships now and what waits, in ``uom``
    (the product's base unit)."""

    ship_now: Decimal
    backorder: Decimal
    uom: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: Field[str] = MISSING
    customer_sku: Field[str] = MISSING
    description: Field[str] = MISSING
    quantity: Field[Decimal] = MISSING
    uom: Field[str] = MISSING
    unit_price: Field[Decimal] = MISSING
    # The quantity as written when it could not be read as a number ("a few boxes").
    quantity_text: str | None = None
    line_total: Field[Decimal] = MISSING
    # Every token of the line that looks like a part number, best first; the
    # resolve stage decides which is ours, the customer's, or neither.
    codes: tuple[str, ...] = ()
    # The line's text as written, for review and for catalogue matching.
    text: str | None = None
    # Set by the validate stage with ``split_backorder`` when stock is short.
    backorder: Backorder | None = None


@dataclass(frozen=True, slots=True)
class Order:
    source: str
    customer_id: Field[str] = MISSING
    customer_name: Field[str] = MISSING
    po_number: Field[str] = MISSING
    order_date: Field[date] = MISSING
    delivery_date: Field[date] = MISSING
    currency: Field[str] = MISSING
    ship_to: Field[Address] = MISSING
    lines: tuple[OrderLine, ...] = ()
    urgent: Field[bool] = Field(False, 0.5)
    notes: Field[str] = MISSING
    document_total: Field[Decimal] = MISSING
    reasons: tuple[Reason, ...] = ()
    # The stored order a change or cancellation refers to (its store id).
    linked_order_id: int | None = None

    @property
    def review(self) -> bool:
        """A person must look: some reason blocks (warnings alone do not)."""
        return any(r.blocking for r in self.reasons)

    def with_reason(self, reason: Reason) -> Order:
        if any(r.code == reason.code and r.field == reason.field and r.message == reason.message for r in self.reasons):
            return self
        return replace(self, reasons=(*self.reasons, reason))

    @property
    def reason_codes(self) -> tuple[ReasonCode, ...]:
        """Every code recorded, blocking or not, in first-seen order."""
        return _codes(self.reasons)

    @property
    def blocking_codes(self) -> tuple[ReasonCode, ...]:
        return _codes(r for r in self.reasons if r.blocking)

    @property
    def warning_codes(self) -> tuple[ReasonCode, ...]:
        """Codes recorded only as warnings (not also blocking on another reason)."""
        blocking = set(self.blocking_codes)
        return tuple(c for c in _codes(r for r in self.reasons if not r.blocking) if c not in blocking)


def _codes(reasons: Iterable[Reason]) -> tuple[ReasonCode, ...]:
    seen: dict[ReasonCode, None] = {}
    for r in reasons:
        seen.setdefault(r.code, None)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class Document:
    """One attachment (or a bare file), its type sniffed from its bytes."""

    name: str
    content_type: str  # sniffed: application/pdf, text/csv, application/vnd...sheet, ...
    data: bytes = field(repr=False)
    declared_type: str | None = None

    @property
    def source(self) -> str:
        return f"attachment:{self.name}"


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed email (or a bare PDF wrapped as one)."""

    message_id: str
    sha256: str
    sender: str | None = None  # lower-cased address
    sender_name: str | None = None
    reply_to: str | None = None
    to: tuple[str, ...] = ()
    subject: str = ""
    sent_at: datetime | None = None
    body: str = ""  # the new text of the message, quoted history removed
    quoted: str = ""  # quoted reply history and forwarded headers
    documents: tuple[Document, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    defects: tuple[str, ...] = ()

    @property
    def sender_domain(self) -> str | None:
        if self.sender and "@" in self.sender:
            return self.sender.rsplit("@", 1)[1].lower()
        return None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None


@dataclass(frozen=True, slots=True)
class RawMessage:
    """Bytes as they came from a source, with where they came from."""

    data: bytes = field(repr=False)
    origin: str  # e.g. "folder:/srv/inbox/0001.eml" or "imap:orders@host/INBOX"
    name: str  # a human name for errors: file name or "INBOX uid 42"
    account: str | None = None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    # Set when the source did not download the message because it is over the
    # size cap: ``data`` then holds only the header block, ``size`` the full size.
    size: int | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the bot extracted from one message (FORMATS.md section 2)."""

    message_id: str
    kind: MessageKind
    orders: tuple[Order, ...] = ()
    kind_confidence: float = 1.0
