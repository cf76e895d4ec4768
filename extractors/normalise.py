"""Turn values as people write them into the canonical forms of FORMATS.md.

Decimals with ``.`` and no thousands separator, ISO dates, UN/ECE unit codes,
ISO 4217 currencies and ISO 3166 alpha-2 countries. The words come from
``vocabulary/normalise.yaml``; nothing customer-specific lives here.

Every parser returns ``None`` for text it cannot read: callers decide whether a
missing value is a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import yaml

VOCABULARY_DIR = Path(__file__).parent / "vocabulary"


def fold(text: str) -> str:
    """Lower-case, white space collapsed, trailing dot dropped: the key for vocabulary look-ups."""
    return " ".join(text.split()).lower().rstrip(".") if text else ""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    units: dict[str, str]
    currencies: dict[str, str]
    countries: dict[str, str]
    months: dict[str, int]

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))

        def invert(section: str) -> dict[str, str]:
            table: dict[str, str] = {}
            for code, words in raw[section].items():
                table[fold(str(code))] = str(code)
                for word in words:
                    table[fold(str(word))] = str(code)
            return table

        months = {fold(str(w)): int(n) for n, words in raw["months"].items() for w in words}
        return cls(invert("units"), invert("currencies"), invert("countries"), months)


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary.load(VOCABULARY_DIR / "normalise.yaml")


# --- numbers ---------------------------------------------------------------

# Spaces and apostrophes count as thousands separators only before exactly three digits.
_NUMBER = re.compile(r"[-+]?\d{1,3}(?:['\u00a0\u202f ]\d{3})+(?:[.,]\d+)?(?!\d)|[-+]?\d[\d.,]*")


def parse_decimal(text: str | None, *, decimal_comma: bool | None = None) -> Decimal | None:
    """Read ``1.234,56``, ``1,234.56``, ``1 234,5``, ``12.5``, ``1.000`` (German thousand).

    ``decimal_comma`` says how the writer's locale separates decimals when a
    single separator is ambiguous; ``None`` treats a lone separator followed by
    exactly three digits as a thousands separator and anything else as decimal.
    """
    if text is None:
        return None
    match = _NUMBER.search(text.replace("\u2212", "-"))
    if not match:
        return None
    raw = match.group(0).strip().rstrip(".,")
    raw = re.sub(r"['\u00a0\u202f ]", "", raw)
    if not raw or raw in "+-":
        return None
    commas, dots = raw.count(","), raw.count(".")
    if commas and dots:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
    elif commas or dots:
        sep = "," if commas else "."
        if raw.count(sep) > 1:
            decimal_sep = None
        else:
            tail = raw.rsplit(sep, 1)[1]
            if decimal_comma is None:
                decimal_sep = None if len(tail) == 3 else sep
            elif decimal_comma:
                decimal_sep = "," if sep == "," else None
            else:
                decimal_sep = "." if sep == "." else None
            if decimal_sep is None and len(tail) != 3:
                decimal_sep = sep  # "12,5" can only be a decimal
    else:
        decimal_sep = None
    thousands = {",", "."} - {decimal_sep} if decimal_sep else {",", "."}
    for sep in thousands:
        raw = raw.replace(sep, "")
    if decimal_sep == ",":
        raw = raw.replace(",", ".")
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


# --- codes -----------------------------------------------------------------


def normalise_uom(text: str | None) -> str | None:
    if not text:
        return None
    return vocabulary().units.get(fold(text))


def normalise_currency(text: str | None) -> str | None:
    if not text:
        return None
    key = fold(text)
    if key in vocabulary().currencies:
        return vocabulary().currencies[key]
    for symbol in ("€", "£", "¥", "￥", "$"):
        if symbol in text:
            return vocabulary().currencies[symbol]
    return None


def normalise_country(text: str | None) -> str | None:
    if not text:
        return None
    return vocabulary().countries.get(fold(text).strip(" ,"))


# --- dates -----------------------------------------------------------------

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_CJK = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_NUMERIC = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b")
_YEAR_FIRST_SLASH = re.compile(r"\b(\d{4})[./](\d{1,2})[./](\d{1,2})\b")
_WORD = r"([^\W\d_]{3,}\.?)"
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s+(?:de\s+)?" + _WORD + r"(?:\s+(?:de\s+)?(\d{4}))?", re.I)
_MONTH_DAY = re.compile(_WORD + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b", re.I)
_NUMERIC_NO_YEAR = re.compile(r"\b(\d{1,2})[./](\d{1,2})\.?(?![./]?\d)")


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _yearless(month: int, day: int, reference: date | None) -> date | None:
    """The next such date on or after ``reference`` (the day the email was sent)."""
    if reference is None:
        return None
    candidate = _make(reference.year, month, day)
    if candidate is None or candidate < reference:
        candidate = _make(reference.year + 1, month, day)
    return candidate


def _month(word: str) -> int | None:
    return vocabulary().months.get(fold(word))


def parse_date(
    text: str | None, *, day_first: bool = True, reference: date | None = None
) -> date | None:
    """Read the first date in ``text``.

    ``day_first`` decides ``04/05/2026`` (True: 4 May; False, US: April 5);
    an impossible reading (``13/05``) is resolved either way. Year-less dates
    take the next such date after ``reference``.
    """
    if not text:
        return None
    for pattern in (_ISO, _CJK, _YEAR_FIRST_SLASH):
        if m := pattern.search(text):
            return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _NUMERIC.search(text):
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if y < 100:
            y += 2000
        day, month = (a, b) if day_first else (b, a)
        if month > 12 and day <= 12:
            day, month = month, day
        return _make(y, month, day)
    if m := _DAY_MONTH.search(text):
        month = _month(m.group(2))
        if month:
            day = int(m.group(1))
            return _make(int(m.group(3)), month, day) if m.group(3) else _yearless(month, day, reference)
    for m in _MONTH_DAY.finditer(text):
        month = _month(m.group(1))
        if month:
            day = int(m.group(2))
            return _make(int(m.group(3)), month, day) if m.group(3) else _yearless(month, day, reference)
    if m := _NUMERIC_NO_YEAR.search(text):
        a, b = int(m.group(1)), int(m.group(2))
        day, month = (a, b) if day_first else (b, a)
        if 1 <= month <= 12 and 1 <= day <= 31:
            return _yearless(month, day, reference)
    return None
