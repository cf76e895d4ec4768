"""Every exception orderbot raises on purpose, in one tree.

    OrderbotError
    ├── TransientError              retry later with backoff (nothing is wrong with the input)
    │   ├── SourceUnavailable       mailbox or folder cannot be reached right now
    │   ├── PortalUnavailable       portal timed out, returned 5xx, is in maintenance
    │   │   └── KeyingUncertain     the portal failed after the order may have been saved:
    │   │                           reconcile by searching, never by submitting again
    │   ├── StoreBusy               the store is locked or a lease is held by someone else
    │   ├── MailUnavailable         the mail server or outbox cannot take mail now (nothing was sent)
    │   └── MailDeferred            the mail server answered 4xx to this message (nothing was sent)
    ├── PermanentError              retrying will not help; a person or a fix is needed
    │   ├── ConfigError             a settings file, template or recipe is invalid
    │   ├── MasterDataError         a master-data CSV is missing a column or has a bad row
    │   ├── UnreadableInput         a message or document cannot be parsed at all
    │   ├── InvalidTransition       a state change the order state machine forbids
    │   ├── PortalRejected          the portal refused the order (unknown item, bad field)
    │   ├── MailRejected            the mail server answered 5xx to this message: never retried
    │   └── DeliveryUncertain       the connection failed after the message went out: it may
    │                               have arrived, so it is never re-sent automatically
    └── BusinessOutcome             not a crash: data for the review queue
        ├── NeedsReview             carries the typed reasons a person must look at
        └── DuplicateOrder          a (customer, PO) is already keyed or being keyed

Library exceptions are translated at the connector edge (``raise ... from exc``)
so that the pipeline only ever sees this tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.model import Reason


class OrderbotError(Exception):
    """Base of everything orderbot raises deliberately."""


class TransientError(OrderbotError):
    """A failure that may succeed when tried again later."""


class SourceUnavailable(TransientError):
    pass


class PortalUnavailable(TransientError):
    pass


class KeyingUncertain(PortalUnavailable):
    """The save was sent and then the portal failed (500, timeout, dropped
    connection): the order may exist in the portal. Only a search settles it."""


class StoreBusy(TransientError):
    pass


class MailUnavailable(TransientError):
    """The mail server cannot be reached, or failed before the message was
    handed over (connect, TLS, login throttled, 421). Nothing was sent."""


class MailDeferred(TransientError):
    """The mail server refused this message for now (4xx). Nothing was accepted."""

    def __init__(self, message: str, *, code: int) -> None:
        self.code = code
        super().__init__(message)


class PermanentError(OrderbotError):
    """A failure that will repeat until a person fixes the input or the setup."""


class ConfigError(PermanentError):
    """Invalid configuration. The message names the file, the key and the problem."""

    def __init__(self, problem: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = ": ".join(p for p in (path, key) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class MasterDataError(PermanentError):
    """A master-data file is unusable. Names the file, line and column where known."""

    def __init__(
        self, problem: str, *, path: str, line: int | None = None, column: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        where = path
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class UnreadableInput(PermanentError):
    """A message or document cannot be parsed. ``name`` says which input."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class InvalidTransition(PermanentError):
    def __init__(self, entity: str, from_state: str | None, to_state: str) -> None:
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(f"{entity}: cannot go from {from_state!r} to {to_state!r}")


class MailRejected(PermanentError):
    """The mail server refused this message for good (5xx); the text is its reply."""

    def __init__(self, message: str, *, code: int) -> None:
        self.code = code
        super().__init__(message)


class PortalRejected(PermanentError):
    """The portal answered the save with its own validation errors: typing it
    again will not help; a person must look (the portal's words are the message)."""


class DeliveryUncertain(PermanentError):
    """The message content went to the server but its final reply never came
    (connection dropped, timeout). The customer may have it: a person checks,
    the bot never sends it again on its own."""


class BusinessOutcome(OrderbotError):
    """Not an error of the bot: a fact about an order that a person must judge."""


class NeedsReview(BusinessOutcome):
    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        self.reasons = reasons
        super().__init__(", ".join(r.code for r in reasons))


class DuplicateOrder(BusinessOutcome):
    def __init__(self, customer_id: str | None, po_number: str | None) -> None:
        self.customer_id = customer_id
        self.po_number = po_number
        super().__init__(f"order {po_number!r} of customer {customer_id!r} is already keyed")
