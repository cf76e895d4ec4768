"""Raw RFC 5322 bytes to a ``Message``: headers, new text, quoted history, documents.

Uses the standard library's ``email`` package (``policy.default``). What it
guarantees on any input:

- ``UnreadableInput`` with a reason for input that is not an email at all
  (empty, a PDF, binary garbage, no header block);
- otherwise a ``Message``; anything odd on the way (undecodable charset, header
  bomb, broken date, missing Message-ID) is repaired where possible and noted in
  ``Message.defects``.

The body is the *new* text (``text/plain`` preferred, else ``text/html`` as
text); quoted reply history and forwarded blocks go to ``Message.quoted``.
Attached messages (``message/rfc822``, a forwarded PO) contribute their
documents, and their text as a forwarded block.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError, MessageError
from email.header import decode_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from bot.errors import UnreadableInput
from bot.model import Document, Message, RawMessage
from extractors import sniff as sniffing
from extractors.html_text import html_to_text
from extractors.quotes import split_quoted

# Header bomb guards: a real message has a few dozen headers of a few kB.
MAX_HEADERS = 500
MAX_HEADER_LENGTH = 64 * 1024
MAX_HEADER_BLOCK = 1024 * 1024
# MIME bomb guards.
MAX_PARTS = 1000
MAX_DEPTH = 16

_CORE_HEADERS = frozenset({"from", "to", "cc", "subject", "date", "message-id", "sender", "reply-to"})
_KEEP_HEADERS = _CORE_HEADERS | {"mime-version", "content-type", "content-transfer-encoding", "in-reply-to", "references"}
_HEADER_NAME = re.compile(rb"^[!-9;-~]{1,76}:")


def parse_message(raw: RawMessage) -> Message:
    """Parse ``raw.data``; raise ``UnreadableInput`` when it is not an email."""
    data = raw.data
    if not data or not data.strip():
        raise UnreadableInput(raw.name, "empty input: the file holds no bytes")
    digest = hashlib.sha256(data).hexdigest()
    _refuse_non_email(raw.name, data)

    defects: list[str] = []
    data = _defuse_headers(data, defects)
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
    except (MessageError, RecursionError, ValueError, TypeError, IndexError) as exc:
        raise UnreadableInput(raw.name, f"the email parser gave up: {exc}") from exc

    headers = _decoded_headers(msg, defects)
    names = {k.lower() for k, _ in headers}
    if not names & _CORE_HEADERS:
        raise UnreadableInput(
            raw.name,
            "no email header block: none of From, To, Subject, Date or Message-ID could be read",
        )

    def header(name: str) -> str | None:
        for k, v in headers:
            if k.lower() == name:
                return v
        return None

    sender, sender_name = _address(msg, "from", header("from"), defects)
    if sender is None:
        defects.append("no readable From address")
    reply_to, _ = _address(msg, "reply-to", header("reply-to"), defects)
    to = _addresses(header("to"))
    subject = " ".join((header("subject") or "").split())
    sent_at = _date(header("date"), defects)
    message_id = (header("message-id") or "").strip()
    if not message_id:
        message_id = f"<{digest}@orderbot.invalid>"
        defects.append("no Message-ID header; synthesised from the content hash")

    walker = _Walker(defects)
    try:
        walker.walk(msg, depth=0)
    except RecursionError:
        defects.append("MIME structure nested too deeply; rest ignored")
    if walker.parts_seen > MAX_PARTS:
        defects.append(f"more than {MAX_PARTS} MIME parts; the rest was ignored")

    split = split_quoted(walker.body_text(), subject)
    quoted = split.quoted
    if walker.attached_messages:
        quoted = (quoted + "\n" if quoted else "") + "\n".join(walker.attached_messages)
    for d in msg.defects:
        name = type(d).__name__
        if name not in ("MissingHeaderBodySeparatorDefect",) or not defects:
            defects.append(f"parser: {name}")

    return Message(
        message_id=message_id,
        sha256=digest,
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        to=to,
        subject=subject,
        sent_at=sent_at,
        body=split.new,
        quoted=quoted,
        documents=tuple(walker.documents),
        headers=tuple(headers),
        defects=tuple(dict.fromkeys(defects)),
    )


# --- refusing what is not an email -------------------------------------------


def _refuse_non_email(name: str, data: bytes) -> None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf\r\n\t ")
    kind = sniffing.sniff(data[:65536], None)
    if kind == sniffing.PDF:
        raise UnreadableInput(name, "this is a PDF file, not an email message")
    if kind in (sniffing.XLSX, sniffing.ZIP, sniffing.DOCX, sniffing.OLE) or kind.startswith("image/"):
        raise UnreadableInput(name, f"this is a {kind} file, not an email message")
    if b"\x00" in head[:1024]:
        raise UnreadableInput(name, "binary data, not an email message (NUL bytes in the header block)")
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"From ") and b"\n" in head:  # mbox "From " line
        first = head.split(b"\n", 2)[1].rstrip(b"\r")
    if not _HEADER_NAME.match(first):
        raise UnreadableInput(name, "no email header block: the first line is not a 'Name: value' header")


def _defuse_headers(data: bytes, defects: list[str]) -> bytes:
    """Cap the number and length of headers so a header bomb cannot stall parsing."""
    if data.startswith(b"From ") and b"\n" in data[:1024]:
        data = data.split(b"\n", 1)[1]  # mbox separator line
    end, sep = _header_end(data)
    block = data[:end]
    lines = block.split(b"\n")
    starts = [i for i, ln in enumerate(lines) if ln[:1] not in (b" ", b"\t") and ln.strip()]
    too_many = len(starts) > MAX_HEADERS
    too_long = end > MAX_HEADER_BLOCK or any(len(ln) > MAX_HEADER_LENGTH for ln in lines)
    if not too_many and not too_long:
        if end == len(data) and not sep:
            return data
        return data
    kept: list[bytes] = []
    count = 0
    dropped = 0
    size = 0
    starts.append(len(lines))
    for a, b in zip(starts, starts[1:], strict=False):
        header = b"\n".join(lines[a:b])
        hname = header.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        important = hname in _KEEP_HEADERS
        if len(header) > MAX_HEADER_LENGTH:
            header = header[:MAX_HEADER_LENGTH].rstrip(b"\r") + b"\r" * header.endswith(b"\r")
            defects.append(f"header {hname!r} longer than {MAX_HEADER_LENGTH} bytes; truncated")
        if (count >= MAX_HEADERS or size > MAX_HEADER_BLOCK) and not important:
            dropped += 1
            continue
        kept.append(header)
        count += 1
        size += len(header)
    if dropped:
        defects.append(f"header bomb: {dropped} headers beyond the first {MAX_HEADERS} were ignored")
    newline = b"\r\n" if b"\r\n" in block[:2000] else b"\n"
    rebuilt = b"\n".join(kept).rstrip(b"\r\n") + newline + newline
    return rebuilt + data[end:].lstrip(b"\r\n") if sep else rebuilt


def _header_end(data: bytes) -> tuple[int, bytes]:
    """Offset of the blank line ending the header block, and the separator found."""
    best = None
    for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        i = data.find(sep)
        if i >= 0 and (best is None or i < best[0]):
            best = (i + len(sep), sep)
    return best if best else (len(data), b"")


# --- headers -------------------------------------------------------------------


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; an unknown or wrong charset falls back to a guess."""
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except (HeaderParseError, ValueError, IndexError):
        return value
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset and sniffing.known_charset(charset):
            out.append(chunk.decode(charset, errors="replace"))
        elif charset:
            out.append(sniffing.decode_text(chunk).text)
        else:
            out.append(chunk.decode("ascii", errors="replace"))
    return "".join(out)


