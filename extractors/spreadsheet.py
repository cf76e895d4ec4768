"""Purchase orders from CSV and XLSX attachments.

A sheet is a grid of cells. The line-item table starts at the first row whose
cells name at least three column roles from the ``columns`` vocabulary (it
need not be row 1); rows above and below the table are key/value pairs
("PO Number | 4500012345", "Ship To | name" with the address continuing in the
rows below, or "PO number: 4500012345" in one cell), read with the field
labels of ``labels.yaml``. Numbers stay exact: Excel floats become Decimals
through their shortest repr (5.9 -> 5.9), text numbers follow the sheet's
decimal separator. Provenance names the cell, e.g. ``xlsx:Order!C12``.

CSV: UTF-8 (with or without BOM) or cp1252; delimiter sniffed among , ; tab |.
A file that cannot be read gives one order with an ``unreadable_document``
reason, never an exception.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.errors import UnreadableInput
from bot.model import MISSING, Address, Document, Field, Order, OrderLine, Provenance
from extractors.context import ExtractionContext
from extractors.lines import (
    unreadable_order,
    Cell,
    Role,
    build_line,
    check_against_total,
    detect_decimal_comma,
    fold_label,
    header_currency,
    header_role,
    is_number_like,
    is_table_header,
    label_vocabulary,
    looks_like_code,
    parse_address,
    parse_amount,
    day_first_evidence,
    parse_number_cell,
    po_number_from_filename,
    read_date,
    read_po_number,
    split_quantity,
    urgent_phrase,
)
from extractors.normalise import normalise_currency, normalise_uom

KEY_SECTIONS = ("po_number", "order_date", "delivery_date", "currency", "ship_to", "bill_to", "notes", "customer_name")
STOP_SECTIONS = ("total", "tax", "charges")
HEADER_SCAN_ROWS = 60


@dataclass(frozen=True, slots=True)
class SheetCell:
    value: object  # str | int | float | Decimal | date | datetime | None
    ref: str  # "C12"

    @property
    def text(self) -> str:
        v = self.value
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, datetime):
            return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
        return str(v).strip()

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class Sheet:
    name: str
    kind: str  # "xlsx" | "csv"
    rows: tuple[tuple[SheetCell, ...], ...]

    def where(self, cell: SheetCell) -> str:
        return f"xlsx:{self.name}!{cell.ref}" if self.kind == "xlsx" else f"csv:{cell.ref}"


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# --- reading ------------------------------------------------------------------------


def _read_xlsx(data: bytes, name: str) -> list[Sheet]:
    import openpyxl  # imported here: only spreadsheets need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableInput(name, f"is not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    try:
        sheets = []
        for ws in book.worksheets:
            rows = []
            for r, row in enumerate(ws.iter_rows(values_only=True), 1):
                rows.append(tuple(SheetCell(v, f"{_column_letter(c)}{r}") for c, v in enumerate(row)))
            sheets.append(Sheet(ws.title, "xlsx", tuple(rows)))
        return sheets
    finally:
        book.close()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    lines = [ln for ln in sample.splitlines() if ln.strip()]

    def consistency(d: str) -> tuple[int, int]:
        counts = [ln.count(d) for ln in lines]
        common = max(set(counts), key=counts.count) if counts else 0
        return (sum(1 for c in counts if c == common and c > 0), common)

    return max(",;\t|", key=consistency)


def _read_csv(data: bytes, name: str) -> list[Sheet]:
    if b"\x00" in data[:4096]:
        raise UnreadableInput(name, "is not a text (CSV) file")
    text = _decode(data)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    rows = tuple(
        tuple(SheetCell(v.strip() or None, f"{_column_letter(c)}{r}") for c, v in enumerate(row))
        for r, row in enumerate(reader, 1)
    )
    return [Sheet(name, "csv", rows)]


def read_sheets(doc: Document) -> list[Sheet]:
    data = doc.data
    lowered = doc.name.lower()
    if data[:4] == b"PK\x03\x04" or lowered.endswith((".xlsx", ".xlsm")) or "spreadsheetml" in doc.content_type:
        return _read_xlsx(data, doc.name)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnreadableInput(doc.name, "is a legacy binary .xls workbook; save it as .xlsx or CSV")
    return _read_csv(data, doc.name)


# --- labels ---------------------------------------------------------------------------


def _label_of(text: str) -> tuple[str, str] | None:
    """(section, value after a colon) when a cell's text is a field label."""
    vocab = label_vocabulary()
    key = fold_label(text)
    for section in KEY_SECTIONS + STOP_SECTIONS:
        if key in vocab.phrases(section):
            return section, ""
    if ":" in text or "：" in text:
        head, _, tail = re.split(r"([:：])", text, maxsplit=1)
        head_key = fold_label(head)
        for section in KEY_SECTIONS:
            if head_key in vocab.phrases(section):
                return section, tail.strip()
    return None


