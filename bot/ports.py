"""The narrow interfaces the pipeline is given: where mail comes from, where
orders go, how customers are written to. Implementations live in ``connectors/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
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


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...
