"""Amounts in several currencies and their conversion with configured rates.

An order's value is not one number: a line with a stated price is in the
order's currency, a line without one is valued at the list price in the
product's currency. ``Amounts`` keeps them apart until a ``RateTable``
converts them into one currency, and says which rate is missing when it cannot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Amounts:
    """Money per currency code; ``a + b`` adds currency by currency.

    ``Decimal(0) + amounts`` is ``amounts``, so a running total may start at zero."""

    by_currency: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, Decimal]]) -> Amounts:
        totals: dict[str, Decimal] = {}
        for currency, amount in pairs:
            totals[currency] = totals.get(currency, Decimal(0)) + amount
        return cls(MappingProxyType(totals))

    def __add__(self, other: object) -> Amounts:
        if isinstance(other, Amounts):
            return Amounts.of([*self, *other])
        if isinstance(other, (int, Decimal)) and other == 0:
            return self
        return NotImplemented

    __radd__ = __add__

    def __iter__(self) -> Iterator[tuple[str, Decimal]]:
        return iter(self.by_currency.items())

    def __bool__(self) -> bool:
        return any(amount for amount in self.by_currency.values())

    def __str__(self) -> str:
        return " + ".join(f"{amount:.2f} {currency}" for currency, amount in sorted(self)) or "0"


class MissingRate(LookupError):
    """No configured rate converts ``source`` into ``target``."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        super().__init__(f"no exchange rate {source} -> {target} is configured")


@dataclass(frozen=True, slots=True)
class RateTable:
    """``(A, B, r)`` means 1 A = r B; the inverse direction is 1 / r. Nothing else
    is assumed: in particular never 1:1 between different currencies."""

    rates: tuple[tuple[str, str, Decimal], ...] = ()

    def rate(self, source: str, target: str) -> Decimal:
        source, target = source.upper(), target.upper()
        if source == target:
            return Decimal(1)
        for a, b, r in self.rates:
            if (a.upper(), b.upper()) == (source, target):
                return r
        for a, b, r in self.rates:
            if (a.upper(), b.upper()) == (target, source) and r:
                return 1 / r
        raise MissingRate(source, target)

    def convert(self, amounts: Amounts, target: str) -> Decimal:
        """The sum of ``amounts`` in ``target``; ``MissingRate`` names the first gap."""
        return sum((amount * self.rate(currency, target) for currency, amount in sorted(amounts)), Decimal(0))