# --- the order --------------------------------------------------------------------------


def _find_header(sheet: Sheet) -> tuple[int, list[Role | None]] | None:
    """The header row: the first naming three roles; else the first naming two
    whose other columns' roles can be told from their data."""
    candidates = []
    for r, row in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        roles = [header_role(c.text) if isinstance(c.value, str) else None for c in row]
        if is_table_header(roles):
            return r, _infer_sheet_roles(sheet, r, roles)
        if len({x for x in roles if x}) >= 2 and sum(1 for c in row if not c.blank) >= 3:
            candidates.append((r, roles))
    for r, roles in candidates:
        inferred = _infer_sheet_roles(sheet, r, roles)
        known = set(inferred)
        if Role.QUANTITY in known and known & {Role.UNIT_PRICE, Role.LINE_TOTAL} and is_table_header(inferred):
            return r, inferred
    return None


def _infer_sheet_roles(sheet: Sheet, header_index: int, roles: list[Role | None]) -> list[Role | None]:
    """Roles for header cells the vocabulary does not know, from the cells under them."""
    roles = list(roles)
    header = sheet.rows[header_index]
    body = [row for row in sheet.rows[header_index + 1 : header_index + 31] if any(not c.blank for c in row)]
    known = {x for x in roles if x}

    def column(c: int) -> list[SheetCell]:
        return [row[c] for row in body if c < len(row) and not row[c].blank]

    def share(cells: list[SheetCell], test: Callable[[SheetCell], bool]) -> float:
        return sum(1 for cell in cells if test(cell)) / len(cells) if len(cells) >= max(1, len(body) // 2) else 0.0

    def numeric(cell: SheetCell) -> bool:
        return isinstance(cell.value, (int, float, Decimal)) or is_number_like(cell.text)

    def whole(cell: SheetCell) -> bool:
        value = parse_number_cell(cell.value, decimal_comma=None) if numeric(cell) else None
        return value is not None and value == value.to_integral_value() and not re.search(r"[.,]\d{2}$", cell.text)

    numbers: list[int] = []
    for c, head in enumerate(header):
        if c < len(roles) and roles[c] is not None or head.blank:
            continue
        cells = column(c)
        if not cells:
            continue
        guess: Role | None = None
        if Role.UOM not in known and share(cells, lambda x: normalise_uom(x.text) is not None) >= 0.8:
            guess = Role.UOM
        elif Role.QUANTITY not in known and share(cells, lambda x: split_quantity(x.text, decimal_comma=None)[1] is not None) >= 0.8:
            guess = Role.QUANTITY
        elif share(cells, numeric) >= 0.8:
            numbers.append(c)
        elif Role.SKU not in known and share(cells, lambda x: looks_like_code(x.text) and " " not in x.text) >= 0.8:
            guess = Role.SKU
        elif Role.DESCRIPTION not in known and share(cells, lambda x: len(x.text.split()) >= 2) >= 0.5:
            guess = Role.DESCRIPTION
        if guess is not None:
            while len(roles) <= c:
                roles.append(None)
            roles[c] = guess
            known.add(guess)
    integral = [c for c in numbers if share(column(c), whole) >= 0.8]
    amounts = [c for c in numbers if c not in integral]
    assignments: list[tuple[int, Role]] = []
    if Role.QUANTITY not in known and integral:
        assignments.append((integral[0], Role.QUANTITY))
    for role in (Role.LINE_TOTAL, Role.UNIT_PRICE):
        if role not in known and amounts:
            assignments.append((amounts.pop(), role))
    for c, role in assignments:
        while len(roles) <= c:
            roles.append(None)
        roles[c] = role
    return roles


def orders_from_sheet(doc: Document, *, context: ExtractionContext) -> tuple[Order, ...]:
    """The purchase order of a CSV or XLSX file: one per sheet that holds a line-item table."""
    try:
        sheets = read_sheets(doc)
    except UnreadableInput as exc:
        return (unreadable_order(doc, exc.problem),)
    orders = [o for o in (_order_from_sheet(sheet, doc, context) for sheet in sheets) if o is not None and o.lines]
    if not orders:
        return (unreadable_order(doc, "holds no line-item table (no row names quantity, item and price columns)"),)
    # One order per file, unless its sheets name different PO numbers (a
    # price list or a copy on a second sheet is no second order).
    first = orders[0]
    others = [
        o for o in orders[1:]
        if o.po_number.present and first.po_number.present and o.po_number.value != first.po_number.value
        and o.po_number.provenance is not None and o.po_number.provenance.rule != "file_name"
    ]
    return (first, *others)


def _order_from_sheet(sheet: Sheet, doc: Document, context: ExtractionContext) -> Order | None:
    header = _find_header(sheet)
    if header is None:
        return None
    header_index, roles = header
    texts = [c.text for row in sheet.rows for c in row if isinstance(c.value, str)]
    decimal_comma = detect_decimal_comma(texts)
    if decimal_comma is None:
        decimal_comma = context.decimal_comma

    lines, used_rows, printed_total = _lines(sheet, header_index, roles, decimal_comma, doc.source)
    fields = _key_values(sheet, used_rows | {header_index}, doc.source, context, texts)
    for name, value in _column_fields(sheet, header_index, roles, used_rows, doc.source, context, texts).items():
        fields.setdefault(name, value)

    currency = fields.get("currency", MISSING)
    if not currency.present:
        header_row = sheet.rows[header_index]
        for cell in header_row:
            if code := header_currency(cell.text):
                currency = Field(code, 0.85, Provenance(doc.source, rule=f"{sheet.where(cell)}:header"))
                break
    po_number = fields.get("po_number", MISSING)
    file_po = po_number_from_filename(doc.name)
    if not po_number.present and file_po:
        po_number = Field(file_po, 0.5, Provenance(doc.source, rule="file_name"))
    elif po_number.present and file_po and file_po.lower() == str(po_number.value).lower():
        po_number = Field(po_number.value, min(1.0, po_number.confidence + 0.03), po_number.provenance)

    checked, matched = check_against_total(lines, [printed_total] if printed_total is not None else [])
    return Order(
        source=doc.source,
        customer_name=fields.get("customer_name", MISSING),
        po_number=po_number,
        order_date=fields.get("order_date", MISSING),
        delivery_date=fields.get("delivery_date", MISSING),
        currency=currency,
        ship_to=fields.get("ship_to", MISSING),
        lines=checked,
        urgent=fields.get("urgent", Field(False, 0.7)),
        notes=fields.get("notes", MISSING),
        document_total=Field(printed_total, 0.95 if matched is not None else 0.5, Provenance(doc.source, rule="total row"))
        if printed_total is not None
        else MISSING,
    )


def _cell_date(cell: SheetCell, day_first: bool, reference: date | None) -> date | None:
    if isinstance(cell.value, datetime):
        return cell.value.date()
    if isinstance(cell.value, date):
        return cell.value
    return read_date(cell.text, day_first=day_first, reference=reference)


def _column_fields(
    sheet: Sheet,
    header_index: int,
    roles: list[Role | None],
    rows: set[int],
    source: str,
    context: ExtractionContext,
    texts: Iterable[str],
) -> dict[str, Field]:
    """Order fields printed as columns of the line table (an export repeating
    the PO number or delivery date on every row): the value when all rows agree."""
    day_first = day_first_evidence(texts)
    if day_first is None:
        day_first = context.day_first if context.day_first is not None else True
    found: dict[str, Field] = {}
    for c, head in enumerate(sheet.rows[header_index]):
        section = "delivery_date" if c < len(roles) and roles[c] is Role.DELIVERY_DATE else None
        if section is None and (c >= len(roles) or roles[c] is None) and (label := _label_of(head.text)):
            section = label[0] if label[0] in ("po_number", "order_date", "delivery_date", "currency", "customer_name") else None
        if section is None or section in found:
            continue
        cells = [sheet.rows[r][c] for r in sorted(rows) if c < len(sheet.rows[r]) and not sheet.rows[r][c].blank]
        if not cells:
            continue
        if section in ("order_date", "delivery_date"):
            values = {_cell_date(cell, day_first, context.reference_date) for cell in cells}
        elif section == "currency":
            values = {normalise_currency(cell.text) for cell in cells}
        elif section == "po_number":
            values = {read_po_number(cell.text) or cell.text for cell in cells}
        else:
            values = {cell.text for cell in cells}
        values.discard(None)
        if len(values) == 1:
            found[section] = Field(values.pop(), 0.9, Provenance(source, rule=sheet.where(cells[0])))
    return found


def _number(cell: SheetCell, decimal_comma: bool | None) -> Decimal | None:
    if isinstance(cell.value, (int, float, Decimal)) and not isinstance(cell.value, bool):
        return parse_number_cell(cell.value, decimal_comma=decimal_comma)
    return None


def _lines(
    sheet: Sheet, header_index: int, roles: list[Role | None], decimal_comma: bool | None, source: str
) -> tuple[tuple[OrderLine, ...], set[int], Decimal | None]:
    """The order lines under the header, the rows they came from, and the
    total printed on a totals row that ends the table, if any."""
    vocab = label_vocabulary()
    stop_words = {p for s in STOP_SECTIONS for p in vocab.phrases(s)}
    total_words = set(vocab.phrases("total"))
    printed_total: Decimal | None = None
    lines = []
    used: set[int] = set()
    blanks = 0
    if Role.SKU not in roles:
        # "Item" heads the codes in many sheets: a position column that holds codes is the sku column.
        roles = list(roles)
        for col, role in enumerate(roles):
            if role is not Role.POSITION:
                continue
            values = [r[col].text for r in sheet.rows[header_index + 1 : header_index + 30] if col < len(r) and r[col].text]
            if values and sum(1 for v in values if not re.fullmatch(r"\d{1,4}\.?", v)) > len(values) / 2:
                roles[col] = Role.SKU
                break
    for r in range(header_index + 1, len(sheet.rows)):
        row = sheet.rows[r]
        if all(c.blank for c in row):
            blanks += 1
            if blanks >= 2 and lines:
                break
            continue
        blanks = 0
        first_text = next((c.text for c in row if not c.blank), "")
        if fold_label(first_text) in stop_words or fold_label(first_text.split(":")[0]) in stop_words:
            if fold_label(first_text.split(":")[0]) in total_words:
                numbers = [n for c in row if (n := _number(c, decimal_comma) or _text_amount(c, decimal_comma)) is not None]
                printed_total = numbers[-1] if numbers else None
            break
        if _label_of(first_text) is not None and not any(_number(c, decimal_comma) for c in row):
            break  # key/value rows below the table
        cells: dict[Role, Cell] = {}
        extra: list[str] = []
        for c, role in enumerate(roles):
            if role is None or c >= len(row) or row[c].blank:
                continue
            cell = row[c]
            value = Cell(cell.text, Provenance(source, rule=sheet.where(cell)), _number(cell, decimal_comma))
            if role in cells:
                if role in (Role.SKU, Role.CUSTOMER_SKU, Role.SUPPLIER_SKU):
                    extra.append(cell.text)
                continue
            cells[role] = value
        row_text = " ".join(c.text for c in row if not c.blank)
        line = build_line(cells, decimal_comma=decimal_comma, confidence=0.97, row_text=row_text, extra_codes=extra)
        if line is None or not (line.quantity.present or (line.codes and line.unit_price.present)):
            continue
        lines.append(line)
        used.add(r)
    return tuple(lines), used, printed_total


def _text_amount(cell: SheetCell, decimal_comma: bool | None) -> Decimal | None:
    if not isinstance(cell.value, str) or not re.search(r"\d", cell.text):
        return None
    return parse_amount(cell.text, decimal_comma=decimal_comma)[0]


def _key_values(
    sheet: Sheet, skip: set[int], source: str, context: ExtractionContext, texts: Iterable[str]
) -> dict[str, Field]:
    """Header fields outside the line table: a label cell and its value to the
    right ("PO Number | 4500012345"), in the same cell ("PO number: 4500012345")
    or below it (a row of captions over a row of values)."""
    day_first = day_first_evidence(texts)
    if day_first is None:
        day_first = context.day_first if context.day_first is not None else True
    found: dict[str, Field] = {}
    rows = sheet.rows
    for r, row in enumerate(rows):
        if r in skip:
            continue
        c = 0
        while c < len(row):
            cell = row[c]
            c += 1
            if cell.blank or not isinstance(cell.value, str) or (label := _label_of(cell.text)) is None:
                continue
            section, inline = label
            if section in STOP_SECTIONS:
                break
            value_cell, value_row, value_col = _value_of(rows, r, c - 1, inline)
            if value_row == r and value_col is not None:
                c = value_col + 1
            if section in found or (value_cell is None and not inline):
                continue
            where = sheet.where(value_cell) if value_cell is not None and not inline else sheet.where(cell)
            value = _field_value(section, inline or value_cell.value, rows, value_row, value_col, inline, day_first, context)
            if value is not None:
                found[section] = Field(value[0], value[1], Provenance(source, rule=where))
    if "customer_name" not in found and "bill_to" in found and found["bill_to"].value.name:
        bill: Address = found["bill_to"].value
        found["customer_name"] = Field(bill.name, 0.8, found["bill_to"].provenance)
    found.pop("bill_to", None)
    urgent = _urgent(rows, skip)
    if urgent is not None:
        found["urgent"] = Field(True, 0.85, Provenance(source, rule=sheet.where(urgent)))
    return found


def _value_of(
    rows: Sequence[Sequence[SheetCell]], r: int, c: int, inline: str
) -> tuple[SheetCell | None, int, int | None]:
    """The value cell of the label at (r, c): the next filled cell to its
    right unless that is another label, else the cell below it."""
    if inline:
        return None, r, c
    row = rows[r]
    for j in range(c + 1, len(row)):
        if row[j].blank:
            continue
        if isinstance(row[j].value, str) and _label_of(row[j].text) is not None:
            break
        return row[j], r, j
    if r + 1 < len(rows) and c < len(rows[r + 1]):
        below = rows[r + 1][c]
        if not below.blank and not (isinstance(below.value, str) and _label_of(below.text) is not None):
            return below, r + 1, c
    return None, r, None


def _field_value(
    section: str,
    raw: object,
    rows: Sequence[Sequence[SheetCell]],
    r: int,
    c: int | None,
    inline: str,
    day_first: bool,
    context: ExtractionContext,
) -> tuple[object, float] | None:
    """A label's value read for its field, with a confidence; None when it does not read."""
    if raw is None or raw == "":
        return None
    if section == "po_number":
        text = str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
        po = read_po_number(text) or (text.strip() if re.search(r"\d", text) and len(text) <= 30 else None)
        return (po, 0.95) if po else None
    if section in ("order_date", "delivery_date"):
        if isinstance(raw, datetime):
            return raw.date(), 0.97
        if isinstance(raw, date):
            return raw, 0.97
        parsed = read_date(str(raw), day_first=day_first, reference=context.reference_date)
        return (parsed, 0.9) if parsed else None
    if section == "currency":
        code = normalise_currency(str(raw).strip())
        return (code, 0.95) if code else None
    if section in ("ship_to", "bill_to"):
        address = parse_address(_block_below(rows, r, c, inline))
        if address is None or address.is_empty():
            return None
        return address, 0.9 if address.postal_code else 0.6
    return str(raw).strip(), 0.85  # notes, customer_name


def _block_below(rows: Sequence[Sequence[SheetCell]], r: int, c: int | None, inline: str) -> list[str]:
    """An address: the value cell (row r, column c) and the filled cells under
    it while the columns to its left stay empty and no label starts."""
    if inline:
        lines = [ln for ln in re.split(r"\r?\n", inline) if ln.strip()]
    elif c is not None:
        lines = [ln for ln in re.split(r"\r?\n", rows[r][c].text) if ln.strip()]
        for row in rows[r + 1 : r + 8]:
            if c >= len(row) or row[c].blank:
                break
            if any(not row[i].blank for i in range(0, min(c, len(row)))):
                break  # the next label
            if _label_of(row[c].text) is not None:
                break
            lines.extend(ln for ln in re.split(r"\r?\n", row[c].text) if ln.strip())
    else:
        return []
    if len(lines) == 1 and lines[0].count(",") >= 2:
        lines = [part.strip() for part in lines[0].split(",")]
    return lines


def _urgent(rows: Sequence[Sequence[SheetCell]], skip: set[int]) -> SheetCell | None:
    """A cell outside the line items that marks the order urgent."""
    for r, row in enumerate(rows):
        if r in skip:
            continue
        for cell in row:
            if isinstance(cell.value, str) and urgent_phrase(cell.text):
                return cell
    return None
