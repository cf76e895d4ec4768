"""The narrow interfaces the pipeline is given: where mail comes from, where
orders go, how customers are written to. Implementations live in ``connectors/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from bot.model import MessageStatus, RawMessage


class MailSource(Protocol):
    name: str

    def fetch_new(self) -> Iterable[RawMessage]:
        """Messages not yet settled at the source. May repeat ones the ledger knows."""
        ...

    def settle(self, raw: RawMessage, status: MessageStatus) -> None:
        """Called only after the store has committed the message's outcome."""
        ...


@dataclass(frozen=True, slots=True)
class PortalLine:
    """One line as the portal holds it: our sku, quantity in the product's base
    unit, unit price per base unit (None: the portal's list price)."""

    sku: str
    quantity: Decimal
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PortalEntry:
    """What is typed into the portal for one order (``bot.keying.entry_for``
    derives it from a validated ``Order``). ``ship_to_id`` is a known address
    of the customer; without it, ``ship_to_text`` goes into "other address"."""

    customer_id: str
    po_number: str
    lines: tuple[PortalLine, ...]
    requested_date: date | None = None
    ship_to_id: str | None = None
    ship_to_text: str | None = None
    urgent: bool = False
    ship_method: str | None = None  # None: the recipe's default


@dataclass(frozen=True, slots=True)
class PortalOrder:
    """An order found in, or read back from, the portal. Fields the portal did
    not show (a search result lists no lines) are None."""

    order_number: str
    customer_id: str
    po_number: str
    requested_date: date | None = None
    ship_to_id: str | None = None
    urgent: bool | None = None
    lines: tuple[PortalLine, ...] | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    order_number: str


class Portal(Protocol):
    """One session in the order-entry portal. Every method raises only from
    ``bot.errors``: ``PortalUnavailable`` (try later), ``KeyingUncertain``
    (submit failed after the portal may have saved), ``PortalRejected`` (the
    portal refused the order), ``ConfigError`` (login refused, recipe wrong)."""

    def find(self, customer_id: str, po_number: str) -> PortalOrder | None:
        """The portal's order with this customer and PO number, if any."""
        ...

    def submit(self, entry: PortalEntry) -> Receipt:
        """Type the order in and save it once; the receipt holds the portal's number."""
        ...

    def read(self, order_number: str) -> PortalOrder:
        """The saved order as the portal shows it, for the read-back check."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Envelope:
    """One outgoing message exactly as recorded in the store, and where it goes."""

    sender: str  # the envelope sender (MAIL FROM), a bare address
    recipient: str  # one bare address
    data: bytes  # the whole message, CRLF line ends, as it must arrive
    message_id: str


class Mailer(Protocol):
    """A transport for outgoing mail: an SMTP server or the outbox folder.

    ``send`` delivers the envelope once, or raises: ``TransientError``
    (``MailUnavailable``, ``MailDeferred``) when nothing was accepted and a
    later try may work; ``MailRejected`` when the server refused the message
    for good; ``DeliveryUncertain`` when the message went out but its fate is
    unknown; ``ConfigError`` when the settings are wrong (login refused,
    certificate not trusted). The queue (``bot.outgoing``) decides what each
    means for the mail."""

    def send(self, envelope: Envelope) -> None: ...
