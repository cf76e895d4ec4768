"""An in-memory portal for unit tests of the keying protocol (the real
connector is tested against the demo portal in tests/test_portal_connector.py).

Faults are scripted per call: ``before_save`` raises before anything is
saved, ``after_save`` saves and then raises ``KeyingUncertain`` (the portal's
"commit then fail"), ``search`` makes ``find`` fail, ``rejects`` refuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from bot.errors import KeyingUncertain, PortalRejected, PortalUnavailable
from bot.ports import PortalEntry, PortalLine, PortalOrder, Receipt


@dataclass
class PortalState:
    orders: dict[str, tuple[PortalEntry, str]] = field(default_factory=dict)  # number -> (entry, key)
    submits: int = 0
    before_save: int = 0  # how many next submits fail before saving
    after_save: int = 0  # how many next submits save, then fail
    search_failures: int = 0
    rejects: set[str] = field(default_factory=set)  # PO numbers the portal refuses
    tamper: dict[str, PortalLine] = field(default_factory=dict)  # PO -> first line as saved
    lock: threading.Lock = field(default_factory=threading.Lock)


class DoublePortal:
    def __init__(self, state: PortalState) -> None:
        self.state = state
        self.closed = False

    def find(self, customer_id: str, po_number: str) -> PortalOrder | None:
        with self.state.lock:
            if self.state.search_failures:
                self.state.search_failures -= 1
                raise PortalUnavailable("search page timed out")
            for number, (entry, _) in self.state.orders.items():
                if entry.customer_id == customer_id and entry.po_number.lower() == po_number.strip().lower():
                    return PortalOrder(number, entry.customer_id, entry.po_number)
        return None

    def submit(self, entry: PortalEntry) -> Receipt:
        with self.state.lock:
            self.state.submits += 1
            if self.state.before_save:
                self.state.before_save -= 1
                raise PortalUnavailable("HTTP 500 before save")
            if entry.po_number in self.state.rejects:
                raise PortalRejected("Row 1: Unknown item.")
            saved = entry
            if entry.po_number in self.state.tamper:
                saved = replace(entry, lines=(self.state.tamper[entry.po_number], *entry.lines[1:]))
            number = f"SO-{len(self.state.orders) + 1:06d}"
            self.state.orders[number] = (saved, entry.po_number)
            if self.state.after_save:
                self.state.after_save -= 1
                raise KeyingUncertain("HTTP 500 after save")
            return Receipt(number)

    def read(self, order_number: str) -> PortalOrder:
        with self.state.lock:
            entry, _ = self.state.orders[order_number]
        return PortalOrder(order_number, entry.customer_id, entry.po_number, entry.requested_date,
                           entry.ship_to_id, entry.urgent, entry.lines)

    def close(self) -> None:
        self.closed = True
