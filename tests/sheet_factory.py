"""Deterministic CSV and XLSX purchase orders for the spreadsheet golden files.

Each case is a function returning a :class:`SheetCase`: the sheet's cells,
how it is written (CSV dialect and encoding, or XLSX sheets) and the
extraction a person would key from it (the FORMATS.md keys of
``bot.extraction_json.order_to_json``, restricted to po_number, order_date,
delivery_date, currency, ship_to and the lines' quantity, uom, unit_price,
codes and customer_sku; compared by ``tests.test_pdf_extractor.mismatches``).

Regenerate the committed files with ``python -m tests.sheet_factory``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).parent / "golden" / "sheet"

Rows = list[list[Any]]


@dataclass
class SheetCase:
    name: str
    about: str
    kind: str  # "csv" | "xlsx"
    expected: dict[str, Any]
    rows: Rows = field(default_factory=list)  # CSV: the one grid
    sheets: list[tuple[str, Rows]] = field(default_factory=list)  # XLSX: (title, grid) per sheet
    delimiter: str = ","
    encoding: str = "utf-8"

    @property
    def file_name(self) -> str:
        return f"{self.name}.{self.kind}"


def line(code: str | None, quantity: str, uom: str | None, price: str, customer_sku: str | None = None) -> dict[str, Any]:
    return {
        "codes": [c for c in (code,) if c],
        "customer_sku": customer_sku,
        "quantity": quantity,
        "uom": uom,
        "unit_price": price,
    }


def address(name: str | None, street: str | None, postal: str | None, city: str | None, country: str | None = None) -> dict[str, Any]:
    return {"name": name, "street": street, "postal_code": postal, "city": city, "country": country}


def expected(po: str | None, ordered: str | None, wanted: str | None, currency: str | None,
             ship_to: dict[str, Any] | None, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "po_number": po,
        "order_date": ordered,
        "delivery_date": wanted,
        "currency": currency,
        "ship_to": ship_to,
        "lines": lines,
    }


# --- the cases ------------------------------------------------------------------------------


def en_comma() -> SheetCase:
    rows = [
        ["Purchase Order", "", "", "", ""],
        ["PO Number", "PO-77120", "", "", ""],
        ["Order Date", "2026-11-24", "", "", ""],
        ["Delivery Date", "2026-12-04", "", "", ""],
        ["Currency", "GBP", "", "", ""],
        ["", "", "", "", ""],
        ["Item Code", "Description", "Qty", "Unit Price", "Line Total"],
        ["HX-4410", "Nitrile gloves, size L", "40", "3.85", "154.00"],
        ["HX-2031", "Safety glasses, clear", "12", "4.20", "50.40"],
        ["HX-9902", "Ear plugs, box of 200", "3", "18.75", "56.25"],
    ]
    return SheetCase(
        "en_comma", "English CSV, comma-separated, key/value rows above the table, ISO dates.", "csv",
        expected("PO-77120", "2026-11-24", "2026-12-04", "GBP", None, [
            line("HX-4410", "40", None, "3.85"),
            line("HX-2031", "12", None, "4.20"),
            line("HX-9902", "3", None, "18.75"),
        ]),
        rows=rows,
    )


def de_semicolon_cp1252() -> SheetCase:
    rows = [
        ["Bestellnummer", "4500913377", "", "", "", ""],
        ["Bestelldatum", "24.11.2026", "", "", "", ""],
        ["Liefertermin", "09.12.2026", "", "", "", ""],
        ["Währung", "EUR", "", "", "", ""],
        ["", "", "", "", "", ""],
        ["Artikel-Nr.", "Bezeichnung", "Menge", "ME", "Einzelpreis", "Gesamtpreis"],
        ["SW-0815", "Schweißdraht Ø 1,0 mm", "15", "kg", "6,35", "95,25"],
        ["DI-2201", "Dichtungsring 40x3", "1.500", "Stk", "0,085", "127,50"],
        ["FL-3300", "Flanschplatte größe 2", "8", "Stk", "42,90", "343,20"],
    ]
    return SheetCase(
        "de_semicolon_cp1252",
        "German CSV: cp1252 (ß, ö, Ø), ';', decimal commas, a thousands dot in a quantity, unit column.", "csv",
        expected("4500913377", "2026-11-24", "2026-12-09", "EUR", None, [
            line("SW-0815", "15", "KGM", "6.35"),
            line("DI-2201", "1500", "EA", "0.085"),
            line("FL-3300", "8", "EA", "42.90"),
        ]),
        rows=rows, delimiter=";", encoding="cp1252",
    )


def fr_tab() -> SheetCase:
    rows = [
        ["N° de commande", "CMD-26-4410", "", "", ""],
        ["Date de commande", "25/11/2026", "", "", ""],
        ["Date de livraison", "10/12/2026", "", "", ""],
        ["Devise", "EUR", "", "", ""],
        ["", "", "", "", ""],
        ["Référence", "Désignation", "Quantité", "Prix unitaire", "Montant HT"],
        ["BT-100", "Boulon tête hexagonale M10", "200", "0,42", "84,00"],
        ["EC-220", "Écrou frein M10", "200", "0,18", "36,00"],
        ["RD-050", "Rondelle plate 10 mm", "400", "0,05", "20,00"],
    ]
    return SheetCase(
        "fr_tab", "French CSV, tab-delimited, day/month/year dates, decimal commas.", "csv",
        expected("CMD-26-4410", "2026-11-25", "2026-12-10", "EUR", None, [
            line("BT-100", "200", None, "0.42"),
            line("EC-220", "200", None, "0.18"),
            line("RD-050", "400", None, "0.05"),
        ]),
        rows=rows, delimiter="\t",
    )


def xlsx_kv_row6() -> SheetCase:
    rows = [
        ["PO number", "4711-2026-118", None, None, None],
        ["Delivery date", datetime(2026, 12, 7), None, None, None],
        ["Ship to", "Northgate Fabrication Ltd", None, None, None],
        [None, "Unit 4, Riverside Park", None, None, None],
        [None, "Leeds LS10 1AB", None, None, None],
        ["Part No", "Description", "Quantity", "Unit Price", "Total"],
        ["NG-3341", "Hex bolt M12x60", 150, 0.36, 54],
        ["NG-3342", "Hex nut M12", 150, 0.09, 13.5],
        ["NG-5120", "Cutting disc 125mm", 25, 1.95, 48.75],
    ]
    return SheetCase(
        "xlsx_kv_row6",
        "XLSX: key/value cells (PO number, Delivery date, Ship to with the address in the rows below) and the header on row 6.",
        "xlsx",
        expected("4711-2026-118", None, "2026-12-07", None,
                 address("Northgate Fabrication Ltd", "Unit 4, Riverside Park", "LS10 1AB", "Leeds"), [
                     line("NG-3341", "150", None, "0.36"),
                     line("NG-3342", "150", None, "0.09"),
                     line("NG-5120", "25", None, "1.95"),
                 ]),
        sheets=[("Order", rows)],
    )


def xlsx_excel_dates() -> SheetCase:
    rows = [
        ["Purchase Order", None, None, None, None, None],
        ["PO Number", 880412, None, "Order Date", datetime(2026, 11, 26), None],
        ["Currency", "USD", None, "Required Date", datetime(2026, 12, 15), None],
        [None, None, None, None, None, None],
        ["SKU", "Description", "Qty", "UOM", "Unit Price", "Amount"],
        ["PL-1001", "Pallet wrap 23in", 6, "PK", 5.9, 35.4],
        ["PL-2040", "Corner board 36in", 120, "EA", 0.35, 42],
        ["PL-3300", "Strapping buckles", 2, "BX", 12.15, 24.3],
    ]
    return SheetCase(
        "xlsx_excel_dates",
        "XLSX with Excel date cells, a numeric PO cell and float prices (5.9, 0.35, 12.15).", "xlsx",
        expected("880412", "2026-11-26", "2026-12-15", "USD", None, [
            line("PL-1001", "6", "PK", "5.9"),
            line("PL-2040", "120", "EA", "0.35"),
            line("PL-3300", "2", "BX", "12.15"),
        ]),
        sheets=[("PO", rows)],
    )


def xlsx_two_sheets() -> SheetCase:
    cover = [
        ["Bestellung an Kestrel Industrial Supply GmbH"],
        ["Bitte Auftragsbestätigung an einkauf@example.de"],
        [None],
        ["Lieferbedingungen: DAP, Zahlungsziel 30 Tage netto"],
    ]
    table = [
        ["Bestellnummer", "BE-26-0931", None, None, None],
        ["Liefertermin", datetime(2026, 12, 11), None, None, None],
        [None, None, None, None, None],
        ["Artikelnummer", "Bezeichnung", "Menge", "Einheit", "Preis"],
        ["KS-2040", "Kugellager 6204 2RS", 20, "Stk", 3.4],
        ["KS-2060", "Kugellager 6206 2RS", 10, "Stk", 4.95],
        ["KS-9000", "Wälzlagerfett 1 kg", 2, "kg", 14.5],
    ]
    return SheetCase(
        "xlsx_two_sheets", "XLSX with a cover sheet of text and the order on the second sheet.", "xlsx",
        expected("BE-26-0931", None, "2026-12-11", None, None, [
            line("KS-2040", "20", "EA", "3.40"),
            line("KS-2060", "10", "EA", "4.95"),
            line("KS-9000", "2", "KGM", "14.50"),
        ]),
        sheets=[("Hinweise", cover), ("Bestellung", table)],
    )


def en_totals_vat() -> SheetCase:
    rows = [
        ["PO Number", "PO-55031", "", "", ""],
        ["Order Date", "2026-11-23", "", "", ""],
        ["Currency", "EUR", "", "", ""],
        ["", "", "", "", ""],
        ["Product Code", "Description", "Quantity", "Unit Price", "Total"],
        ["CB-110", "Cable tie 200x4.8 black", "50", "2.40", "120.00"],
        ["CB-115", "Cable tie 300x4.8 black", "20", "3.10", "62.00"],
        ["SL-020", "Heat shrink sleeve 20mm", "10", "1.25", "12.50"],
        ["Subtotal", "", "", "", "194.50"],
        ["VAT 20%", "", "", "", "38.90"],
        ["Total", "", "", "", "233.40"],
    ]
    return SheetCase(
        "en_totals_vat", "English CSV ending in subtotal, VAT and total rows, none of which are lines.", "csv",
        expected("PO-55031", "2026-11-23", None, "EUR", None, [
            line("CB-110", "50", None, "2.40"),
            line("CB-115", "20", None, "3.10"),
            line("SL-020", "10", None, "1.25"),
        ]),
        rows=rows,
    )


def es_headers() -> SheetCase:
    rows = [
        ["Número de pedido", "PED-2026-0712", "", "", "", ""],
        ["Fecha de pedido", "24/11/2026", "", "", "", ""],
        ["Fecha de entrega", "05/12/2026", "", "", "", ""],
        ["", "", "", "", "", ""],
        ["Código", "Descripción", "Cantidad", "Unidad", "Precio unitario", "Importe"],
        ["TB-0601", "Tubo acero 20x20x1,5", "30", "m", "3,20", "96,00"],
        ["CD-1120", "Codo 90° 20 mm", "40", "uds", "0,75", "30,00"],
        ["PT-0302", "Pintura antioxidante 4 l", "3", "uds", "27,90", "83,70"],
    ]
    return SheetCase(
        "es_headers", "Spanish column headers and labels, semicolons, decimal commas.", "csv",
        expected("PED-2026-0712", "2026-11-24", "2026-12-05", None, None, [
            line("TB-0601", "30", "MTR", "3.20"),
            line("CD-1120", "40", "EA", "0.75"),
            line("PT-0302", "3", "EA", "27.90"),
        ]),
        rows=rows, delimiter=";",
    )


def it_headers() -> SheetCase:
    rows = [
        ["Numero ordine", "ORD-26-3391", None, None, None, None],
        ["Data ordine", datetime(2026, 11, 20), None, None, None, None],
        ["Data consegna", datetime(2026, 12, 3), None, None, None, None],
        ["Valuta", "EUR", None, None, None, None],
        [None, None, None, None, None, None],
        ["Codice articolo", "Descrizione", "Quantità", "UM", "Prezzo unitario", "Importo"],
        ["VT-0810", "Vite autofilettante 4x16", 500, "pz", 0.04, 20],
        ["TS-1200", "Tassello nylon 8 mm", 300, "pz", 0.06, 18],
        ["SL-0050", "Silicone neutro trasparente", 12, "pz", 4.8, 57.6],
    ]
    return SheetCase(
        "it_headers", "XLSX with Italian labels and column headers.", "xlsx",
        expected("ORD-26-3391", "2026-11-20", "2026-12-03", "EUR", None, [
            line("VT-0810", "500", "EA", "0.04"),
            line("TS-1200", "300", "EA", "0.06"),
            line("SL-0050", "12", "EA", "4.80"),
        ]),
        sheets=[("Ordine", rows)],
    )


def nl_headers() -> SheetCase:
    rows = [
        ["Ordernummer", "IO-88213", "", "", ""],
        ["Besteldatum", "23-11-2026", "", "", ""],
        ["Leverdatum", "02-12-2026", "", "", ""],
        ["", "", "", "", ""],
        ["Artikelnummer", "Omschrijving", "Aantal", "Prijs per stuk", "Bedrag"],
        ["ZK-400", "Zaagblad hout 400 mm", "4", "29,50", "118,00"],
        ["BO-080", "Boor HSS 8 mm", "25", "1,90", "47,50"],
        ["SC-335", "Schroef 3,5x35 (doos 500)", "6", "8,40", "50,40"],
    ]
    return SheetCase(
        "nl_headers", "Dutch labels and column headers, semicolons, dd-mm-yyyy dates.", "csv",
        expected("IO-88213", "2026-11-23", "2026-12-02", None, None, [
            line("ZK-400", "4", None, "29.50"),
            line("BO-080", "25", None, "1.90"),
            line("SC-335", "6", None, "8.40"),
        ]),
        rows=rows, delimiter=";",
    )


def en_unit_column() -> SheetCase:
    rows = [
        ["PO Number", "7700315", "", "", "", ""],
        ["Order Date", "2026-11-25", "", "", "", ""],
        ["", "", "", "", "", ""],
        ["Item", "Description", "Qty", "Unit", "Price", "Value"],
        ["PP-0412", "Packing paper 50m", "10", "pack", "7.60", "76.00"],
        ["BX-3030", "Carton 300x300x300", "4", "box", "22.00", "88.00"],
        ["TP-0048", "Packing tape 48mm", "36", "each", "1.15", "41.40"],
        ["FL-0007", "Foam sheet 5mm", "12.5", "m", "2.80", "35.00"],
    ]
    return SheetCase(
        "en_unit_column", "English CSV with a unit column (pack, box, each, m) and a decimal quantity.", "csv",
        expected("7700315", "2026-11-25", None, None, None, [
            line("PP-0412", "10", "PK", "7.60"),
            line("BX-3030", "4", "BX", "22.00"),
            line("TP-0048", "36", "EA", "1.15"),
            line("FL-0007", "12.5", "MTR", "2.80"),
        ]),
        rows=rows,
    )


def en_qty_with_unit() -> SheetCase:
    rows = [
        ["PO Number", "PO-30418", "", "", ""],
        ["Delivery Date", "2026-12-01", "", "", ""],
        ["Currency", "USD", "", "", ""],
        ["", "", "", "", ""],
        ["Part Number", "Description", "Quantity", "Unit Price", "Extended"],
        ["WR-1010", "Wire rope 6mm", "24 pcs", "4.10", "98.40"],
        ["SH-2204", "Shackle 8mm galvanised", "50 pcs", "1.35", "67.50"],
        ["HK-0101", "Lifting hook 1t", "5 pcs", "17.90", "89.50"],
    ]
    return SheetCase(
        "en_qty_with_unit", "English CSV with the unit written in the quantity cell ('24 pcs').", "csv",
        expected("PO-30418", None, "2026-12-01", "USD", None, [
            line("WR-1010", "24", "EA", "4.10"),
            line("SH-2204", "50", "EA", "1.35"),
            line("HK-0101", "5", "EA", "17.90"),
        ]),
        rows=rows,
    )


CASES: dict[str, Callable[[], SheetCase]] = {
    f.__name__: f
    for f in (
        en_comma, de_semicolon_cp1252, fr_tab, xlsx_kv_row6, xlsx_excel_dates, xlsx_two_sheets,
        en_totals_vat, es_headers, it_headers, nl_headers, en_unit_column, en_qty_with_unit,
    )
}


# --- writing ------------------------------------------------------------------------------


def csv_bytes(case: SheetCase) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=case.delimiter, lineterminator="\r\n")
    for row in case.rows:
        writer.writerow(row)
    return buffer.getvalue().encode(case.encoding)


def xlsx_bytes(case: SheetCase) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in case.sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row, 1):
                if isinstance(value, (date, datetime)):
                    sheet.cell(r, c).number_format = "DD.MM.YYYY" if case.name == "xlsx_two_sheets" else "yyyy-mm-dd"
    fixed = datetime(2026, 11, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(case: SheetCase) -> bytes:
    return csv_bytes(case) if case.kind == "csv" else xlsx_bytes(case)


def xlsx_values(data: bytes) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every sheet's title and cell values: what a regenerated workbook must keep."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    return [(ws.title, [tuple(row) for row in ws.iter_rows(values_only=True)]) for ws in book.worksheets]


def golden_cases() -> list[str]:
    return sorted(p.stem for p in GOLDEN_DIR.glob("*.json"))


def load_case(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))


def write_golden(directory: Path = GOLDEN_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for make in CASES.values():
        case = make()
        (directory / case.file_name).write_bytes(render(case))
        golden = {"case": case.name, "file": case.file_name, "about": case.about, "expected": case.expected}
        (directory / f"{case.name}.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(case.file_name)
    return written


if __name__ == "__main__":
    for name in write_golden():
        print(name)
