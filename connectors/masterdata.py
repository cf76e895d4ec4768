"""Master data: customers, their ship-to addresses, products and part-number cross-references.

The default source is a folder of the CSV files of FORMATS.md section 1. It is
read and indexed once per run; a missing column or a bad row stops the load
with the file, line and column named.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol, TypeVar

from bot.errors import MasterDataError

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    email_domains: tuple[str, ...]
    currency: str
    credit_status: str  # "ok" or "hold"
    credit_limit: Decimal | None

    @property
    def on_hold(self) -> bool:
        return self.credit_status == "hold"


@dataclass(frozen=True, slots=True)
class KnownAddress:
    customer_id: str
    address_id: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    description: str
    uom: str
    pack_size: Decimal | None
    unit_price: Decimal
    currency: str
    stock: int
    hs_code: str | None = None  # customs tariff number; optional hs_code column of products.csv


class MasterData(Protocol):
    """The look-ups the pipeline needs; a SQL-backed source implements the same."""

    def customer(self, customer_id: str) -> Customer | None: ...
    def customers(self) -> tuple[Customer, ...]: ...
    def customer_by_domain(self, domain: str) -> Customer | None: ...
    def addresses(self, customer_id: str) -> tuple[KnownAddress, ...]: ...
    def product(self, sku: str) -> Product | None: ...
    def products(self) -> tuple[Product, ...]: ...
    def cross_reference(self, customer_id: str, customer_sku: str) -> str | None: ...
    def customer_skus(self, customer_id: str, sku: str) -> tuple[str, ...]: ...


def _norm_key(text: str) -> str:
    return " ".join(text.split()).upper()


@dataclass(frozen=True)
class CsvMasterData:
    """Master data indexed in memory from the CSV folder."""

    directory: Path
    _customers: Mapping[str, Customer]
    _by_domain: Mapping[str, Customer]
    _addresses: Mapping[str, tuple[KnownAddress, ...]]
    _products: Mapping[str, Product]
    _xref: Mapping[tuple[str, str], str]
    _reverse_xref: Mapping[tuple[str, str], tuple[str, ...]]

    @classmethod
    def load(cls, directory: Path | str) -> CsvMasterData:
        directory = Path(directory)
        if not directory.is_dir():
            raise MasterDataError("master-data folder does not exist", path=str(directory))
        customers = {c.customer_id: c for c in _read(directory / "customers.csv", _customer)}
        by_domain: dict[str, Customer] = {}
        for c in customers.values():
            for domain in c.email_domains:
                by_domain[domain] = c
        addresses: dict[str, list[KnownAddress]] = {}
        for a in _read(directory / "addresses.csv", _address):
            addresses.setdefault(a.customer_id, []).append(a)
        products = {p.sku.upper(): p for p in _read(directory / "products.csv", _product)}
        xref: dict[tuple[str, str], str] = {}
        reverse: dict[tuple[str, str], list[str]] = {}
        for customer_id, customer_sku, sku in _read(directory / "customer_items.csv", _item):
            xref[(customer_id, _norm_key(customer_sku))] = sku
            reverse.setdefault((customer_id, sku.upper()), []).append(customer_sku)
        return cls(
            directory,
            customers,
            by_domain,
            {k: tuple(v) for k, v in addresses.items()},
            products,
            xref,
            {k: tuple(v) for k, v in reverse.items()},
        )

    def customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def customers(self) -> tuple[Customer, ...]:
        return tuple(self._customers.values())

    def customer_by_domain(self, domain: str) -> Customer | None:
        domain = domain.lower().strip(".")
        while domain:
            if found := self._by_domain.get(domain):
                return found
            # mail.nordwind.de belongs to nordwind.de
            _, _, domain = domain.partition(".")
            if "." not in domain:
                return None
        return None

    def addresses(self, customer_id: str) -> tuple[KnownAddress, ...]:
        return self._addresses.get(customer_id, ())

    def product(self, sku: str) -> Product | None:
        return self._products.get(sku.strip().upper())

    def products(self) -> tuple[Product, ...]:
        return tuple(self._products.values())

    def cross_reference(self, customer_id: str, customer_sku: str) -> str | None:
        return self._xref.get((customer_id, _norm_key(customer_sku)))

    def customer_skus(self, customer_id: str, sku: str) -> tuple[str, ...]:
        return self._reverse_xref.get((customer_id, sku.upper()), ())


# --- CSV reading -----------------------------------------------------------


class _Row:
    """One CSV row with its file and line, so every problem can say where it is."""

    def __init__(self, path: Path, line: int, values: Mapping[str, str | None]) -> None:
        self.path, self.line, self.values = path, line, values

    def error(self, column: str, problem: str) -> MasterDataError:
        return MasterDataError(problem, path=str(self.path), line=self.line, column=column)

    def text(self, column: str, *, required: bool = True) -> str:
        value = (self.values.get(column) or "").strip()
        if required and not value:
            raise self.error(column, "value is empty")
        return value

    def decimal(self, column: str, *, required: bool = True) -> Decimal | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(column, f"{value!r} is not a decimal number (use '.' for decimals)") from None
        if not number.is_finite() or number < 0:
            raise self.error(column, f"{value!r} must be a non-negative number")
        return number

    def integer(self, column: str) -> int:
        value = self.text(column)
        try:
            return int(value)
        except ValueError:
            raise self.error(column, f"{value!r} is not a whole number") from None


def _read(path: Path, build: Callable[[_Row], R]) -> Iterator[R]:
    columns = _REQUIRED[path.name]
    if not path.is_file():
        raise MasterDataError("file is missing", path=str(path))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in columns if c not in header]
            if missing:
                raise MasterDataError(
                    f"missing column(s) {', '.join(missing)}; header is {', '.join(header) or 'empty'}",
                    path=str(path),
                    line=1,
                )
            reader.fieldnames = header
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise MasterDataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from exc
    except csv.Error as exc:
        raise MasterDataError(f"not valid CSV: {exc}", path=str(path)) from exc
    line = 1
    for values in rows:
        line += 1
        if not any((v or "").strip() for k, v in values.items() if k is not None):
            continue
        if None in values:
            raise MasterDataError("row has more fields than the header", path=str(path), line=line)
        yield build(_Row(path, line, values))


def _customer(row: _Row) -> Customer:
    status = row.text("credit_status").lower()
    if status not in ("ok", "hold"):
        raise row.error("credit_status", f"{status!r} is neither 'ok' nor 'hold'")
    domains = tuple(d.strip().lower() for d in row.text("email_domains", required=False).split(";") if d.strip())
    return Customer(
        customer_id=row.text("customer_id"),
        name=row.text("name"),
        email_domains=domains,
        currency=row.text("currency").upper(),
        credit_status=status,
        credit_limit=row.decimal("credit_limit", required=False),
    )


def _address(row: _Row) -> KnownAddress:
    return KnownAddress(
        customer_id=row.text("customer_id"),
        address_id=row.text("address_id"),
        name=row.text("name"),
        street=row.text("street"),
        postal_code=row.text("postal_code", required=False),
        city=row.text("city"),
        country=row.text("country").upper(),
    )


def _product(row: _Row) -> Product:
    return Product(
        sku=row.text("sku"),
        description=row.text("description"),
        uom=row.text("uom").upper(),
        pack_size=row.decimal("pack_size", required=False),
        unit_price=row.decimal("unit_price"),  # type: ignore[arg-type]
        currency=row.text("currency").upper(),
        stock=row.integer("stock"),
        hs_code=row.text("hs_code", required=False) or None,  # the column is optional
    )


def _item(row: _Row) -> tuple[str, str, str]:
    return row.text("customer_id"), row.text("customer_sku"), row.text("sku")


_REQUIRED = {
    "customers.csv": ("customer_id", "name", "email_domains", "currency", "credit_status", "credit_limit"),
    "addresses.csv": ("customer_id", "address_id", "name", "street", "postal_code", "city", "country"),
    "products.csv": ("sku", "description", "uom", "pack_size", "unit_price", "currency", "stock"),
    "customer_items.csv": ("customer_id", "customer_sku", "sku"),
}
