"""Purchase-order PDFs in layouts the dev corpus does not have, for extractor tests.

Each golden case in ``tests/golden/pdf/NAME.json`` holds the data printed on
the document (``document``), the layout to print it with (``layout``) and
what the extractor must read back (``expected``, written by hand). ``render``
prints a case with reportlab, deterministically (``invariant=1``).

The layouts differ from the corpus on purpose: other languages, key/value
boxes on the right, captions above their values, a bill-to beside the
ship-to, whitespace-only tables, tables over two pages with repeated headers
and carried-forward rows, quantity and unit in one cell, line totals only,
fake-bold (overprinted) labels.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.pdfgen import canvas

GOLDEN_DIR = Path(__file__).parent / "golden" / "pdf"


# --- drawing ------------------------------------------------------------------


class Sheet:
    """A reportlab canvas addressed from the top-left corner, like pdfplumber."""

    def __init__(self, pagesize: tuple[float, float] = A4, **options: Any) -> None:
        self.buffer = io.BytesIO()
        self.width, self.height = pagesize
        self.canvas = canvas.Canvas(self.buffer, pagesize=pagesize, invariant=1, **options)

    def text(self, x: float, y: float, s: str, size: float = 9, bold: bool = False, fake_bold: bool = False,
             font: str | None = None) -> None:
        """Text whose top is at ``y`` points from the top of the page."""
        name = font or ("Helvetica-Bold" if bold else "Helvetica")
        self.canvas.setFont(name, size)
        baseline = self.height - y - size * 0.8
        self.canvas.drawString(x, baseline, s)
        if fake_bold:  # what some ERP printers do instead of a bold font
            self.canvas.drawString(x + 0.3, baseline, s)
            self.canvas.drawString(x + 0.6, baseline, s)

    def right(self, x: float, y: float, s: str, size: float = 9, bold: bool = False, font: str | None = None) -> None:
        name = font or ("Helvetica-Bold" if bold else "Helvetica")
        self.canvas.setFont(name, size)
        self.canvas.drawRightString(x, self.height - y - size * 0.8, s)

    def hline(self, x0: float, x1: float, y: float, width: float = 0.6) -> None:
        self.canvas.setLineWidth(width)
        self.canvas.line(x0, self.height - y, x1, self.height - y)

    def vline(self, x: float, y0: float, y1: float, width: float = 0.6) -> None:
        self.canvas.setLineWidth(width)
        self.canvas.line(x, self.height - y0, x, self.height - y1)

    def box(self, x0: float, y0: float, x1: float, y1: float, fill: float | None = None) -> None:
        if fill is not None:
            self.canvas.setFillGray(fill)
            self.canvas.rect(x0, self.height - y1, x1 - x0, y1 - y0, stroke=0, fill=1)
            self.canvas.setFillGray(0)
        else:
            self.canvas.setLineWidth(0.6)
            self.canvas.rect(x0, self.height - y1, x1 - x0, y1 - y0, stroke=1, fill=0)

    def new_page(self) -> None:
        self.canvas.showPage()

    def bytes(self) -> bytes:
        self.canvas.save()
        return self.buffer.getvalue()


# --- formatting ------------------------------------------------------------------


def money(value: Decimal, style: str, places: int = 2) -> str:
    """``dot``: 1,234.50  ``comma``: 1.234,50  ``space``: 1 234,50  ``plain``: 1234.50"""
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{q:f}".partition(".")
    groups = f"{int(whole):,}"
    if style == "dot":
        return f"{groups}.{frac}" if frac else groups
    if style == "comma":
        return f"{groups.replace(',', '.')},{frac}" if frac else groups.replace(",", ".")
    if style == "space":
        return f"{groups.replace(',', ' ')},{frac}" if frac else groups.replace(",", " ")
    return f"{whole}.{frac}" if frac else whole


def qty(value: Decimal, style: str) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",") if style in ("comma", "space") else text


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
           "ottobre", "novembre", "dicembre"],
}


def day_month_year(d: date, sep: str = "/") -> str:
    return f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}"


def month_day_year(d: date) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


# --- the printed data --------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    code: str | None
    description: str
    quantity: Decimal
    unit: str | None
    unit_price: Decimal
    customer_code: str | None = None

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Doc:
    po_number: str
    order_date: date
    delivery_date: date | None
    currency: str
    buyer: list[str]  # letterhead lines, the company name first
    bill_to: list[str]
    ship_to: list[str]
    vendor: list[str]
    items: list[Item]
    notes: str | None = None
    urgent: bool = False

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Doc:
        return cls(
            po_number=raw["po_number"],
            order_date=date.fromisoformat(raw["order_date"]),
            delivery_date=date.fromisoformat(raw["delivery_date"]) if raw.get("delivery_date") else None,
            currency=raw["currency"],
            buyer=raw["buyer"],
            bill_to=raw["bill_to"],
            ship_to=raw["ship_to"],
            vendor=raw["vendor"],
            items=[
                Item(i.get("code"), i["description"], Decimal(i["quantity"]), i.get("unit"), Decimal(i["unit_price"]),
                     i.get("customer_code"))
                for i in raw["items"]
            ],
            notes=raw.get("notes"),
            urgent=raw.get("urgent", False),
        )

    @property
    def net(self) -> Decimal:
        return sum((i.total for i in self.items), Decimal(0))


# --- layouts -------------------------------------------------------------------------


def es_kv_right(doc: Doc) -> bytes:
    """Spanish: letterhead left, a ruled key/value box on the right, bill-to
    left of ship-to, a fully ruled table, decimal commas, totals block."""
    s = Sheet()
    s.text(40, 40, doc.buyer[0], size=14, bold=True)
    for i, line in enumerate(doc.buyer[1:]):
        s.text(40, 60 + 11 * i, line, size=8)
    s.text(345, 38, "PEDIDO DE COMPRA", size=15, bold=True)
    s.box(340, 62, 560, 126)
    rows = [
        ("Nº de pedido:", doc.po_number),
        ("Fecha:", day_month_year(doc.order_date)),
        ("Fecha de entrega:", day_month_year(doc.delivery_date) if doc.delivery_date else "-"),
        ("Moneda:", doc.currency),
    ]
    for i, (label, value) in enumerate(rows):
        s.text(348, 68 + 14 * i, label, size=8.5, bold=True)
        s.text(450, 68 + 14 * i, value, size=8.5)
    s.text(40, 150, "Proveedor: " + ", ".join(doc.vendor), size=8)
    s.text(40, 180, "Facturar a:", size=9, bold=True)
    s.text(300, 180, "Dirección de entrega:", size=9, bold=True)
    for i, line in enumerate(doc.bill_to):
        s.text(40, 195 + 11.5 * i, line, size=9)
    for i, line in enumerate(doc.ship_to):
        s.text(300, 195 + 11.5 * i, line, size=9)
    cols = [40, 110, 300, 360, 410, 490, 560]
    heads = ["Código", "Descripción", "Cantidad", "Unidad", "Precio unitario", "Importe"]
    top, row_h = 280, 16
    y = top
    s.box(cols[0], y, cols[-1], y + row_h, fill=0.85)
    for i, head in enumerate(heads):
        s.text(cols[i] + 3, y + 4, head, size=8, bold=True)
    for item in doc.items:
        y += row_h
        s.text(cols[0] + 3, y + 4, item.code or "", size=8)
        s.text(cols[1] + 3, y + 4, item.description, size=8)
        s.right(cols[3] - 3, y + 4, qty(item.quantity, "comma"), size=8)
        s.text(cols[3] + 3, y + 4, item.unit or "", size=8)
        s.right(cols[5] - 3, y + 4, money(item.unit_price, "comma"), size=8)
        s.right(cols[6] - 3, y + 4, money(item.total, "comma"), size=8)
    bottom = y + row_h
    for yy in range(top, int(bottom) + 1, row_h):
        s.hline(cols[0], cols[-1], yy)
    for x in cols:
        s.vline(x, top, bottom)
    tax = (doc.net * Decimal("0.21")).quantize(Decimal("0.01"))
    y = bottom + 14
    for label, value in (("Base imponible", doc.net), ("IVA 21%", tax), ("Total", doc.net + tax)):
        s.text(400, y, label, size=9, bold=label == "Total")
        s.right(560, y, money(value, "comma") + " €", size=9, bold=label == "Total")
        y += 13
    if doc.notes:
        s.text(40, y + 20, "Observaciones: " + doc.notes, size=9)
    s.text(40, 800, f"{doc.buyer[0]} · Banco Sabadell · IBAN ES91 2100 0418 4502 0005 1332 · CIF B98765432", size=6.5)
    return s.bytes()


def en_two_page(doc: Doc) -> bytes:
    """US letter: whitespace table (a rule under the header only) with our and
    the customer's part numbers, $ amounts, over two pages with a repeated
    header and carried/brought-forward rows; sold-to left of ship-to."""
    s = Sheet(LETTER)
    x = {"line": 40, "ours": 70, "yours": 140, "desc": 215, "qty": 430, "price": 495, "ext": 572}

    def letterhead(page: int) -> None:
        s.text(40, 36, doc.buyer[0], size=13, bold=True)
        s.text(40, 52, " · ".join(doc.buyer[1:]), size=8)
        s.right(572, 36, "PURCHASE ORDER", size=14, bold=True)
        s.right(572, 54, f"Page {page} of 2", size=8)

    def header(y: float) -> float:
        s.text(x["line"], y, "Line", size=8, bold=True)
        s.text(x["ours"], y, "Your Item No.", size=8, bold=True)
        s.text(x["yours"], y, "Our Part No.", size=8, bold=True)
        s.text(x["desc"], y, "Description", size=8, bold=True)
        s.right(x["qty"], y, "Qty", size=8, bold=True)
        s.right(x["price"], y, "Unit Price", size=8, bold=True)
        s.right(x["ext"], y, "Ext. Price", size=8, bold=True)
        s.hline(40, 572, y + 12)
        return y + 18

    letterhead(1)
    s.text(380, 80, "P.O. #:", size=9, bold=True)
    s.text(450, 80, doc.po_number, size=9)
    s.text(380, 93, "Order Date:", size=9, bold=True)
    s.text(450, 93, month_day_year(doc.order_date), size=9)
    s.text(380, 106, "Required By:", size=9, bold=True)
    s.text(450, 106, month_day_year(doc.delivery_date) if doc.delivery_date else "", size=9)
    s.text(40, 80, "Vendor: " + ", ".join(doc.vendor), size=8)
    s.text(40, 130, "SOLD TO", size=9, bold=True)
    s.text(320, 130, "SHIP TO", size=9, bold=True)
    for i, line in enumerate(doc.bill_to):
        s.text(40, 144 + 11 * i, line, size=9)
    for i, line in enumerate(doc.ship_to):
        s.text(320, 144 + 11 * i, line, size=9)
    y = header(220)
    carried = Decimal(0)
    split = (len(doc.items) + 1) // 2 + 8
    for n, item in enumerate(doc.items, 1):
        if n == split + 1:
            s.text(x["desc"], y + 4, "Carried forward", size=8, bold=True)
            s.right(x["ext"], y + 4, "$" + money(carried, "dot"), size=8, bold=True)
            s.text(40, 750, "Please confirm this order within 2 business days.", size=7)
            s.new_page()
            letterhead(2)
            s.text(40, 80, f"P.O. # {doc.po_number} (continued)", size=9)
            y = header(110)
            s.text(x["desc"], y, "Brought forward", size=8, bold=True)
            s.right(x["ext"], y, "$" + money(carried, "dot"), size=8, bold=True)
            y += 14
        s.text(x["line"], y, str(n), size=8)
        s.text(x["ours"], y, item.code or "", size=8)
        s.text(x["yours"], y, item.customer_code or "", size=8)
        s.text(x["desc"], y, item.description, size=8)
        s.right(x["qty"], y, qty(item.quantity, "dot"), size=8)
        s.right(x["price"], y, "$" + money(item.unit_price, "dot"), size=8)
        s.right(x["ext"], y, "$" + money(item.total, "dot"), size=8)
        carried += item.total
        y += 13
    freight = Decimal("45.00")
    y += 10
    for label, value in (("Merchandise total", doc.net), ("Freight", freight), ("Sales tax", Decimal("0.00")),
                         ("Total", doc.net + freight)):
        s.text(400, y, label, size=9, bold=label == "Total")
        s.right(572, y, "$" + money(value, "dot"), size=9)
        y += 13
    if doc.notes:
        s.text(40, y + 16, "Special Instructions:", size=9, bold=True)
        s.text(40, y + 29, doc.notes, size=9)
    return s.bytes()


def nl_whitespace(doc: Doc) -> bytes:
    """Dutch: letterhead right, no rulings at all, quantity and unit in one
    cell, a description wrapping onto a second line, a SPOED stamp, the ship-to
    caption left of the bill-to caption, notes under their label."""
    s = Sheet()
    s.right(555, 40, doc.buyer[0], size=13, bold=True)
    for i, line in enumerate(doc.buyer[1:]):
        s.right(555, 58 + 10 * i, line, size=8)
    s.text(40, 40, "INKOOPORDER", size=16, bold=True)
    if doc.urgent:
        s.text(40, 64, "SPOED", size=14, bold=True)
    s.text(40, 110, "Bestelnummer:", size=9)
    s.text(140, 110, doc.po_number, size=9)
    s.text(40, 123, "Besteldatum:", size=9)
    s.text(140, 123, day_month_year(doc.order_date, "-"), size=9)
    s.text(40, 136, "Gewenste leverdatum:", size=9)
    s.text(140, 136, day_month_year(doc.delivery_date, "-") if doc.delivery_date else "", size=9)
    s.text(330, 110, "Leverancier", size=9, bold=True)
    for i, line in enumerate(doc.vendor):
        s.text(330, 123 + 11 * i, line, size=9)
    s.text(40, 190, "Afleveradres", size=9, bold=True)
    s.text(300, 190, "Factuuradres", size=9, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(40, 204 + 11 * i, line, size=9)
    for i, line in enumerate(doc.bill_to):
        s.text(300, 204 + 11 * i, line, size=9)
    y = 290
    s.text(40, y, "Artikelnummer", size=8.5, bold=True)
    s.text(120, y, "Omschrijving", size=8.5, bold=True)
    s.right(370, y, "Aantal", size=8.5, bold=True)
    s.right(450, y, "Prijs", size=8.5, bold=True)
    s.right(540, y, "Bedrag", size=8.5, bold=True)
    y += 16
    for item in doc.items:
        words = item.description.split()
        first, rest = (" ".join(words[:4]), " ".join(words[4:])) if len(item.description) > 38 else (item.description, "")
        s.text(40, y, item.code or "", size=8.5)
        s.text(120, y, first, size=8.5)
        s.right(370, y, f"{qty(item.quantity, 'comma')} {item.unit}" if item.unit else qty(item.quantity, "comma"), size=8.5)
        s.right(450, y, money(item.unit_price, "comma"), size=8.5)
        s.right(540, y, money(item.total, "comma"), size=8.5)
        y += 11
        if rest:
            s.text(120, y, rest, size=8.5)
            y += 11
        y += 3
    y += 12
    btw = (doc.net * Decimal("0.21")).quantize(Decimal("0.01"))
    for label, value in (("Subtotaal", doc.net), ("BTW 21%", btw), ("Totaal", doc.net + btw)):
        s.text(380, y, label, size=9)
        s.right(540, y, "€ " + money(value, "comma"), size=9)
        y += 12
    if doc.notes:
        s.text(40, y + 14, "Opmerkingen:", size=9, bold=True)
        s.text(40, y + 27, doc.notes, size=9)
    s.text(40, 790, "IBAN NL91 ABNA 0417 1643 00 · KvK 12345678 · BTW NL123456789B01", size=7)
    return s.bytes()


def fr_totals_only(doc: Doc) -> bytes:
    """French: captions in a ruled row with their values below, ship-to value
    right of its label with the following lines aligned to it, a table that
    prints only line totals (no unit price) and quantity with its unit."""
    s = Sheet()
    s.text(40, 36, doc.buyer[0], size=12, bold=True)
    s.text(40, 52, ", ".join(doc.buyer[1:]), size=8)
    s.right(555, 36, "BON DE COMMANDE", size=14, bold=True)
    cols = [40, 170, 300, 430, 555]
    s.box(cols[0], 80, cols[-1], 112)
    s.hline(cols[0], cols[-1], 95)
    for xx in cols[1:-1]:
        s.vline(xx, 80, 112)
    captions = ["N° de commande", "Date de commande", "Livraison souhaitée", "Devise"]
    values = [
        doc.po_number,
        f"{doc.order_date.day} {MONTHS['fr'][doc.order_date.month - 1]} {doc.order_date.year}",
        f"{doc.delivery_date.day} {MONTHS['fr'][doc.delivery_date.month - 1]} {doc.delivery_date.year}"
        if doc.delivery_date else "",
        doc.currency,
    ]
    for i, (caption, value) in enumerate(zip(captions, values, strict=True)):
        s.text(cols[i] + 4, 84, caption, size=8, bold=True)
        s.text(cols[i] + 4, 99, value, size=9)
    s.text(40, 140, "Livrer à :", size=9, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(100, 140 + 11 * i, line, size=9)
    s.text(330, 140, "Fournisseur :", size=9, bold=True)
    for i, line in enumerate(doc.vendor):
        s.text(400, 140 + 11 * i, line, size=9)
    s.text(40, 210, "Facturer à :", size=9, bold=True)
    for i, line in enumerate(doc.bill_to):
        s.text(100, 210 + 11 * i, line, size=9)
    y = 290
    s.box(40, y - 4, 555, y + 12, fill=0.9)
    s.text(44, y, "Réf.", size=8.5, bold=True)
    s.text(130, y, "Désignation", size=8.5, bold=True)
    s.right(420, y, "Qté", size=8.5, bold=True)
    s.right(550, y, "Montant HT", size=8.5, bold=True)
    y += 18
    for item in doc.items:
        s.text(44, y, item.code or "", size=8.5)
        s.text(130, y, item.description, size=8.5)
        s.right(420, y, f"{qty(item.quantity, 'space')} {item.unit}" if item.unit else qty(item.quantity, "space"), size=8.5)
        s.right(550, y, money(item.total, "space"), size=8.5)
        y += 13
    y += 10
    tva = (doc.net * Decimal("0.20")).quantize(Decimal("0.01"))
    for label, value in (("Total HT", doc.net), ("TVA 20 %", tva), ("Total TTC", doc.net + tva)):
        s.text(400, y, label, size=9, bold=True)
        s.right(550, y, money(value, "space") + " €", size=9, bold=True)
        y += 12
    s.text(40, 800, "SIRET 123 456 789 00012 – RCS Lille – IBAN FR76 3000 4000 0312 3456 7890 143", size=6.5)
    return s.bytes()


def de_fake_bold(doc: Doc, sheet: Sheet | None = None) -> bytes:
    """German: window address (vendor, unlabelled) left, key/value right with
    fake-bold labels, an EILT stamp, rows separated by horizontal rules only,
    quantity and unit in one cell, ship-to block right of the vendor window.
    Given a ``sheet``, the order is drawn on its current page (no bytes)."""
    s = sheet or Sheet()
    s.right(555, 40, doc.buyer[0], size=14, bold=True)
    s.right(555, 58, " · ".join(doc.buyer[1:]), size=8)
    s.text(60, 120, " · ".join(doc.buyer), size=6.5)
    for i, line in enumerate(doc.vendor):
        s.text(60, 135 + 12 * i, line, size=10)
    kv = [("Bestellnummer:", doc.po_number), ("Datum:", day_month_year(doc.order_date, ".")),
          ("Liefertermin:", day_month_year(doc.delivery_date, ".") if doc.delivery_date else "")]
    for i, (label, value) in enumerate(kv):
        s.text(340, 120 + 13 * i, label, size=9, fake_bold=True)
        s.text(440, 120 + 13 * i, value, size=9)
    s.text(340, 175, "Lieferanschrift:", size=9, fake_bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(340, 188 + 11 * i, line, size=9)
    if doc.urgent:
        s.text(60, 215, "EILT!", size=16, bold=True)
    s.text(60, 250, "Bestellung", size=13, bold=True)
    s.text(60, 268, "wir bestellen zu unseren Einkaufsbedingungen:", size=9)
    y = 300
    s.text(60, y, "Pos.", size=8.5, fake_bold=True)
    s.text(90, y, "Art.-Nr.", size=8.5, fake_bold=True)
    s.text(160, y, "Bezeichnung", size=8.5, fake_bold=True)
    s.right(400, y, "Menge", size=8.5)
    s.right(470, y, "Einzelpreis", size=8.5)
    s.right(550, y, "Gesamtpreis", size=8.5)
    s.hline(60, 550, y + 12)
    y += 17
    for n, item in enumerate(doc.items, 1):
        s.text(60, y, f"{n:03d}", size=8.5)
        s.text(90, y, item.code or "", size=8.5)
        s.text(160, y, item.description, size=8.5)
        s.right(400, y, f"{qty(item.quantity, 'comma')} {item.unit}" if item.unit else qty(item.quantity, "comma"), size=8.5)
        s.right(470, y, money(item.unit_price, "comma"), size=8.5)
        s.right(550, y, money(item.total, "comma"), size=8.5)
        s.hline(60, 550, y + 12, width=0.3)
        y += 16
    y += 8
    mwst = (doc.net * Decimal("0.19")).quantize(Decimal("0.01"))
    for label, value in (("Nettobetrag", doc.net), ("zzgl. 19% MwSt.", mwst), ("Gesamtbetrag", doc.net + mwst)):
        s.text(380, y, label, size=9)
        s.right(530, y, money(value, "comma"), size=9)
        s.text(534, y, "EUR", size=9)
        y += 12
    if doc.notes:
        s.text(60, y + 20, "Bemerkungen: " + doc.notes, size=9)
    s.text(60, 790, "Sitz: Bremen · Amtsgericht Bremen HRB 4711 · IBAN DE89 3704 0044 0532 0130 00", size=6.5)
    return b"" if sheet is not None else s.bytes()


def it_stacked(doc: Doc) -> bytes:
    """Italian: logo initials, captions stacked over values in a ruled grid,
    vendor / bill-to / ship-to boxes side by side, a ruled table with a
    two-line header cell, a per-line delivery date column and wrapped
    descriptions whose numbers sit vertically centred in the row."""
    s = Sheet()
    s.box(40, 28, 80, 62)
    s.text(46, 37, "".join(w[0] for w in doc.buyer[0].split()[:2]).upper(), size=16, bold=True)
    s.text(90, 32, doc.buyer[0], size=13, bold=True)
    s.text(90, 50, " - ".join(doc.buyer[1:]), size=8)
    s.right(555, 32, "ORDINE D'ACQUISTO", size=14, bold=True)
    cols = [40, 143, 246, 349, 452, 555]
    s.box(40, 80, 555, 114)
    s.hline(40, 555, 95)
    for xx in cols[1:-1]:
        s.vline(xx, 80, 114)
    captions = ["Numero ordine", "Data ordine", "Data consegna", "Valuta", "Pagamento"]
    values = [doc.po_number, day_month_year(doc.order_date),
              day_month_year(doc.delivery_date) if doc.delivery_date else "", doc.currency, "60 gg d.f.f.m."]
    for i, (caption, value) in enumerate(zip(captions, values, strict=True)):
        s.text(cols[i] + 4, 84, caption, size=7.5, bold=True)
        s.text(cols[i] + 4, 100, value, size=9)
    boxes = [(40, "Fornitore", doc.vendor), (217, "Intestatario fattura", doc.bill_to), (394, "Destinazione merce", doc.ship_to)]
    for x0, label, lines in boxes:
        s.box(x0, 130, x0 + 161, 200)
        s.text(x0 + 5, 134, label, size=8, bold=True)
        for i, line in enumerate(lines):
            s.text(x0 + 5, 148 + 11 * i, line, size=8.5)
    cols = [40, 68, 126, 300, 338, 368, 428, 488, 555]
    top = 230
    s.box(cols[0], top, cols[-1], top + 24, fill=0.88)
    heads = ["Pos.", "Codice", "Descrizione", "Q.tà", "U.M.", "Prezzo|unitario", "Importo", "Consegna"]
    for i, head in enumerate(heads):
        for k, part in enumerate(head.split("|")):
            s.text(cols[i] + 3, top + 3 + 10 * k, part, size=7.5, bold=True)
    y = top + 24
    edges = [top, y]
    for n, item in enumerate(doc.items, 1):
        words = item.description.split()
        wrapped = len(item.description) > 32
        parts = [" ".join(words[: len(words) // 2 + 1]), " ".join(words[len(words) // 2 + 1 :])] if wrapped else [item.description]
        height = 24 if wrapped else 14
        mid = y + height / 2 - 4
        for k, part in enumerate(parts):
            s.text(cols[2] + 3, y + 3 + 10 * k, part, size=8)
        s.text(cols[0] + 3, y + 3, str(n * 10), size=8)
        s.text(cols[1] + 3, y + 3, item.code or "", size=8)
        s.right(cols[4] - 3, mid, qty(item.quantity, "comma"), size=8)
        s.text(cols[4] + 3, mid, item.unit or "", size=8)
        s.right(cols[6] - 3, mid, money(item.unit_price, "comma"), size=8)
        s.right(cols[7] - 3, mid, money(item.total, "comma"), size=8)
        s.text(cols[7] + 3, mid, day_month_year(doc.delivery_date) if doc.delivery_date else "", size=8)
        y += height
        edges.append(y)
    for yy in edges:
        s.hline(cols[0], cols[-1], yy)
    for xx in cols:
        s.vline(xx, top, y)
    iva = (doc.net * Decimal("0.22")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    y += 14
    for label, value in (("Imponibile", doc.net), ("IVA 22%", iva), ("Totale ordine", doc.net + iva)):
        s.text(390, y, label, size=9, bold=label.startswith("Totale"))
        s.right(555, y, "€ " + money(value, "comma"), size=9, bold=label.startswith("Totale"))
        y += 12
    if doc.notes:
        s.text(40, y + 16, "Note: " + doc.notes, size=9)
    s.text(40, 800, "Cap. Soc. € 100.000 i.v. - P.IVA IT01234567890 - Banca Intesa IBAN IT60 X054 2811 1010 0000 0123 456",
           size=6.5)
    return s.bytes()


def en_rush_shaded(doc: Doc) -> bytes:
    """US letter: ship-to at the top left and vendor at the right, the PO number
    inside a shaded title bar, dates like 03-Dec-2026 on one key/value line, a
    RUSH stamp, a whitespace table with alternating shaded rows, quantity after
    price, the currency only in a column header, no bill-to."""
    s = Sheet(LETTER)
    s.text(40, 30, doc.buyer[0], size=15, bold=True)
    s.text(40, 50, ", ".join(doc.buyer[1:]), size=8)
    if doc.urgent:
        s.right(572, 30, "RUSH ORDER", size=16, bold=True)
    s.text(40, 80, "SHIP TO:", size=8.5, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(40, 93 + 11 * i, line, size=9)
    s.text(330, 80, "VENDOR:", size=8.5, bold=True)
    for i, line in enumerate(doc.vendor):
        s.text(330, 93 + 11 * i, line, size=9)
    s.box(40, 150, 572, 168, fill=0.85)
    s.text(46, 154, f"PURCHASE ORDER No. {doc.po_number}", size=11, bold=True)

    def erp(d: date) -> str:
        return f"{d.day:02d}-{MONTHS['en'][d.month - 1][:3]}-{d.year}"

    s.text(40, 180, f"Date: {erp(doc.order_date)}", size=9)
    s.text(190, 180, f"Delivery Date: {erp(doc.delivery_date)}" if doc.delivery_date else "", size=9)
    s.text(380, 180, "Terms: Net 30", size=9)
    s.text(480, 180, "Buyer: J. Smith", size=9)
    x = {"desc": 44, "part": 250, "price": 390, "qty": 450, "uom": 462, "amount": 568}
    y = 210
    s.text(x["desc"], y, "Description", size=8.5, bold=True)
    s.text(x["part"], y, "Part Number", size=8.5, bold=True)
    s.right(x["price"], y, "Unit Price", size=8.5, bold=True)
    s.right(x["qty"], y, "Quantity", size=8.5, bold=True)
    s.text(x["uom"], y, "UOM", size=8.5, bold=True)
    s.right(x["amount"], y, "Amount (USD)", size=8.5, bold=True)
    y += 16
    for n, item in enumerate(doc.items):
        if n % 2 == 0:
            s.box(40, y - 3, 572, y + 11, fill=0.93)
        s.text(x["desc"], y, item.description, size=8.5)
        s.text(x["part"], y, item.code or "", size=8.5)
        s.right(x["price"], y, money(item.unit_price, "dot"), size=8.5)
        s.right(x["qty"], y, qty(item.quantity, "dot"), size=8.5)
        s.text(x["uom"], y, item.unit or "", size=8.5)
        s.right(x["amount"], y, money(item.total, "dot"), size=8.5)
        y += 14
    y += 12
    for label, value in (("Subtotal", doc.net), ("Shipping & Handling", Decimal("35.00")), ("Total", doc.net + 35)):
        s.text(390, y, label, size=9, bold=label == "Total")
        s.right(568, y, "$" + money(value, "dot"), size=9, bold=label == "Total")
        y += 12
    if doc.notes:
        s.text(40, y + 14, "Remarks:", size=9, bold=True)
        s.text(90, y + 14, doc.notes, size=9)
    s.text(40, 760, "Questions? Call purchasing at (425) 555-0142 or email po@cascade-marine.example", size=7)
    return s.bytes()


class FontUnavailable(RuntimeError):
    """The layout needs a TrueType font with glyphs this machine does not have."""


_UNICODE_FONTS = {
    "Uni": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/Library/Fonts/Arial Unicode.ttf"),
    "Uni-Bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/Library/Fonts/Arial Unicode.ttf"),
}


def _unicode_fonts() -> None:
    """Register a font with Central European glyphs (ł, ś, ę) as "Uni"/"Uni-Bold"."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name, paths in _UNICODE_FONTS.items():
        if name in pdfmetrics.getRegisteredFontNames():
            continue
        path = next((p for p in paths if Path(p).is_file()), None)
        if path is None:
            raise FontUnavailable(f"no TrueType font for {name} at {paths}")
        pdfmetrics.registerFont(TTFont(name, path))


