"""German-style number and date formats of the portal (decimal comma, dd.mm.yyyy)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?$")
_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")


def parse_decimal(text: str) -> Decimal | None:
    """'12', '12,5', '1.234,50' -> Decimal; anything else (also '12.5') -> None."""
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    whole, fraction = match.group(1).replace(".", ""), match.group(2)
    try:
        return Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation:
        return None


def plain(value: Decimal) -> Decimal:
    """Trailing zeros stripped, never in exponent notation."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def price(value: Decimal) -> Decimal:
    """A price keeps at least two decimals."""
    return value.quantize(Decimal("0.01")) if value.as_tuple().exponent > -2 else value


def comma(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


def parse_date(text: str) -> date | None:
    match = _DATE.match(text.strip())
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def show_date(iso: str | None) -> str:
    """ISO date or timestamp -> dd.mm.yyyy ('' for none)."""
    if not iso:
        return ""
    return date.fromisoformat(iso[:10]).strftime("%d.%m.%Y")
