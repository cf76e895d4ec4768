"""The source beside the fields: PDF pages as PNG images with the boxes of the
values read from them, spreadsheets as tables, and the email body as text or
as sanitised HTML (for a sandboxed iframe).

Everything here is untrusted customer content. The HTML sanitiser is an
allow-list (nh3, the Rust ammonia library): formatting tags only, no scripts,
styles, forms or event attributes, and no remote resources (an ``img`` keeps
its ``src`` only for ``data:`` URLs). The page's CSP blocks the rest.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from itertools import pairwise

import nh3

from bot.model import Order, Provenance

PDF_SCALE = 1.5  # 108 dpi: readable on a laptop screen, small enough to load fast
MAX_PAGES = 20
MAX_ROWS = 500
MAX_COLUMNS = 40

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "caption", "code", "div", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "small", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "table": {"border", "cellpadding", "cellspacing"},
}


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src" and not value.strip().lower().startswith("data:image/"):
        return None  # remote images are blocked: no tracking pixel, no request at all
    return value


def sanitize_html(html: str) -> str:
    """Untrusted HTML reduced to harmless formatting."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )


# --- email -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailView:
    subject: str
    sender: str
    date: str
    text: str
    html: str | None  # sanitised, for <iframe sandbox srcdoc>


def email_view(raw: bytes) -> EmailView:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    texts: list[str] = []
    htmls: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace")
        (texts if ctype == "text/plain" else htmls).append(str(content))
    html = sanitize_html("\n<hr>\n".join(htmls)) if htmls else None
    return EmailView(
        subject=str(msg.get("Subject", "")),
        sender=str(msg.get("From", "")),
        date=str(msg.get("Date", "")),
        text="\n\n".join(texts),
        html=html,
    )


def text_segments(body: str, order: Order, source: str = "body") -> list[tuple[str, tuple[str, ...]]]:
    """The text cut where the spans of the order's fields begin and end; each
    piece with the fields read from it (none for most), for highlighting."""
    spans = [
        (name, prov.span)
        for name, prov in field_provenances(order)
        if prov.source == source and prov.span is not None and 0 <= prov.span[0] < prov.span[1] <= len(body)
    ]
    cuts = sorted({0, len(body), *(i for _, span in spans for i in span)})
    pieces = []
    for start, end in pairwise(cuts):
        names = tuple(name for name, (a, b) in spans if a <= start and end <= b)
        pieces.append((body[start:end], names))
    return pieces


# --- PDF ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """A field's box on a page, in percent of the page (for CSS positioning)."""

    field: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class PdfPage:
    number: int  # 1-based
    width: float  # points
    height: float
    boxes: tuple[Box, ...]


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of each page, at most MAX_PAGES."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_size() for i in range(min(len(pdf), MAX_PAGES))]
    finally:
        pdf.close()


@lru_cache(maxsize=64)
def pdf_page_png(data: bytes, page: int, scale: float = PDF_SCALE) -> bytes:
    """One page (1-based) as PNG."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page <= min(len(pdf), MAX_PAGES):
            raise IndexError(f"no page {page}")
        image = pdf[page - 1].render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        pdf.close()


def field_provenances(order: Order) -> Iterable[tuple[str, Provenance]]:
    """Every field of the order with a provenance, named as the form names it."""
    for name in ("customer_id", "customer_name", "po_number", "order_date", "delivery_date", "currency", "ship_to", "notes", "document_total"):
        field = getattr(order, name)
        if field.provenance is not None:
            yield name, field.provenance
    for i, line in enumerate(order.lines):
        for name in ("sku", "customer_sku", "description", "quantity", "uom", "unit_price", "line_total"):
            field = getattr(line, name)
            if field.provenance is not None:
                yield f"line-{i}-{name}", field.provenance


def boxes_for(order: Order, document: str, page: int, width: float, height: float) -> tuple[Box, ...]:
    boxes = []
    for name, prov in field_provenances(order):
        if prov.source != f"attachment:{document}" or prov.page != page or prov.bbox is None:
            continue
        x0, top, x1, bottom = prov.bbox
        pad = 1.5
        boxes.append(
            Box(
                name,
                round(100 * (x0 - pad) / width, 3),
                round(100 * (top - pad) / height, 3),
                round(100 * (x1 - x0 + 2 * pad) / width, 3),
                round(100 * (bottom - top + 2 * pad) / height, 3),
            )
        )
    return tuple(boxes)


# --- spreadsheets ------------------------------------------------------------------


def sheet_rows(name: str, content_type: str, data: bytes) -> list[list[str]]:
    """A CSV or XLSX attachment's first sheet as rows of text."""
    if content_type == "text/csv" or name.lower().endswith(".csv"):
        text = data.decode("utf-8-sig", "replace")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
    else:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(max_row=MAX_ROWS, values_only=True)]
        finally:
            book.close()
    return [row[:MAX_COLUMNS] for row in rows[:MAX_ROWS]]


def is_sheet(name: str, content_type: str) -> bool:
    return content_type in ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") or name.lower().endswith((".csv", ".xlsx"))


def is_pdf(content_type: str) -> bool:
    return content_type == "application/pdf"
