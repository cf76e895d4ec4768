"""SQLite storage of the portal: schema, master-data loading, orders."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email_domains TEXT, currency TEXT,
    credit_status TEXT, credit_limit TEXT);
CREATE TABLE IF NOT EXISTS addresses (
    address_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, name TEXT NOT NULL, street TEXT,
    postal_code TEXT, city TEXT, country TEXT);
CREATE TABLE IF NOT EXISTS products (
    sku TEXT PRIMARY KEY, description TEXT NOT NULL, uom TEXT, pack_size TEXT,
    unit_price TEXT NOT NULL, currency TEXT, stock TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_number TEXT PRIMARY KEY, seq INTEGER NOT NULL, customer_no TEXT NOT NULL,
    customer_ref TEXT NOT NULL, customer_ref_key TEXT NOT NULL, requested_date TEXT,
    ship_method TEXT NOT NULL, rush INTEGER NOT NULL, ship_to TEXT NOT NULL,
    ship_to_text TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    form_token TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS orders_ref ON orders (customer_ref_key);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_no);
CREATE TABLE IF NOT EXISTS order_lines (
    order_number TEXT NOT NULL REFERENCES orders (order_number) ON DELETE CASCADE,
    pos INTEGER NOT NULL, item TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL,
    PRIMARY KEY (order_number, pos));
INSERT OR IGNORE INTO counters (name, value) VALUES ('order', 0);
"""

MASTER_TABLES = {
    "customers": ("customers.csv", ["customer_id", "name", "email_domains", "currency", "credit_status", "credit_limit"]),
    "addresses": ("addresses.csv", ["address_id", "customer_id", "name", "street", "postal_code", "city", "country"]),
    "products": ("products.csv", ["sku", "description", "uom", "pack_size", "unit_price", "currency", "stock"]),
}


@dataclass(frozen=True)
class NewLine:
    pos: int
    item: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class NewOrder:
    customer_no: str
    customer_ref: str
    requested_date: str | None  # ISO
    ship_method: str
    rush: bool
    ship_to: str
    ship_to_text: str
    created_by: str
    form_token: str
    lines: list[NewLine]


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One short-lived connection; autocommit mode, transactions are explicit."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        yield conn
    finally:
        conn.close()


def initialise(path: Path, master_data: Path) -> None:
    """Create the schema and (re)load the master data; orders and the order sequence are kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, (filename, columns) in MASTER_TABLES.items():
                with (master_data / filename).open(newline="", encoding="utf-8") as fh:
                    rows = [[(row.get(c) or "").strip() for c in columns] for row in csv.DictReader(fh)]
                conn.execute(f"DELETE FROM {table}")
                marks = ", ".join("?" for _ in columns)
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def address_text(row: sqlite3.Row) -> str:
    return f"{row['name']}, {row['street']}, {row['postal_code']} {row['city']}, {row['country']}"


def customer(conn: sqlite3.Connection, customer_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()


def customers(conn: sqlite3.Connection, name_filter: str = "") -> list[sqlite3.Row]:
    """Customers with the city of their first address, optionally filtered by a part of the name."""
    sql = """SELECT c.customer_id, c.name,
                    (SELECT city FROM addresses a WHERE a.customer_id = c.customer_id
                     ORDER BY address_id LIMIT 1) AS city
             FROM customers c ORDER BY c.customer_id"""
    rows = conn.execute(sql).fetchall()
    needle = name_filter.strip().casefold()
    return [r for r in rows if needle in r["name"].casefold()] if needle else rows


def addresses(conn: sqlite3.Connection, customer_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM addresses WHERE customer_id = ? ORDER BY address_id", (customer_id,)
    ).fetchall()


def products(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {r["sku"]: r for r in conn.execute("SELECT * FROM products ORDER BY sku")}


def order_for_token(conn: sqlite3.Connection, form_token: str) -> str | None:
    row = conn.execute("SELECT order_number FROM orders WHERE form_token = ?", (form_token,)).fetchone()
    return row["order_number"] if row else None


def insert_order(conn: sqlite3.Connection, order: NewOrder, prefix: str) -> tuple[str, bool]:
    """Insert the order and its lines in one transaction.

    Returns (order number, created); a form token already used returns that order, not a new one.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        existing = order_for_token(conn, order.form_token)
        if existing:
            conn.execute("ROLLBACK")
            return existing, False
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'order'")
        seq = conn.execute("SELECT value FROM counters WHERE name = 'order'").fetchone()[0]
        number = f"{prefix}{seq:06d}"
        conn.execute(
            """INSERT INTO orders (order_number, seq, customer_no, customer_ref, customer_ref_key,
                   requested_date, ship_method, rush, ship_to, ship_to_text, created_at, created_by,
                   form_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (number, seq, order.customer_no, order.customer_ref, ref_key(order.customer_ref),
             order.requested_date, order.ship_method, int(order.rush), order.ship_to,
             order.ship_to_text, datetime.now().isoformat(timespec="seconds"), order.created_by,
             order.form_token),
        )
        conn.executemany(
            "INSERT INTO order_lines (order_number, pos, item, quantity, unit_price) VALUES (?, ?, ?, ?, ?)",
            [(number, ln.pos, ln.item, str(ln.quantity), str(ln.unit_price)) for ln in order.lines],
        )
        conn.execute("COMMIT")
        return number, True
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def ref_key(customer_ref: str) -> str:
    return customer_ref.strip().casefold()


def order(conn: sqlite3.Connection, number: str) -> sqlite3.Row | None:
    return conn.execute(
        """SELECT o.*, c.name AS customer_name FROM orders o
           LEFT JOIN customers c ON c.customer_id = o.customer_no WHERE o.order_number = ?""",
        (number,),
    ).fetchone()


def order_lines(conn: sqlite3.Connection, number: str) -> list[sqlite3.Row]:
    return conn.execute(
        """SELECT l.*, p.description, p.uom FROM order_lines l
           LEFT JOIN products p ON p.sku = l.item WHERE l.order_number = ? ORDER BY l.pos""",
        (number,),
    ).fetchall()


def search_orders(conn: sqlite3.Connection, customer_no: str, customer_ref: str, limit: int = 200) -> list[sqlite3.Row]:
    where, params = [], []
    if customer_no:
        where.append("customer_no = ?")
        params.append(customer_no)
    if customer_ref.strip():
        where.append("customer_ref_key = ?")
        params.append(ref_key(customer_ref))
    sql = "SELECT * FROM orders" + (" WHERE " + " AND ".join(where) if where else "")
    return conn.execute(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()


def all_orders(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM orders ORDER BY seq").fetchall()


def reset_orders(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM order_lines")
    conn.execute("DELETE FROM orders")
    conn.execute("UPDATE counters SET value = 0 WHERE name = 'order'")
    conn.execute("COMMIT")
