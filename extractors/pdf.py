"""Purchase orders from PDF attachments.

``orders_from_pdf`` reads a PDF's text layer with pdfplumber into a small
layout model (words with positions, grouped into lines; ruling lines; ruled
tables) and hands it to two readers:

* ``pdf_fields``: header fields by label proximity (a label from
  ``vocabulary/labels.yaml``, the value to its right or below it), the
  ship-to address block, the buyer's name, urgency marks, notes, totals;
* ``pdf_tables``: line items from tables found by their column headers,
  ruled or aligned by white space, across pages.

Nothing here knows a customer or a layout. A file that cannot be read (not a
PDF, encrypted, no text layer) gives one order that carries an
``unreadable_document`` reason and whatever PO number its file name holds;
such files never raise out of this module. A readable PDF that is no purchase
order (terms and conditions, a remittance advice) gives no order.
"""

from __future__ import annotations

import io
import re
import statistics
from dataclasses import dataclass, field
from functools import cached_property

import pdfplumber
from pdfplumber.utils.text import WordExtractor

from bot.errors import UnreadableInput
from bot.model import Document, Field, Order, Provenance
from extractors.context import ExtractionContext
from extractors.lines import detect_decimal_comma, po_number_from_filename, unreadable_order

# A gap wider than this many font sizes splits a line into segments (columns).
SEGMENT_GAP = 1.0


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x0, self.top, self.x1, self.bottom)

    @property
    def mid_x(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class TextLine:
    """Words on one visual line of a page, left to right.

    ``memo`` lets the readers keep what they found on a line (its labels, its
    table header) so that every question about a line is answered once.
    """

    page: int
    index: int  # position among the page's lines, top to bottom
    words: tuple[Word, ...]
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @cached_property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @cached_property
    def x0(self) -> float:
        return self.words[0].x0

    @cached_property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @cached_property
    def size(self) -> float:
        return statistics.median(w.size for w in self.words)

    @cached_property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @cached_property
    def segments(self) -> tuple[tuple[int, int], ...]:
        """Word index ranges [start, end) separated by gaps wider than SEGMENT_GAP font sizes."""
        bounds: list[tuple[int, int]] = []
        start = 0
        for i in range(1, len(self.words)):
            prev, word = self.words[i - 1], self.words[i]
            if word.x0 - prev.x1 > SEGMENT_GAP * max(prev.size, word.size):
                bounds.append((start, i))
                start = i
        bounds.append((start, len(self.words)))
        return tuple(bounds)

    def segment_of(self, index: int) -> tuple[int, int]:
        for start, end in self.segments:
            if start <= index < end:
                return start, end
        raise IndexError(index)

    @property
    def key(self) -> tuple[int, int]:
        return (self.page, self.index)


@dataclass(frozen=True, slots=True)
class Rule:
    """A ruling line or a side of a drawn rectangle."""

    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def vertical(self) -> bool:
        return (self.bottom - self.top) > (self.x1 - self.x0)


@dataclass(frozen=True, slots=True)
class RuledTable:
    """A table pdfplumber found from ruling lines: cell boxes per row (None = merged)."""

    page: int
    bbox: tuple[float, float, float, float]
    rows: tuple[tuple[tuple[float, float, float, float] | None, ...], ...]


@dataclass(frozen=True)
class PageText:
    number: int
    width: float
    height: float
    lines: tuple[TextLine, ...]
    rules: tuple[Rule, ...]
    tables: tuple[RuledTable, ...]

    def vertical_rule_between(self, x_left: float, x_right: float, top: float, bottom: float) -> bool:
        """Is there a vertical ruling between two x positions over this band?"""
        for rule in self.rules:
            if rule.vertical and x_left + 0.5 < rule.x0 < x_right - 0.5 and rule.top <= bottom and rule.bottom >= top:
                return True
        return False

    def horizontal_rule_between(self, y_top: float, y_bottom: float, x_left: float, x_right: float) -> bool:
        """Is there a horizontal ruling between two y positions across this column?"""
        for rule in self.rules:
            if (
                not rule.vertical
                and y_top + 0.5 < rule.top < y_bottom - 0.5
                and rule.x0 <= x_left + 2
                and rule.x1 >= min(x_right, x_left + 40)
            ):
                return True
        return False


# --- reading ---------------------------------------------------------------------

_LABEL_COLON = re.compile(r"^([^\W\d_][^:：]*[:：])(\S.*)$")


_GLUED_NUMBER_SIGN = re.compile(r"^((?:[^\W\d_][\w.]*)?#)(\w.*)$")


def _split_glued_label(word: Word) -> list[Word]:
    """A label glued to its value, split (x in proportion to characters):
    ``Date:12/11/2026`` -> ``Date:`` + ``12/11/2026``; ``#4711`` -> ``#`` + ``4711``;
    ``PO#4711`` -> ``PO#`` + ``4711``."""
    match = _LABEL_COLON.match(word.text)
    if match and not re.search(r"\d", match.group(1)):
        left, right = match.group(1), match.group(2)
    elif match := _GLUED_NUMBER_SIGN.match(word.text):
        left, right = match.group(1), match.group(2)
    else:
        return [word]
    cut = word.x0 + (word.x1 - word.x0) * len(left) / len(word.text)
    return [
        Word(left, word.x0, cut, word.top, word.bottom, word.size, word.bold),
        Word(right, cut, word.x1, word.top, word.bottom, word.size, word.bold),
    ]


def _group_lines(words: list[Word], page: int) -> tuple[TextLine, ...]:
    """Cluster words whose vertical centres agree into lines, top to bottom."""
    rows: list[list[Word]] = []
    anchors: list[tuple[float, float]] = []  # (centre, height) of each row's first word
    for word in sorted(words, key=lambda w: (w.top, w.x0)):
        centre, height = (word.top + word.bottom) / 2, word.bottom - word.top
        for i in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            a_centre, a_height = anchors[i]
            if abs(centre - a_centre) <= 0.45 * min(height, a_height):
                rows[i].append(word)
                break
        else:
            rows.append([word])
            anchors.append((centre, height))
    ordered = sorted(rows, key=lambda r: min(w.top for w in r))
    return tuple(
        TextLine(page, i, tuple(sorted(r, key=lambda w: w.x0))) for i, r in enumerate(ordered)
    )


def _dedupe_chars(chars: list[dict]) -> list[dict]:
    """Drop a character printed again within 1 pt of itself (fake-bold overprint).

    What ``page.dedupe_chars()`` does, in linear time: that one sorts and
    re-filters the page and took half of the reading time.
    """
    kept: list[dict] = []
    buckets: dict[tuple[str, int, int], list[tuple[float, float]]] = {}
    for char in chars:
        x, y = float(char["x0"]), float(char["top"])
        key = (str(char["text"]), int(x), int(y))
        duplicate = False
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for ox, oy in buckets.get((key[0], key[1] + dx, key[2] + dy), ()):
                    if abs(ox - x) <= 1 and abs(oy - y) <= 1:
                        duplicate = True
        if duplicate:
            continue
        buckets.setdefault(key, []).append((x, y))
        kept.append(char)
    return kept


def _read_page(page: pdfplumber.page.Page, number: int) -> PageText:
    extractor = WordExtractor(keep_blank_chars=False, use_text_flow=False, extra_attrs=["size", "fontname"])
    raw = extractor.extract_words(_dedupe_chars(page.chars))
    words: list[Word] = []
    for w in raw:
        font = str(w.get("fontname", "")).lower()
        word = Word(
            str(w["text"]),
            float(w["x0"]),
            float(w["x1"]),
            float(w["top"]),
            float(w["bottom"]),
            float(w.get("size") or (w["bottom"] - w["top"])),
            any(k in font for k in ("bold", "black", "heavy", "semibold")),
        )
        words.extend(_split_glued_label(word))
    rules = tuple(
        Rule(float(e["x0"]), float(e["top"]), float(e["x1"]), float(e["bottom"]))
        for e in page.edges
        if max(float(e["x1"]) - float(e["x0"]), float(e["bottom"]) - float(e["top"])) > 4
    )
    tables = tuple(
        RuledTable(
            number,
            tuple(float(v) for v in table.bbox),
            tuple(tuple(tuple(float(v) for v in c) if c else None for c in row.cells) for row in table.rows),
        )
        for table in page.find_tables()
    )
    return PageText(number, float(page.width), float(page.height), _group_lines(words, number), rules, tables)


def read_pages(data: bytes, name: str) -> tuple[PageText, ...]:
    """The layout of every page, or ``UnreadableInput`` naming the file and the problem."""
    if b"%PDF" not in data[:1024]:
        raise UnreadableInput(name, "is not a PDF file (no %PDF header)")
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return tuple(_read_page(page, n) for n, page in enumerate(pdf.pages, 1))
    except Exception as exc:  # noqa: BLE001 - the library edge: pdfminer raises many types for damaged files
        # pdfplumber wraps pdfminer's exception: name the one that says what happened.
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        text = f"{type(inner).__name__} {inner}".lower()
        if "password" in text or "encrypt" in text:
            problem = "is encrypted (password protected) and cannot be read"
        else:
            problem = f"cannot be parsed as a PDF ({type(inner).__name__}: {inner})"
        raise UnreadableInput(name, problem) from exc


# --- the order ---------------------------------------------------------------------


def orders_from_pdf(doc: Document, *, context: ExtractionContext) -> tuple[Order, ...]:
    """The purchase orders in a PDF: normally one; one per PO number when a file
    holds several printed one after another; () for a PDF that is no order."""
    # Imported here: both readers use this module's layout types.
    from extractors import pdf_fields, pdf_tables

    try:
        pages = read_pages(doc.data, doc.name)
    except UnreadableInput as exc:
        return (unreadable_order(doc, exc.problem),)
    if not any(page.lines for page in pages):
        return (unreadable_order(doc, "has no text layer (a scanned image?); it needs OCR or a person"),)
    all_text = [line.text for page in pages for line in page.lines]
    if sum(t.count("(cid:") for t in all_text) > 0.3 * max(1, len(all_text)):
        return (unreadable_order(doc, "has a text layer that cannot be decoded (unmapped font glyphs)"),)

    decimal_comma = detect_decimal_comma(all_text)
    if decimal_comma is None:
        decimal_comma = context.decimal_comma
    starts = [
        po if po is not None and pdf_tables.has_line_table(page) else None
        for page, po in zip(pages, pdf_fields.page_po_numbers(pages, context), strict=True)
    ]
    groups = _orders_by_page(pages, starts)
    return tuple(
        order for group in groups if (order := _order(doc, group, context, decimal_comma, single=len(groups) == 1))
    )


def _orders_by_page(pages: tuple[PageText, ...], page_pos: list[str | None]) -> list[tuple[PageText, ...]]:
    """Pages grouped into orders: a page that names a different PO number than
    the pages before it (and has its own line table) starts a new order, as in
    a batch of POs printed into one file; other pages, and pages naming the
    same PO ("continued"), belong to the current order."""
    groups: list[list[PageText]] = []
    current: str | None = None
    for page, po in zip(pages, page_pos, strict=True):
        if groups and (po is None or current is None or po.lower() == current.lower()):
            groups[-1].append(page)
            current = current or po
            continue
        groups.append([page])
        current = po
    return [tuple(g) for g in groups]


def _order(
    doc: Document, pages: tuple[PageText, ...], context: ExtractionContext, decimal_comma: bool | None, *, single: bool
) -> Order | None:
    from extractors import pdf_fields, pdf_tables

    table = pdf_tables.read_line_items(pages, source=doc.source, decimal_comma=decimal_comma)
    header = pdf_fields.read_header(
        pages,
        source=doc.source,
        context=context,
        decimal_comma=decimal_comma,
        table_lines=table.line_keys,
        table_currency=table.currency,
    )
    lines, document_total = table.checked_lines(header.totals)

    po_number = header.po_number
    file_po = po_number_from_filename(doc.name) if single else None
    if po_number.present and file_po and file_po.lower() == str(po_number.value).lower():
        po_number = Field(po_number.value, min(1.0, po_number.confidence + 0.05), po_number.provenance)
    elif not po_number.present and file_po and (lines or header.looks_like_order):
        po_number = Field(file_po, 0.4, Provenance(doc.source, rule="file_name"))

    if not po_number.present and not lines and not header.looks_like_order:
        return None
    return Order(
        source=doc.source,
        customer_name=header.customer_name,
        po_number=po_number,
        order_date=header.order_date,
        delivery_date=header.delivery_date,
        currency=header.currency,
        ship_to=header.ship_to,
        lines=lines,
        urgent=header.urgent,
        notes=header.notes,
        document_total=document_total,
    )