def pl_two_line_header(doc: Doc) -> bytes:
    """Polish: centred letterhead, key/value column right, the ship-to block
    under the vendor block with the bill-to beside it, a whitespace table whose
    header cells wrap onto two lines, ISO dates, decimal commas."""
    _unicode_fonts()
    base = Sheet()

    class _Sheet:  # the same drawing calls, in the Unicode font
        def __getattr__(self, name: str) -> Any:
            attr = getattr(base, name)
            if name in ("text", "right"):
                def call(*args: Any, bold: bool = False, **kw: Any) -> None:
                    attr(*args, font="Uni-Bold" if bold else "Uni", **kw)
                return call
            return attr

    s = _Sheet()
    s.text(170, 30, doc.buyer[0], size=13, bold=True)
    s.text(170, 47, ", ".join(doc.buyer[1:]), size=8)
    kv = [("Zamówienie nr:", doc.po_number), ("Data zamówienia:", doc.order_date.isoformat()),
          ("Termin dostawy:", doc.delivery_date.isoformat() if doc.delivery_date else ""), ("Waluta:", doc.currency)]
    for i, (label, value) in enumerate(kv):
        s.text(350, 80 + 12 * i, label, size=8.5, bold=True)
        s.text(450, 80 + 12 * i, value, size=8.5)
    s.text(40, 80, "Dostawca:", size=8.5, bold=True)
    for i, line in enumerate(doc.vendor):
        s.text(40, 93 + 11 * i, line, size=8.5)
    s.text(40, 160, "Adres dostawy:", size=8.5, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(40, 173 + 11 * i, line, size=8.5)
    s.text(300, 160, "Nabywca:", size=8.5, bold=True)
    for i, line in enumerate(doc.bill_to):
        s.text(300, 173 + 11 * i, line, size=8.5)
    x = {"lp": 40, "idx": 62, "name": 130, "qty": 360, "jm": 368, "price": 470, "value": 555}
    y = 250
    s.text(x["lp"], y, "Lp.", size=8, bold=True)
    s.text(x["idx"], y, "Indeks", size=8, bold=True)
    s.text(x["name"], y, "Nazwa", size=8, bold=True)
    s.text(x["name"], y + 9, "towaru", size=8, bold=True)
    s.right(x["qty"], y, "Ilość", size=8, bold=True)
    s.text(x["jm"], y, "J.m.", size=8, bold=True)
    s.right(x["price"], y, "Cena jedn.", size=8, bold=True)
    s.right(x["price"], y + 9, "netto", size=8, bold=True)
    s.right(x["value"], y, "Wartość", size=8, bold=True)
    s.right(x["value"], y + 9, "netto", size=8, bold=True)
    s.hline(40, 555, y + 20)
    y += 26
    for n, item in enumerate(doc.items, 1):
        s.text(x["lp"], y, f"{n}.", size=8.5)
        s.text(x["idx"], y, item.code or "", size=8.5)
        s.text(x["name"], y, item.description, size=8.5)
        s.right(x["qty"], y, qty(item.quantity, "comma"), size=8.5)
        s.text(x["jm"], y, item.unit or "", size=8.5)
        s.right(x["price"], y, money(item.unit_price, "space"), size=8.5)
        s.right(x["value"], y, money(item.total, "space"), size=8.5)
        y += 13
    s.hline(40, 555, y)
    y += 10
    vat = (doc.net * Decimal("0.23")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    for label, value in (("Razem netto", doc.net), ("VAT 23%", vat), ("Do zapłaty", doc.net + vat)):
        s.text(400, y, label, size=9, bold=label == "Do zapłaty")
        s.right(555, y, f"{money(value, 'space')} {doc.currency}", size=9)
        y += 12
    if doc.notes:
        s.text(40, y + 14, "Uwagi: " + doc.notes, size=9)
    s.text(40, 800, "NIP 677-00-12-345 · KRS 0000123456 · mBank 12 1140 2004 0000 3102 1234 5678", size=6.5)
    return s.bytes()


_CJK_FONT = "STSong-Light"


def zh_only(doc: Doc) -> bytes:
    """Chinese only: labels with full-width colons glued to their values, an
    urgent stamp (加急), a ruled table with Chinese headers and units, an
    extra spec column, ¥ amounts."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
    s = Sheet()
    s.text(40, 30, doc.buyer[0], size=14, font=_CJK_FONT)
    s.text(40, 50, "  ".join(doc.buyer[1:]), size=8, font=_CJK_FONT)
    s.text(250, 76, "采购订单", size=16, font=_CJK_FONT)
    if doc.urgent:
        s.text(480, 40, "加急", size=18, font=_CJK_FONT)
    s.text(40, 110, f"订单编号：{doc.po_number}", size=9, font=_CJK_FONT)
    s.text(40, 124, f"订单日期：{doc.order_date.year}年{doc.order_date.month}月{doc.order_date.day}日", size=9, font=_CJK_FONT)
    if doc.delivery_date:
        d = doc.delivery_date
        s.text(40, 138, f"交货日期：{d.year}年{d.month}月{d.day}日", size=9, font=_CJK_FONT)
    s.text(40, 152, "币种：人民币", size=9, font=_CJK_FONT)
    s.text(300, 110, "供应商：", size=9, font=_CJK_FONT)
    for i, line in enumerate(doc.vendor):
        s.text(340, 110 + 12 * i, line, size=9)
    s.text(40, 180, "收货地址：", size=9, font=_CJK_FONT)
    for i, line in enumerate(doc.ship_to):
        s.text(90, 180 + 12 * i, line, size=9, font=_CJK_FONT)
    cols = [40, 70, 140, 250, 330, 380, 420, 480, 555]
    heads = ["序号", "物料编码", "名称", "规格", "数量", "单位", "单价", "金额"]
    top = 250
    y = top
    for i, head in enumerate(heads):
        s.text(cols[i] + 3, y + 4, head, size=8.5, font=_CJK_FONT)
    for n, item in enumerate(doc.items, 1):
        y += 16
        name, _, spec = item.description.partition(" | ")
        s.text(cols[0] + 3, y + 4, str(n), size=8.5)
        s.text(cols[1] + 3, y + 4, item.code or "", size=8.5)
        s.text(cols[2] + 3, y + 4, name, size=8.5, font=_CJK_FONT)
        s.text(cols[3] + 3, y + 4, spec, size=8.5, font=_CJK_FONT)
        s.right(cols[5] - 3, y + 4, qty(item.quantity, "dot"), size=8.5)
        s.text(cols[5] + 3, y + 4, item.unit or "", size=8.5, font=_CJK_FONT)
        s.right(cols[7] - 3, y + 4, money(item.unit_price, "dot"), size=8.5)
        s.right(cols[8] - 3, y + 4, money(item.total, "dot"), size=8.5)
    bottom = y + 16
    for yy in range(top, int(bottom) + 1, 16):
        s.hline(cols[0], cols[-1], yy)
    for xx in cols:
        s.vline(xx, top, bottom)
    tax = (doc.net * Decimal("0.13")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    y = bottom + 14
    for label, value in (("合计", doc.net), ("税额", tax), ("价税合计", doc.net + tax)):
        s.text(400, y, f"{label}：", size=9, font=_CJK_FONT)
        s.right(555, y, "¥" + money(value, "dot"), size=9)
        y += 13
    if doc.notes:
        s.text(40, y + 14, f"备注：{doc.notes}", size=9, font=_CJK_FONT)
    s.text(40, 800, "开户行：中国银行深圳分行  账号：7451 2233 0098 1123", size=7, font=_CJK_FONT)
    return s.bytes()


LAYOUTS: dict[str, Callable[[Doc], bytes]] = {
    "es_kv_right": es_kv_right,
    "en_two_page": en_two_page,
    "nl_whitespace": nl_whitespace,
    "fr_totals_only": fr_totals_only,
    "de_fake_bold": de_fake_bold,
    "it_stacked": it_stacked,
    "en_rush_shaded": en_rush_shaded,
    "zh_only": zh_only,
    "pl_two_line_header": pl_two_line_header,
}


def golden_cases() -> list[str]:
    return sorted(p.stem for p in GOLDEN_DIR.glob("*.json"))


def load_case(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))


def render(case: dict[str, Any]) -> bytes:
    return LAYOUTS[case["layout"]](Doc.from_json(case["document"]))


# --- files that cannot be read ----------------------------------------------------------------


def image_only_pdf() -> bytes:
    """A 'scan': a page with a drawn picture and no text layer."""
    s = Sheet()
    c = s.canvas
    c.setFillGray(0.2)
    for i in range(30):
        c.rect(40 + (i % 6) * 85, 120 + (i // 6) * 100, 70, 8, stroke=0, fill=1)
    return s.bytes()


def encrypted_pdf() -> bytes:
    """A purchase order that needs a password to open."""
    s = Sheet(encrypt="s3cret")
    s.text(40, 40, "PURCHASE ORDER", size=14, bold=True)
    s.text(40, 70, "PO Number: 4711-ENC", size=10)
    return s.bytes()


def not_a_pdf() -> bytes:
    return b"PK\x03\x04 this is a zip archive that someone named .pdf\n" * 20


# --- randomised layouts -------------------------------------------------------------------------
#
# Many small variations of the same idea, drawn from a seed: the label words of
# six languages, four places for the header fields (key/value right or left,
# captions over values, one inline row, label|value cells, values far right),
# three ship-to/bill-to arrangements, four table styles (grid, whitespace,
# horizontal rules, shaded rows), column orders, quantity and unit together or
# apart, line totals only, currency symbols in cells, wrapped descriptions,
# tables over two pages with carried-forward rows. ``random_case`` returns the
# PDF and what must be read back, in the golden files' "expected" shape.

_R_LANG: dict[str, dict[str, Any]] = {
    "en": dict(po=["PO Number", "Purchase Order No.", "Order No.", "P.O. #", "Order Number"], od=["Order Date", "Date", "PO Date"],
               dd=["Delivery Date", "Required By", "Requested Delivery", "Need By"], cur=["Currency"],
               ship=["Ship To", "Deliver To", "Delivery Address", "Shipping Address"], bill=["Bill To", "Invoice To", "Invoice Address"],
               notes=["Notes", "Remarks", "Special Instructions"],
               cols=dict(pos=["Line", "Pos", "Item", "#"], sku=["Item No.", "Part No.", "SKU", "Product Code", "Article"],
                         desc=["Description", "Item Description", "Product"], qty=["Qty", "Quantity", "Qty Ordered"], uom=["UoM", "Unit", "U/M"],
                         price=["Unit Price", "Price", "Unit Cost", "Price Each"], total=["Amount", "Total", "Line Total", "Extended Price"]),
               totals=["Subtotal", "Total", "Order Total"], tax="Tax", title="PURCHASE ORDER",
               country={"US": "USA", "GB": "United Kingdom", "DE": "Germany"},
               units={"EA": ["EA", "pcs", "each"], "BX": ["box", "BX"], "CS": ["case", "CS", "carton"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["URGENT", "RUSH"], carried=("Carried forward", "Brought forward")),
    "de": dict(po=["Bestellnummer", "Bestell-Nr.", "Bestellung Nr."], od=["Bestelldatum", "Datum"], dd=["Liefertermin", "Lieferdatum", "Wunschtermin"],
               cur=["Währung"], ship=["Lieferanschrift", "Lieferadresse", "Warenempfänger"], bill=["Rechnungsanschrift", "Rechnungsadresse"],
               notes=["Bemerkung", "Hinweis"],
               cols=dict(pos=["Pos", "Pos."], sku=["Artikel-Nr.", "Artikelnummer", "Art.-Nr."], desc=["Bezeichnung", "Beschreibung", "Artikelbezeichnung"],
                         qty=["Menge", "Anzahl"], uom=["ME", "Einheit"], price=["Einzelpreis", "Preis", "E-Preis"], total=["Gesamtpreis", "Betrag", "Gesamt"]),
               totals=["Nettobetrag", "Zwischensumme", "Gesamtbetrag"], tax="MwSt. 19%", title="BESTELLUNG",
               country={"DE": "Deutschland", "AT": "Österreich"},
               units={"EA": ["Stk", "Stück", "St"], "BX": ["Schachtel"], "CS": ["Karton", "Krt"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["EILT", "DRINGEND"], carried=("Übertrag", "Übertrag")),
    "fr": dict(po=["N° de commande", "Numéro de commande", "Commande n°"], od=["Date de commande", "Date"], dd=["Date de livraison", "Livraison souhaitée"],
               cur=["Devise"], ship=["Adresse de livraison", "Livrer à", "Lieu de livraison"], bill=["Adresse de facturation", "Facturer à"],
               notes=["Remarques", "Observations"],
               cols=dict(pos=["Ligne", "N°"], sku=["Référence", "Réf.", "Code"], desc=["Désignation", "Description"], qty=["Qté", "Quantité"], uom=["Unité"],
                         price=["Prix unitaire", "P.U. HT", "Prix u."], total=["Montant", "Montant HT", "Total ligne"]),
               totals=["Total HT", "Montant total"], tax="TVA 20 %", title="BON DE COMMANDE", country={"FR": "France", "BE": "Belgique"},
               units={"EA": ["u", "pièce", "pce"], "BX": ["boîte"], "CS": ["carton", "colis"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["URGENT"], carried=("Report", "Report")),
    "es": dict(po=["Número de pedido", "Nº de pedido", "Pedido"], od=["Fecha de pedido", "Fecha"], dd=["Fecha de entrega"], cur=["Moneda"],
               ship=["Dirección de entrega", "Entregar en"], bill=["Dirección de facturación"], notes=["Observaciones"],
               cols=dict(pos=["Posición"], sku=["Código", "Referencia"], desc=["Descripción"], qty=["Cantidad", "Cant."], uom=["Unidad"],
                         price=["Precio unitario", "Precio"], total=["Importe"]),
               totals=["Base imponible", "Importe total"], tax="IVA 21%", title="PEDIDO DE COMPRA", country={"ES": "España"},
               units={"EA": ["ud", "uds", "pieza"], "BX": ["caja"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["URGENTE"], carried=("Suma anterior", "Suma anterior")),
    "it": dict(po=["Numero ordine", "N. ordine", "Ordine"], od=["Data ordine", "Data"], dd=["Data di consegna", "Data consegna"], cur=["Valuta"],
               ship=["Indirizzo di consegna", "Destinazione merce"], bill=["Indirizzo di fatturazione", "Intestatario fattura"],
               notes=["Note", "Osservazioni"],
               cols=dict(pos=["Riga", "Pos."], sku=["Codice", "Cod. articolo", "Articolo"], desc=["Descrizione"], qty=["Quantità", "Q.tà", "Qtà"],
                         uom=["U.M.", "Unità"], price=["Prezzo unitario", "Prezzo"], total=["Importo", "Totale riga"]),
               totals=["Imponibile", "Totale ordine"], tax="IVA 22%", title="ORDINE D'ACQUISTO", country={"IT": "Italia"},
               units={"EA": ["pz", "pezzi"], "BX": ["scatola"], "CS": ["cartone"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["URGENTE"], carried=("Riporto", "Riporto")),
    "nl": dict(po=["Bestelnummer", "Ordernummer"], od=["Besteldatum", "Orderdatum", "Datum"], dd=["Leverdatum", "Gewenste leverdatum"], cur=["Valuta"],
               ship=["Afleveradres", "Leveradres"], bill=["Factuuradres"], notes=["Opmerkingen"],
               cols=dict(pos=["Regel", "Pos"], sku=["Artikelnummer", "Artikelcode"], desc=["Omschrijving"], qty=["Aantal"], uom=["Eenheid"],
                         price=["Prijs", "Stukprijs"], total=["Bedrag", "Totaal"]),
               totals=["Subtotaal", "Totaal"], tax="BTW 21%", title="INKOOPORDER", country={"NL": "Nederland", "BE": "België"},
               units={"EA": ["st", "stuks"], "BX": ["doos"], "CS": ["karton"], "KGM": ["kg"], "MTR": ["m"]},
               urgent=["SPOED"], carried=("Transport", "Transport")),
}
_R_ADDRESSES = {  # (site, street, format of the postal line, (city, state, postal code))
    "US": [("Plant 4", "1800 Harbor Blvd", "{city}, {st} {zip}", ("Tampa", "FL", "33605")),
           ("Warehouse B", "77 Industrial Pkwy", "{city}, {st} {zip}", ("Dayton", "OH", "45404"))],
    "GB": [("Leeds Depot", "Unit 3 Ring Road", "{city} {zip}", ("Leeds", "", "LS10 1RF")),
           ("Stores", "14 Mill Lane", "{city} {zip}", ("Bristol", "", "BS11 9HX"))],
    "DE": [("Werk Nord", "Industriestraße 12", "{zip} {city}", ("Hannover", "", "30179")), ("Lager", "Am Hafen 3", "{zip} {city}", ("Kiel", "", "24103"))],
    "AT": [("Lager Süd", "Gewerbepark 7", "{zip} {city}", ("Graz", "", "8020"))],
    "FR": [("Entrepôt Est", "8 rue des Forges", "{zip} {city}", ("Metz", "", "57000")),
           ("Dépôt", "22 avenue de la Gare", "{zip} {city}", ("Rennes", "", "35000"))],
    "BE": [("Depot", "Havenlaan 5", "{zip} {city}", ("Gent", "", "9000"))],
    "ES": [("Almacén Norte", "Calle Mayor 45", "{zip} {city}", ("Zaragoza", "", "50001"))],
    "IT": [("Magazzino", "Via Milano 33", "{zip} {city}", ("Bergamo", "", "24121"))],
    "NL": [("Magazijn", "Havenweg 9", "{zip} {city}", ("Tilburg", "", "5048 AB"))],
}
_R_COMPANIES = {"en": ["Brightline Tools Inc.", "Harbor Supply Ltd", "Northgate Components Corp."],
                "de": ["Müller Technik GmbH", "Schäfer Anlagenbau AG"], "fr": ["Atelier Moreau SARL", "Durand Industrie SAS"],
                "es": ["Talleres Ruiz S.L.", "Comercial Vega S.A."], "it": ["Meccanica Conti S.r.l.", "Ferro Sud S.p.A."],
                "nl": ["Jansen Techniek B.V.", "Bakker Industrie B.V."]}
_R_UNKNOWN_HEADS = {"qty": ["Pcs", "Stuks", "Nombre"], "price": ["Each", "Tarif"], "desc": ["Goods", "Waren"],
                    "total": ["Net", "Ext."], "uom": ["Pack", "Emb."]}
_R_WORDS = ("hex bolt nut washer zinc plated steel cable tie black white nitrile glove size pallet film stretch tape "
            "brown clear hose clamp stainless drill bit sealant tube grease lubricant marker label roll").split()


def _r_date(d: date, lang: str, style: str) -> str:
    if style == "iso":
        return d.isoformat()
    if style == "us":
        return month_day_year(d)
    if style == "dot":
        return day_month_year(d, ".")
    if style == "slash":
        return day_month_year(d)
    if style == "erp":
        return f"{d.day:02d}-{MONTHS['en'][d.month - 1][:3]}-{d.year}"
    if lang == "en":
        return f"{MONTHS['en'][d.month - 1]} {d.day}, {d.year}"
    if lang in ("fr", "it"):
        return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"
    return day_month_year(d, ".")


def random_case(seed: int) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """(what was drawn, the PDF, the expected extraction) for one seed."""
    import random

    rnd = random.Random(seed)
    lang = rnd.choice(sorted(_R_LANG))
    words = _R_LANG[lang]
    country = rnd.choice(sorted(words["country"]))
    us = country == "US"
    numstyle = "dot" if lang == "en" else rnd.choice(["comma", "space"])
    dstyle = "us" if us else rnd.choice(["iso", "dot", "slash", "long"] + (["erp"] if lang == "en" else []))
    currency = {"US": "USD", "GB": "GBP"}.get(country, "EUR")
    symbol = {"USD": "$", "GBP": "£", "EUR": "€"}[currency]
    ordered = date(2026, 11, 1) + timedelta(days=rnd.randint(0, 40))
    wanted = ordered + timedelta(days=rnd.randint(5, 60))
    po = rnd.choice(["{a}{n}", "{n}", "{a}-{n}", "{a}/{y}/{n}"]).format(
        a=rnd.choice(["PO", "BE", "OA", "ZX", "N"]) + str(rnd.randint(1, 9)), n=rnd.randint(10000, 9999999), y=2026)
    company = rnd.choice(_R_COMPANIES[lang])
    site, street, postal_format, (city, state, postal) = rnd.choice(_R_ADDRESSES[country])
    postal_line = postal_format.format(city=city, st=state, zip=postal)
    ship = [f"{' '.join(company.split()[:2])} - {site}", street, postal_line, words["country"][country]]
    bill = [company, "Hauptstraße 1" if lang == "de" else "10 Main Street", postal_line, words["country"][country]]
    totals_only = rnd.random() < 0.2
    items = []
    for _ in range(rnd.choice([1, 2, 3, 5, 8, 12, 20, 30, 45])):
        unit = rnd.choice(sorted(words["units"]))
        whole = unit not in ("KGM", "MTR") or rnd.random() < 0.6 or totals_only
        quantity = Decimal(rnd.choice([1, 2, 4, 5, 10, 12, 24, 25, 50, 100, 250, 1000, 1500])) if whole else Decimal(rnd.choice(["2.5", "12.5", "0.75"]))
        price = Decimal(rnd.choice(["0.32", "1.45", "2.09", "3.60", "8.10", "12.90", "26.00", "58.86", "240.00", "1250.00"] + ([] if totals_only else ["0.041"])))
        description = " ".join(rnd.choice(_R_WORDS) for _ in range(rnd.randint(2, 7))).capitalize()
        wrapped = " ".join(rnd.choice(_R_WORDS) for _ in range(3)) if rnd.random() < 0.15 else None
        code = rnd.choice(["{A}-{n}", "{A}{n}", "{n}", "{A}/{n}"]).format(A=rnd.choice(["AX", "KL", "ZT", "QW"]), n=rnd.randint(1000, 99999))
        items.append(dict(code=code, description=description, wrapped=wrapped, quantity=quantity, unit=unit,
                          unit_text=rnd.choice(words["units"][unit]), price=price,
                          total=(quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
    table = rnd.choice(["grid", "whitespace", "hrules", "shaded"])
    qty_unit = rnd.choice(["separate", "combined", "none"])
    symbols_in_cells = rnd.random() < 0.3
    header_style = rnd.choice(["kv_right", "kv_left", "captions", "inline", "kv_grid", "kv_far"])
    block_style = rnd.choice(["captions_side", "label_left", "captions_stacked"])
    cols = ["pos", "sku", "desc", "qty", "uom", "price", "total"]
    if rnd.random() < 0.3:
        cols = ["qty", "uom", "sku", "desc", "price", "total"]
    if rnd.random() < 0.2:
        cols = ["desc", "sku", "qty", "uom", "price", "total"]
    if rnd.random() < 0.2 and "pos" in cols:
        cols.remove("pos")
    if qty_unit != "separate":
        cols.remove("uom")
    if totals_only:
        cols.remove("price")
    heads = {c: rnd.choice(words["cols"][c]) for c in cols}
    unknown_head = rnd.random() < 0.25 and [c for c in cols if c in _R_UNKNOWN_HEADS]
    if unknown_head:  # a header the vocabulary does not know: its role comes from the data
        column = rnd.choice(unknown_head)
        heads[column] = rnd.choice(_R_UNKNOWN_HEADS[column])
    notes = rnd.choice([None, "Deliver between 8 and 14", "Call before delivery"])
    urgent = rnd.random() < 0.15
    carried = rnd.random() < 0.6
    drawn = dict(seed=seed, lang=lang, country=country, numbers=numstyle, dates=dstyle, table=table, qty_unit=qty_unit,
                 totals_only=totals_only, header=header_style, blocks=block_style, heads=heads, items=len(items))

    s = Sheet(LETTER if us else A4)
    width = s.width
    s.text(40, 30, company, size=rnd.choice([12, 14, 16]), bold=True)
    s.text(40, 48, f"{bill[1]}, {bill[2]}", size=8)
    s.text(width - 220, 30, words["title"], size=14, bold=True)
    if urgent:
        s.text(width - 220, 50, rnd.choice(words["urgent"]), size=12, bold=True)
    fields = [(rnd.choice(words["po"]), po), (rnd.choice(words["od"]), _r_date(ordered, lang, dstyle)),
              (rnd.choice(words["dd"]), _r_date(wanted, lang, dstyle))]
    currency_label = rnd.random() < 0.6
    if currency_label:
        fields.append((words["cur"][0], currency))
    y = 80.0
    if header_style in ("kv_right", "kv_left"):
        x0 = width - 250 if header_style == "kv_right" else 40
        for label, value in fields:
            s.text(x0, y, label + ":", size=9, bold=rnd.random() < 0.5)
            s.text(x0 + 110, y, value, size=9)
            y += 13
        y = max(y, 80 + 13 * 4) + 10
    elif header_style in ("kv_grid", "kv_far"):
        x0 = width - 260
        for label, value in fields:
            if header_style == "kv_grid":
                s.box(x0, y - 3, x0 + 110, y + 11)
                s.box(x0 + 110, y - 3, x0 + 220, y + 11)
                s.text(x0 + 4, y, label, size=8.5, bold=True)
                s.text(x0 + 114, y, value, size=8.5)
            else:
                s.text(x0, y, label, size=8.5, bold=True)
                s.right(width - 40, y, value, size=8.5)
            y += 14
        y += 14
    elif header_style == "captions":
        cell = (width - 80) / len(fields)
        ruled = rnd.random() < 0.5
        if ruled:
            s.box(40, y - 3, width - 40, y + 28)
        for i, (label, value) in enumerate(fields):
            s.text(40 + i * cell + 4, y, label, size=8, bold=True)
            s.text(40 + i * cell + 4, y + 14, value, size=9)
            if ruled and i:
                s.vline(40 + i * cell, y - 3, y + 28)
        y += 45
    else:
        x = 40.0
        for label, value in fields:
            text = f"{label}: {value}"
            s.text(x, y, text, size=9)
            x += len(text) * 4.6 + 20
            if x > width - 150:
                x = 40
                y += 13
        y += 25
    blocks = [(rnd.choice(words["bill"]), bill), (rnd.choice(words["ship"]), ship)]
    if rnd.random() < 0.5:
        blocks.reverse()
    if block_style == "captions_side":
        for k, (label, lines) in enumerate(blocks):
            x = 40 + k * (width - 80) / 2
            s.text(x, y, label, size=9, bold=True)
            for i, line in enumerate(lines):
                s.text(x, y + 14 + 11 * i, line, size=9)
        y += 14 + 11 * 4 + 20
    else:
        for label, lines in blocks:
            left = block_style == "label_left"
            s.text(40, y, label + (":" if left else ""), size=9, bold=True)
            for i, line in enumerate(lines):
                s.text(150 if left else 40, y + (0 if left else 13) + 11 * i, line, size=9)
            y += 11 * 4 + (16 if left else 31)
    widths = dict(pos=45, sku=70, desc=200, qty=70 if qty_unit == "combined" else 50, uom=40, price=65, total=70)
    scale = (width - 80) / sum(widths[c] for c in cols)
    xs = [40.0]
    for c in cols:
        xs.append(xs[-1] + widths[c] * scale)
    right_aligned = {"qty", "price", "total"}

    def header(at: float) -> float:
        if table in ("grid", "shaded"):
            s.box(40, at - 3, width - 40, at + 11, fill=0.85)
        for c, x0, x1 in zip(cols, xs, xs[1:], strict=False):
            if c in right_aligned:
                s.right(x1 - 4, at, heads[c], size=8, bold=True)
            else:
                s.text(x0 + 4, at, heads[c], size=8, bold=True)
        if table in ("hrules", "whitespace"):
            s.hline(40, width - 40, at + 12)
        return at + 17

    def cell_text(n: int, item: dict[str, Any], c: str) -> str:
        if c == "pos":
            return str(n + 1)
        if c == "sku":
            return item["code"]
        if c == "desc":
            return item["description"]
        if c == "qty":
            q = f"{int(item['quantity']):,}" if numstyle == "dot" and item["quantity"] >= 1000 else qty(item["quantity"], numstyle)
            return f"{q} {item['unit_text']}" if qty_unit == "combined" else q
        if c == "uom":
            return item["unit_text"]
        prefix = symbol + " " if symbols_in_cells else ""
        if c == "price":
            return prefix + money(item["price"], numstyle, places=3 if item["price"] == Decimal("0.041") else 2)
        return prefix + money(item["total"], numstyle)

    y = header(y + 10)
    top = y - 20
    bottom = s.height - 80
    for n, item in enumerate(items):
        if y > bottom:
            if table == "grid":
                for x in xs:
                    s.vline(x, top, y - 3)
            subtotal = sum((i["total"] for i in items[:n]), Decimal(0))
            if carried:
                s.text(xs[cols.index("desc")] + 4, y, words["carried"][0], size=8, bold=True)
                s.right(width - 44, y, money(subtotal, numstyle), size=8)
            s.right(width - 40, s.height - 30, "Page 1 of 2", size=7)
            s.new_page()
            y = header(60)
            top = y - 20
            if carried:
                s.text(xs[cols.index("desc")] + 4, y, words["carried"][1], size=8, bold=True)
                s.right(width - 44, y, money(subtotal, numstyle), size=8)
                y += 14
        if table == "shaded" and n % 2:
            s.box(40, y - 3, width - 40, y + 10, fill=0.93)
        for c, x0, x1 in zip(cols, xs, xs[1:], strict=False):
            text = cell_text(n, item, c)
            if c in right_aligned:
                s.right(x1 - 4, y, text, size=8)
            else:
                s.text(x0 + 4, y, text, size=8)
        if item["wrapped"]:
            y += 10
            s.text(xs[cols.index("desc")] + 4, y, item["wrapped"], size=8)
        if table in ("grid", "hrules"):
            s.hline(40, width - 40, y + 11, width=0.3)
        y += 14
    if table == "grid":
        for x in xs:
            s.vline(x, top, y - 3)
    net = sum((i["total"] for i in items), Decimal(0))
    y += 12
    if y > bottom - 60:
        s.new_page()
        y = 60
    totals = rnd.random() < 0.85
    if totals:
        s.text(width - 230, y, rnd.choice(words["totals"]), size=9, bold=True)
        s.right(width - 44, y, f"{money(net, numstyle)} {currency}" if rnd.random() < 0.5 else symbol + money(net, numstyle), size=9)
        y += 13
        if rnd.random() < 0.5:
            s.text(width - 230, y, words["tax"], size=9)
            s.right(width - 44, y, money(net * Decimal("0.2"), numstyle), size=9)
            y += 13
    if notes:
        s.text(40, y + 20, rnd.choice(words["notes"]) + ": " + notes, size=9)
    s.text(40, s.height - 40, "IBAN DE89 3704 0044 0532 0130 00 · Tel. +49 40 123456", size=6.5)
    expected = dict(
        po_number=po, order_date=ordered.isoformat(), delivery_date=wanted.isoformat(),
        currency=currency if (currency_label or symbols_in_cells or totals) else None,
        ship_to=dict(name=ship[0], street=street, postal_code=postal, city=city, country=country),
        urgent=urgent, notes=notes,
        lines=[dict(codes=[i["code"]], customer_sku=None, quantity=str(i["quantity"]),
                    uom=None if qty_unit == "none" else i["unit"], unit_price=str(i["price"])) for i in items],
    )
    return drawn, s.bytes(), expected



def two_orders_in_one_file() -> bytes:
    """Two purchase orders printed one after the other into one PDF (a batch print)."""
    raw = load_case("de_fake_bold")["document"]
    second = {**raw, "po_number": "4500871999", "urgent": False, "notes": None,
              "items": [{"code": "HW-777-01", "description": "Ringschlüssel 13 mm", "quantity": "3", "unit": "Stk",
                         "unit_price": "9.90"}]}
    sheet = Sheet()
    de_fake_bold(Doc.from_json(raw), sheet)
    sheet.new_page()
    de_fake_bold(Doc.from_json(second), sheet)
    return sheet.bytes()