def _decoded_headers(msg: EmailMessage, defects: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, raw_value in msg.raw_items():
        value = raw_value if isinstance(raw_value, str) else str(raw_value)
        if re.search("[\udc80-\udcff]", value):
            # raw 8-bit bytes in a header (not RFC 2047 encoded): guess the charset
            value = sniffing.decode_text(value.encode("utf-8", "surrogateescape")).text
            defects.append(f"8-bit bytes in header {name!r}; charset guessed")
        try:
            value = _decode_words(value)
        except Exception as exc:  # noqa: BLE001 - any broken header keeps its raw text
            defects.append(f"header {name!r} could not be decoded: {exc}")
        value = re.sub(r"\r?\n[ \t]+", " ", value).strip()
        out.append((str(name), value))
    return out


def _address(msg: EmailMessage, name: str, fallback: str | None, defects: list[str]) -> tuple[str | None, str | None]:
    display, addr = None, None
    try:
        header = msg[name]
        if header is not None and getattr(header, "addresses", None):
            first = header.addresses[0]
            addr = first.addr_spec or None
            display = first.display_name or None
    except (HeaderParseError, IndexError, ValueError, TypeError, AttributeError) as exc:
        defects.append(f"{name} header unparsable ({exc}); read leniently")
    if not addr and fallback:
        display, addr = parseaddr(fallback)
        if not addr:
            m = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", fallback)
            addr = m.group(0) if m else None
    if addr and "@" not in addr:
        addr = None
    if display and re.search("[\ufffd\udc80-\udcff]", display) and fallback:
        better, _ = parseaddr(fallback)
        display = better or display
    if display:
        display = _decode_words(display).strip().strip('"').strip() or None
    return (addr.strip().strip("<>").lower() if addr else None), display


def _addresses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    out = []
    for _, addr in getaddresses([value]):
        if addr and "@" in addr:
            out.append(addr.strip().lower())
    return tuple(dict.fromkeys(out))


def _date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        defects.append("no Date header")
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        defects.append(f"unreadable Date header {value[:60]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- parts ---------------------------------------------------------------------


class _Walker:
    """Collects body texts and documents from a MIME tree, depth-first."""

    def __init__(self, defects: list[str]) -> None:
        self.defects = defects
        self.plain: list[str] = []
        self.html: list[str] = []
        self.documents: list[Document] = []
        self.attached_messages: list[str] = []
        self.parts_seen = 0
        self._names: set[str] = set()

    def body_text(self) -> str:
        plain = "\n".join(t for t in self.plain if t.strip())
        if plain.strip():
            return plain
        return "\n".join(html_to_text(h) for h in self.html if h.strip())

    def walk(self, part: EmailMessage, depth: int, in_alternative: bool = False) -> None:
        self.parts_seen += 1
        if self.parts_seen > MAX_PARTS:
            return
        if depth > MAX_DEPTH:
            self.defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts ignored")
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart() and ctype != "message/delivery-status"):
            self._attached_message(part, depth)
            return
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                return
            if ctype == "multipart/alternative":
                self._alternative(children, depth)
            else:
                for child in children:
                    if isinstance(child, EmailMessage):
                        self.walk(child, depth + 1)
            return
        self._leaf(part)

    def _alternative(self, children: list, depth: int) -> None:
        """Of alternatives, the body is text/plain if there is one, else HTML; other
        alternatives (e.g. a multipart/related HTML with images) are walked for documents."""
        plain_done = False
        for child in children:
            if not isinstance(child, EmailMessage):
                continue
            if child.get_content_type() == "text/plain" and not _is_attachment(child) and not plain_done:
                text = self._text(child)
                if text.strip():
                    self.plain.append(text)
                    plain_done = True
        for child in children:
            if not isinstance(child, EmailMessage):
                continue
            ctype = child.get_content_type()
            if ctype == "text/plain" and not _is_attachment(child):
                continue
            if ctype == "text/html" and not _is_attachment(child):
                if not plain_done:
                    self.html.append(self._text(child))
                continue
            if child.is_multipart() and plain_done:
                # collect documents only (their HTML is the same body again)
                sub = _Walker(self.defects)
                sub.parts_seen = self.parts_seen
                sub._names = self._names
                sub.walk(child, depth + 1)
                self.parts_seen = sub.parts_seen
                self.documents.extend(sub.documents)
                self.attached_messages.extend(sub.attached_messages)
                continue
            self.walk(child, depth + 1)

    def _leaf(self, part: EmailMessage) -> None:
        ctype = part.get_content_type()
        attachment = _is_attachment(part)
        if not attachment and ctype == "text/plain":
            self.plain.append(self._text(part))
            return
        if not attachment and ctype == "text/html":
            self.html.append(self._text(part))
            return
        data = _payload_bytes(part)
        if data is None:
            self.defects.append(f"part {ctype} has no readable payload")
            return
        filename = _filename(part)
        sniffed = sniffing.sniff(data, filename)
        if sniffing.is_image(sniffed) and _is_body_image(part, filename, data):
            return  # logos and pasted pictures in the body are not documents
        if not filename and not attachment:
            if ctype.startswith("text/") and sniffed not in sniffing.SPREADSHEETS:
                self.plain.append(self._text(part))
                return
            if sniffed == sniffing.OCTET and not data.strip():
                return
        if sniffed == sniffing.EMAIL:
            self._attached_bytes(data, filename)
            return
        name = self._unique(filename or _synth_name(sniffed, len(self.documents) + 1))
        self.documents.append(Document(name=name, content_type=sniffed, data=data, declared_type=ctype))

    def _unique(self, name: str) -> str:
        base, n = name, 2
        while name in self._names:
            stem, dot, ext = base.rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot else f"{base} ({n})"
            n += 1
        self._names.add(name)
        return name

    def _text(self, part: EmailMessage) -> str:
        charset = part.get_content_charset()
        try:
            text = part.get_content()
            if not isinstance(text, str):
                raise TypeError("not text")
        except (LookupError, UnicodeError, TypeError, ValueError, AssertionError) as exc:
            data = _payload_bytes(part) or b""
            decoded = sniffing.decode_text(data, charset if sniffing.known_charset(charset) else None)
            self.defects.append(
                f"text part with charset {charset!r} could not be decoded ({type(exc).__name__}); "
                f"read as {decoded.charset}"
            )
            text = decoded.text
        else:
            if "\ufffd" in text:
                data = _payload_bytes(part) or b""
                decoded = sniffing.decode_text(data)
                if decoded.text.count("\ufffd") < text.count("\ufffd"):
                    self.defects.append(f"text part is not valid {charset or 'ascii'}; read as {decoded.charset}")
                    text = decoded.text
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        params = {k.lower(): (v or "").lower() for k, v in part.get_params() or [] if isinstance(k, str)}
        if params.get("format") == "flowed" and part.get_content_type() == "text/plain":
            text = _unflow(text, params.get("delsp") == "yes")
        return text

    def _attached_message(self, part: EmailMessage, depth: int) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, EmailMessage):
            data = _payload_bytes(part)
            if data:
                self._attached_bytes(data, _filename(part))
            return
        self._absorb(inner, depth)

    def _attached_bytes(self, data: bytes, filename: str | None) -> None:
        try:
            inner = BytesParser(policy=policy.default).parsebytes(data)
        except (MessageError, ValueError, RecursionError, TypeError, IndexError):
            self.defects.append(f"attached message {filename or ''} unreadable; ignored")
            return
        self._absorb(inner, 0)

    def _absorb(self, inner: EmailMessage, depth: int) -> None:
        sub = _Walker(self.defects)
        sub.parts_seen = self.parts_seen
        sub._names = self._names
        sub.walk(inner, depth + 1)
        self.parts_seen = sub.parts_seen
        self.documents.extend(sub.documents)
        head = ["---------- Forwarded message ---------"]
        for name in ("From", "Date", "Subject", "To"):
            try:
                value = inner.get(name)
            except (HeaderParseError, ValueError, IndexError, TypeError):
                value = None
            if value:
                head.append(f"{name}: {' '.join(_decode_words(str(value)).split())}")
        text = sub.body_text().strip("\n")
        block = "\n".join(head) + "\n\n" + text + "\n"
        self.attached_messages.append(block)
        self.attached_messages.extend(sub.attached_messages)


