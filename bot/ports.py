"""The narrow interfaces the pipeline is given: where mail comes from, where
orders go, how customers are written to. Implementations live in ``connectors/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.model import MessageStatus, Order, RawMessage


class MailSource(Protocol):
    name: str

    def fetch_new(self) -> Iterable[RawMessage]:
        """Messages not yet settled at the source. May repeat ones the ledger knows."""
        ...

    def settle(self, raw: RawMessage, status: MessageStatus) -> None:
        """Called only after the store has committed the message's outcome."""
        ...


@dataclass(frozen=True, slots=True)
class PortalOrder:
    order_number: str
    customer_id: str
    po_number: str


@dataclass(frozen=True, slots=True)
class Receipt:
    order_number: str


class Portal(Protocol):
    def find(self, customer_id: str, po_number: str) -> PortalOrder | None: ...

    def submit(self, order: Order) -> Receipt: ...


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
