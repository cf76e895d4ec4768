"""What an extractor may know about a message before it reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ExtractionContext:
    """Hints from the sender, resolved before extraction.

    ``day_first`` is False for customers who write month/day/year (the US);
    None means unknown (read unambiguous dates, day first otherwise).
    ``decimal_comma`` is True where the sender's locale writes ``1.234,56``.
    ``reference_date`` is the day the message was sent: year-less dates
    ("by Friday 5th Dec") mean the next such date after it.
    """

    reference_date: date | None = None
    day_first: bool | None = None
    decimal_comma: bool | None = None
    country: str | None = None  # the sender's country (ISO alpha-2), when known