# An image referenced from the HTML body (Content-ID) up to this size is a logo or
# a pasted picture; a larger one may be a photographed or scanned order.
MAX_BODY_IMAGE = 64 * 1024


def _is_body_image(part: EmailMessage, filename: str | None, data: bytes) -> bool:
    if not filename or part.get_content_disposition() == "inline":
        return True
    return bool(part.get("Content-ID")) and len(data) <= MAX_BODY_IMAGE


def _is_attachment_disposition(part: EmailMessage) -> bool:
    return part.get_content_disposition() == "attachment"


def _is_attachment(part: EmailMessage) -> bool:
    return _is_attachment_disposition(part) or bool(_filename(part))


def _filename(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except (HeaderParseError, ValueError, IndexError, TypeError, LookupError):
        name = None
    if not name:
        return None
    name = _decode_words(str(name)).strip().replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f]", "", name)
    return name or None


def _payload_bytes(part: EmailMessage) -> bytes | None:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        return None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return None


_EXTENSIONS = {
    sniffing.PDF: "pdf",
    sniffing.XLSX: "xlsx",
    sniffing.XLS: "xls",
    sniffing.CSV: "csv",
    sniffing.XML: "xml",
    sniffing.HTML: "html",
    sniffing.TEXT: "txt",
    sniffing.ZIP: "zip",
    sniffing.DOCX: "docx",
    sniffing.ODS: "ods",
}


def _synth_name(mime: str, n: int) -> str:
    ext = _EXTENSIONS.get(mime) or (mime.split("/", 1)[1] if mime.startswith("image/") else "bin")
    return f"attachment-{n}.{ext}"


def _unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676)."""
    out: list[str] = []
    buf = ""
    for line in text.split("\n"):
        quote = re.match(r"^>+ ?", line)
        content = line
        if line == "-- ":
            if buf:
                out.append(buf)
                buf = ""
            out.append(line)
            continue
        if content.endswith(" ") and not (quote and content.strip(">") == " "):
            buf += content[:-1] if delsp else content
            continue
        out.append(buf + content)
        buf = ""
    if buf:
        out.append(buf)
    return "\n".join(out)
