"""What a file really is, read from its bytes, and how to decode text of unknown charset.

Mailers declare ``application/octet-stream`` for PDFs, ``text/plain`` for CSVs
and ``application/pdf`` for HTML error pages, so the extractors pick a parser by
the sniffed type. The declared type is kept next to it (``Document.declared_type``).
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
XLS = "application/vnd.ms-excel"
OLE = "application/x-ole-storage"
ZIP = "application/zip"
XML = "application/xml"
HTML = "text/html"
CSV = "text/csv"
TEXT = "text/plain"
EMAIL = "message/rfc822"
OCTET = "application/octet-stream"

SPREADSHEETS = frozenset({XLSX, XLS, ODS, CSV})

# How far into a file a PDF header may start (some generators prepend junk).
_PDF_HEADER_WINDOW = 1024
# How much text is looked at to decide CSV / plain text.
_TEXT_SAMPLE = 64 * 1024

_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
)


def sniff(data: bytes, name: str | None = None) -> str:
    """The media type of ``data`` judged from its bytes.

    ``name`` only breaks ties the bytes cannot decide (an OLE2 container is an
    old Excel sheet or a Word file). Unknown bytes are ``application/octet-stream``.
    """
    if not data:
        return OCTET
    head = data[:_PDF_HEADER_WINDOW]
    if head.startswith(b"%PDF-") or (b"%PDF-" in head and b"\x00" not in head[: head.find(b"%PDF-")]):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        lname = (name or "").lower()
        if lname.endswith((".xls", ".xlt")):
            return XLS
        if lname.endswith((".doc", ".dot")):
            return "application/msword"
        if lname.endswith(".msg"):
            return "application/vnd.ms-outlook"
        return OLE
    for magic, offset, mime in _IMAGE_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    text = decode_text(data[:_TEXT_SAMPLE]).text if _looks_textual(data[:_TEXT_SAMPLE]) else None
    if text is None:
        return OCTET
    stripped = text.lstrip("\ufeff \t\r\n")
    lower = stripped[:512].lower()
    if lower.startswith(("<!doctype html", "<html")) or re.match(r"<(head|body|div|table|p)\b", lower):
        return HTML
    # Comments and a DOCTYPE may come before the root element of an XML file.
    head = re.sub(r"^(?:<!--.*?-->\s*|<!doctype[^>]*>\s*)+", "", lower, flags=re.S)
    if lower.startswith("<?xml") or re.match(r"<[a-z_][\w:.-]*[\s>/]", head):
        if "<html" in lower:
            return HTML
        return XML
    if _looks_like_email(stripped):
        return EMAIL
    if looks_like_csv(text):
        return CSV
    return TEXT


def is_image(mime: str) -> bool:
    return mime.startswith("image/")


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, RuntimeError, NotImplementedError):
        return ZIP
    if "xl/workbook.xml" in names or any(n.startswith("xl/workbook") for n in names):
        return XLSX
    if "word/document.xml" in names:
        return DOCX
    if mimetype.strip() == ODS:
        return ODS
    return ZIP


def _looks_textual(sample: bytes) -> bool:
    if not sample:
        return False
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in sample:
        return False
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control <= len(sample) // 100


_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,40}:[ \t]")


def _looks_like_email(text: str) -> bool:
    lines = text.splitlines()[:40]
    names = set()
    for line in lines:
        if not line.strip():
            break
        if _HEADER_LINE.match(line):
            names.add(line.split(":", 1)[0].lower())
        elif not line[:1].isspace():
            return False
    return len(names & {"from", "to", "subject", "date", "message-id", "received", "mime-version"}) >= 2


# --- CSV -------------------------------------------------------------------

_DELIMITERS = (",", ";", "\t", "|")


def csv_delimiter(text: str) -> str | None:
    """The delimiter used consistently over the first lines, or None.

    A delimiter counts when at least two non-empty lines (outside quotes) split
    into the same number (>= 2) of fields; the most consistent one wins.
    """
    lines = [ln for ln in text.splitlines()[:30] if ln.strip()]
    if len(lines) < 2:
        return None
    best: tuple[float, str] | None = None
    for delim in _DELIMITERS:
        counts = [_count_outside_quotes(ln, delim) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        mode = max(set(counts), key=counts.count)
        if mode == 0:
            continue
        share = counts.count(mode) / len(counts)
        if share < 0.6 or counts.count(mode) < 2:
            continue
        score = share + min(mode, 10) / 100
        if best is None or score > best[0]:
            best = (score, delim)
    return best[1] if best else None


def _count_outside_quotes(line: str, delim: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            count += 1
    return count


def looks_like_csv(text: str) -> bool:
    delim = csv_delimiter(text)
    if delim is None:
        return False
    if delim == ",":
        # Prose has commas too; a CSV line rarely ends in a full stop and its
        # fields are short.
        lines = [ln for ln in text.splitlines()[:30] if ln.strip()]
        prose = sum(1 for ln in lines if ln.rstrip().endswith((".", "!", "?")) and len(ln) > 60)
        if prose > len(lines) // 3:
            return False
    return True


# --- decoding --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    charset: str
    guessed: bool  # True when the charset was not the declared one (or none was declared)


def decode_text(data: bytes, declared: str | None = None) -> DecodedText:
    """Decode bytes as text: BOM, then the declared charset, then UTF-8, then a guess.

    Never raises: the last resort is cp1252/latin-1 with replacement characters.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return DecodedText(data.decode(codec, errors="replace"), codec, declared is None)
    if declared:
        codec = _codec(declared)
        if codec:
            try:
                return DecodedText(data.decode(codec), codec, False)
            except UnicodeDecodeError:
                pass
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", declared is not None and _codec(declared) != "utf-8")
    except UnicodeDecodeError:
        pass
    guess = _guess(data)
    if guess:
        return DecodedText(data.decode(guess, errors="replace"), guess, True)
    try:
        return DecodedText(data.decode("cp1252"), "cp1252", True)
    except UnicodeDecodeError:
        return DecodedText(data.decode("latin-1", errors="replace"), "latin-1", True)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def known_charset(name: str | None) -> bool:
    return bool(name) and _codec(name or "") is not None


def _guess(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    if len(data) < 32:
        return None  # too little to guess from; cp1252 is the likeliest 8-bit charset
    best = from_bytes(data[:_TEXT_SAMPLE]).best()
    if best is None:
        return None
    if best.encoding.startswith(("utf_16", "utf_32")) and b"\x00" not in data:
        return None
    return best.encoding
