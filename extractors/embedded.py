"""Files a PDF carries inside it: the order XML of an Order-X / Factur-X style hybrid PDF.

A PDF holds attached files in three places, all read here with pdfminer.six
(which pdfplumber ships):

* the ``/Names /EmbeddedFiles`` name tree of the catalog (what viewers list);
* the catalog's ``/AF`` array, PDF/A-3's "associated files" (Factur-X and
  Order-X put ``factur-x.xml`` / ``order-x.xml`` there and in the name tree);
* ``/FileAttachment`` annotations on pages (the paper-clip icon).

The same file found in several places is returned once. Decompression is
capped at ``MAX_EMBEDDED_BYTES`` (a small deflate stream can inflate to
gigabytes). A file that cannot be taken out is still returned, with
``problem`` saying why, so that a broken order XML is never dropped silently.
A PDF that pdfminer cannot open has no embedded files as far as this module
can tell: the PDF extractor reports such a file as unreadable itself.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import LITERALS_FLATE_DECODE, PDFObjRef, PDFStream, resolve1
from pdfminer.psparser import PSLiteral
from pdfminer.utils import decode_text

MAX_EMBEDDED_BYTES = 10 * 1024 * 1024
# Bounds for walking a hostile name tree (cycles are caught separately).
_MAX_TREE_NODES = 10_000
_MAX_TREE_DEPTH = 32


@dataclass(frozen=True, slots=True)
class EmbeddedFile:
    name: str  # the file specification's /UF or /F, else the name-tree key
    data: bytes = field(repr=False)
    mime: str | None = None  # the embedded stream's /Subtype, e.g. "text/xml"
    relationship: str | None = None  # /AFRelationship: Alternative, Data, Source, ...
    problem: str | None = None  # why ``data`` is empty: too large, undecodable


class _TooLarge(Exception):
    pass


def embedded_files(data: bytes, *, max_bytes: int = MAX_EMBEDDED_BYTES) -> tuple[EmbeddedFile, ...]:
    """Every file embedded in the PDF ``data``, name tree first, then /AF, then annotations."""
    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
        catalog = resolve1(document.catalog) or {}
    except Exception:  # noqa: BLE001 - the library edge: pdfminer raises many types for damaged files
        return ()
    found: list[EmbeddedFile] = []
    seen: set[object] = set()
    for key, spec in _file_specs(document, catalog):
        try:
            embedded = _embedded(key, spec, max_bytes, seen)
        except Exception as exc:  # noqa: BLE001 - one damaged file specification must not hide the others
            embedded = EmbeddedFile(key or "(unnamed)", b"", problem=f"cannot be read from the PDF ({type(exc).__name__}: {exc})")
        if embedded is not None:
            found.append(embedded)
    return tuple(found)


def _file_specs(document: PDFDocument, catalog: dict) -> Iterator[tuple[str | None, object]]:
    """(name-tree key or None, file specification) from all three places; each place guarded."""
    try:
        names = resolve1(catalog.get("Names"))
        tree = resolve1(names.get("EmbeddedFiles")) if isinstance(names, dict) else None
        if isinstance(tree, dict):
            yield from _name_tree(tree, set(), 0, [0])
    except Exception:  # noqa: BLE001, S110 - a broken name tree: the other places may still hold the file
        pass
    try:
        for spec in resolve1(catalog.get("AF")) or ():
            yield None, spec
    except Exception:  # noqa: BLE001, S110
        pass
    try:
        for page in PDFPage.create_pages(document):
            for annot in resolve1(page.annots) or ():
                annot = resolve1(annot)
                if isinstance(annot, dict) and _name(annot.get("Subtype")) == "FileAttachment":
                    yield None, annot.get("FS")
    except Exception:  # noqa: BLE001, S110
        pass


def _name_tree(node: dict, visited: set[int], depth: int, count: list[int]) -> Iterator[tuple[str | None, object]]:
    count[0] += 1
    if depth > _MAX_TREE_DEPTH or count[0] > _MAX_TREE_NODES:
        return
    pairs = resolve1(node.get("Names")) or []
    for i in range(0, len(pairs) - 1, 2):
        key = resolve1(pairs[i])
        yield (_text(key) if isinstance(key, (bytes, str)) else None), pairs[i + 1]
    for kid in resolve1(node.get("Kids")) or []:
        if isinstance(kid, PDFObjRef):
            if kid.objid in visited:
                continue
            visited.add(kid.objid)
        child = resolve1(kid)
        if isinstance(child, dict):
            yield from _name_tree(child, visited, depth + 1, count)


def _embedded(key: str | None, spec_ref: object, max_bytes: int, seen: set[object]) -> EmbeddedFile | None:
    spec = resolve1(spec_ref)
    if not isinstance(spec, dict):
        return None  # a bare string names an external file, not an embedded one
    ef = resolve1(spec.get("EF"))
    if not isinstance(ef, dict):
        return None
    stream_ref = ef.get("UF") or ef.get("F") or next(iter(ef.values()), None)
    identity: object = ("obj", stream_ref.objid) if isinstance(stream_ref, PDFObjRef) else ("py", id(resolve1(stream_ref)))
    if identity in seen:
        return None
    seen.add(identity)
    stream = resolve1(stream_ref)
    name = _file_name(spec, key)
    relationship = _name(spec.get("AFRelationship"))
    if not isinstance(stream, PDFStream):
        return EmbeddedFile(name, b"", relationship=relationship, problem="has no embedded file stream")
    mime = _name(stream.attrs.get("Subtype"))
    try:
        data = _stream_bytes(stream, max_bytes)
    except _TooLarge:
        return EmbeddedFile(name, b"", mime, relationship, f"is larger than the {max_bytes // (1024 * 1024)} MiB limit for an embedded file")
    except Exception as exc:  # noqa: BLE001 - pdfminer's decoders raise many types for damaged streams
        return EmbeddedFile(name, b"", mime, relationship, f"cannot be decoded ({type(exc).__name__}: {exc})")
    return EmbeddedFile(name, data, mime, relationship)


def _stream_bytes(stream: PDFStream, max_bytes: int) -> bytes:
    """The decoded bytes of ``stream``, refusing more than ``max_bytes`` before inflating them."""
    params = resolve1(stream.attrs.get("Params"))
    declared = resolve1(params.get("Size")) if isinstance(params, dict) else None
    if isinstance(declared, int) and declared > max_bytes:
        raise _TooLarge
    if stream.data is not None:
        data = stream.data
    else:
        filters = stream.get_filters()
        plain_flate = len(filters) == 1 and filters[0][0] in LITERALS_FLATE_DECODE and not _predictor(filters[0][1])
        if filters and not plain_flate:
            data = stream.get_data()  # other filters (rare for attachments) are pdfminer's; checked below
        else:
            raw = stream.rawdata or b""
            if stream.decipher is not None and stream.objid is not None and stream.genno is not None:
                raw = stream.decipher(stream.objid, stream.genno, raw, stream.attrs)
            if plain_flate:
                inflater = zlib.decompressobj()
                data = inflater.decompress(raw, max_bytes + 1)
            else:
                data = raw
    if len(data) > max_bytes:
        raise _TooLarge
    return data


def _predictor(params: object) -> bool:
    params = resolve1(params)
    return isinstance(params, dict) and int(resolve1(params.get("Predictor", 1)) or 1) > 1


def _file_name(spec: dict, key: str | None) -> str:
    for entry in ("UF", "F"):
        value = resolve1(spec.get(entry))
        if isinstance(value, (bytes, str)) and (text := _text(value)):
            break
    else:
        text = key or "(unnamed)"
    # Only the last path component, printable: names end up in sources and review messages.
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip() or "(unnamed)"


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    if value.startswith(b"\xef\xbb\xbf"):  # PDF 2.0 UTF-8 text string
        return value[3:].decode("utf-8", "replace")
    return decode_text(value)


def _name(value: object) -> str | None:
    value = resolve1(value)
    if isinstance(value, PSLiteral):
        name = value.name
        return name.decode("latin-1") if isinstance(name, bytes) else str(name)
    return None
