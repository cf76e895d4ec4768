"""Tell the new text of an email from quoted history, forwarded messages and signatures.

A reply carries the conversation below it ("On ... wrote:", "> " lines, Outlook
"From: / Sent: / To: / Subject:" blocks); a forward carries another message
("---------- Forwarded message ---------"). Extractors read the *new* text,
so that a PO number in reply history is never taken for the order, but a
forward whose cover note is empty ("FYI", "please process") *is* the order:
``order_text`` gives the text to read then, still without any reply history.

All markers are words in ``vocabulary/text.yaml``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from extractors.normalise import fold

VOCABULARY = Path(__file__).parent / "vocabulary" / "text.yaml"


@cache
def text_vocabulary() -> dict:
    """The parsed ``text.yaml`` (shared by quotes, text and classify)."""
    return yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))


def phrase_pattern(phrases, *, flags: int = re.I) -> re.Pattern[str]:
    """One regex matching any of ``phrases`` as whole words (longest first).

    A phrase ending in '*' matches any word ending. Word boundaries are only
    required next to letters/digits, so "加急" and "po #" work too.
    """
    parts = []
    for phrase in sorted({str(p) for p in phrases if str(p).strip()}, key=len, reverse=True):
        wildcard = phrase.endswith("*")
        core = phrase[:-1] if wildcard else phrase
        body = r"\s+".join(re.escape(w) for w in core.split())
        left = r"(?<![^\W_])" if _wordlike(core[:1]) else ""
        if wildcard:
            right = r"\w*"
        else:
            right = r"(?![^\W_])" if _wordlike(core[-1:]) else ""
        parts.append(left + body + right)
    if not parts:
        return re.compile(r"(?!x)x")
    return re.compile("|".join(parts), flags)


def _wordlike(ch: str) -> bool:
    """A letter or digit of a script that separates words by spaces (not CJK)."""
    return bool(ch) and ch.isalnum() and not ("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")


@cache
def _negation() -> re.Pattern[str]:
    words = sorted({str(w) for w in text_vocabulary()["negations"]}, key=len, reverse=True)
    alt = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![^\W_])(?:{alt})\s*(?:[^\W\d_]+\s+)?$", re.I)


def is_negated(text: str, start: int) -> bool:
    """True when a negation ("not", "kein", "pas", "不") stands just before ``start``."""
    return bool(_negation().search(text[max(0, start - 20) : start]))


# --- subject prefixes -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectPrefixes:
    reply: bool  # the outermost prefix is a reply prefix (RE:, AW:, ...)
    forward: bool  # the outermost prefix is a forward prefix (FW:, WG:, TR:, ...)
    rest: str  # the subject without its prefixes


def subject_prefixes(subject: str) -> SubjectPrefixes:
    q = text_vocabulary()["quotes"]
    reply_words = {fold(str(w)) for w in q["reply_subject_prefixes"]}
    fwd_words = {fold(str(w)) for w in q["forward_subject_prefixes"]}
    rest = subject or ""
    first: str | None = None
    prefix = re.compile(r"^\s*(?:\[[^\]]{0,40}\]\s*)?([^\W\d_]{1,6}|[\u4e00-\u9fff]{2})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*")
    while True:
        m = prefix.match(rest)
        if not m:
            break
        word = fold(m.group(1))
        if word in reply_words:
            kind = "reply"
        elif word in fwd_words:
            kind = "forward"
        else:
            break
        first = first or kind
        rest = rest[m.end() :]
    return SubjectPrefixes(first == "reply", first == "forward", rest.strip())


# --- markers --------------------------------------------------------------


class BlockKind(enum.StrEnum):
    REPLY = "reply"  # quoted history of a conversation: never order content
    FORWARD = "forward"  # a forwarded message: may be the order


@dataclass(frozen=True, slots=True)
class QuotedBlock:
    kind: BlockKind
    start: int  # offset of the marker in the split text
    header: str  # the marker line and any header lines (From:, Date:, Subject:, ...)
    text: str  # the quoted message itself, one level of "> " removed
    subject: str = ""  # the Subject: of a quoted/forwarded header block, if any


@dataclass(frozen=True, slots=True)
class SplitText:
    new: str
    quoted: str
    blocks: tuple[QuotedBlock, ...] = ()

    @property
    def forwards(self) -> tuple[QuotedBlock, ...]:
        return tuple(b for b in self.blocks if b.kind is BlockKind.FORWARD)


@dataclass(frozen=True, slots=True)
class _Markers:
    attribution: tuple[re.Pattern[str], ...]
    original: frozenset[str]
    forwarded: frozenset[str]
    header: dict[str, re.Pattern[str]]
    any_header: re.Pattern[str]


@cache
def _markers() -> _Markers:
    q = text_vocabulary()["quotes"]
    attribution = tuple(re.compile(p, re.I) for p in q["reply_attribution"])
    header = {}
    names_all = []
    for role, names in q["header_names"].items():
        alts = "|".join(re.escape(str(n)) for n in sorted(names, key=len, reverse=True))
        names_all.append(alts)
        header[role] = re.compile(rf"^\s*\*?\s*(?:{alts})\s*\*?\s*[:：]", re.I)
    any_header = re.compile(rf"^\s*\*?\s*(?:{'|'.join(names_all)})\s*\*?\s*[:：]", re.I)
    return _Markers(
        attribution,
        frozenset(fold(str(s)) for s in q["original_message"]),
        frozenset(fold(str(s)) for s in q["forwarded_message"]),
        header,
        any_header,
    )


def _separator_words(line: str) -> str:
    return fold(line.strip().strip("-_*=~<> \t").strip(":").strip())


def _is_separator(line: str, words: frozenset[str]) -> bool:
    core = _separator_words(line)
    if not core or core not in words:
        return False
    # A marker sits on its own line, usually framed by dashes, or ends with ':'.
    return True


def _is_attribution(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 400 or s.startswith(">"):
        return False
    return any(p.search(s) for p in _markers().attribution)


def _outlook_block_at(lines: list[str], i: int) -> int:
    """Number of header lines of an Outlook-style block starting at line ``i`` (0 if none)."""
    m = _markers()
    if not m.header["from"].match(_unquote(lines[i])):
        return 0
    seen = {"from"}
    j = i + 1
    while j < len(lines) and j < i + 12:
        line = _unquote(lines[j])
        if not line.strip():
            break
        matched = False
        for role in ("sent", "to", "cc", "subject"):
            if m.header[role].match(line):
                seen.add(role)
                matched = True
                break
        if not matched and not line[:1].isspace():
            # continuation of a long To: line is allowed, other text ends the block
            if "subject" in seen:
                break
            if not (j > i and ("to" in seen or "cc" in seen)):
                break
        j += 1
    if "subject" in seen and ("sent" in seen or "to" in seen):
        return j - i
    return 0


def _unquote(line: str) -> str:
    return re.sub(r"^\s*(?:>\s?)+", "", line)


def _quote_level(line: str) -> int:
    m = re.match(r"^\s*((?:>\s?)+)", line)
    return m.group(1).count(">") if m else 0


@dataclass(frozen=True, slots=True)
class _Cut:
    line: int
    kind: BlockKind | None  # None: decided by the subject (Outlook blocks, "Original Message")
    header_lines: int


def _find_cut(lines: list[str], start: int) -> _Cut | None:
    m = _markers()
    for i in range(start, len(lines)):
        line = lines[i]
        if _quote_level(line):
            continue
        if _is_separator(line, m.forwarded) or re.match(r"^\s*begin forwarded message\s*:?\s*$", line, re.I):
            return _Cut(i, BlockKind.FORWARD, 1)
        if _is_separator(line, m.original):
            return _Cut(i, None, 1)
        if _is_attribution(line):
            return _Cut(i, BlockKind.REPLY, 1)
        if i + 1 < len(lines) and len(lines[i].strip()) > 10 and not lines[i + 1].startswith(">"):
            # a long attribution wrapped over two lines ("On ... <x@y.com>" / "wrote:")
            joined = lines[i].strip() + " " + lines[i + 1].strip()
            if any(p.search(joined) for p in m.attribution if not p.pattern.startswith("^.{")):
                return _Cut(i, BlockKind.REPLY, 2)
        if re.match(r"^\s*_{8,}\s*$", line) and i + 1 < len(lines):
            n = _outlook_block_at(lines, i + 1)
            if n:
                return _Cut(i, None, n + 1)
        n = _outlook_block_at(lines, i)
        if n:
            return _Cut(i, None, n)
    return None


def _header_subject(header_lines: list[str]) -> str:
    subj = _markers().header["subject"]
    for line in header_lines:
        u = _unquote(line)
        if subj.match(u):
            return u.split(":", 1)[1].strip() if ":" in u else u.split("：", 1)[1].strip()
    return ""


def _skip_header_lines(lines: list[str], i: int) -> int:
    """After a forward marker, skip the From:/Date:/Subject:/To: lines that follow."""
    m = _markers()
    j = i
    while j < len(lines) and not lines[j].strip():
        j += 1
    k = j
    while k < len(lines) and m.any_header.match(_unquote(lines[k])):
        k += 1
        while k < len(lines) and lines[k][:1] in (" ", "\t") and lines[k].strip():
            k += 1
    return k if k > j else i


def split_quoted(text: str, subject: str = "") -> SplitText:
    """Split ``text`` into the new text and the quoted/forwarded history below it.

    ``subject`` decides whether an Outlook header block or an "Original Message"
    separator starts a forward (FW:/WG:/TR: subject) or reply history.
    """
    if not text:
        return SplitText("", "")
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    prefixes = subject_prefixes(subject)
    default_kind = BlockKind.FORWARD if prefixes.forward else BlockKind.REPLY

    cut = _find_cut(lines, 0)
    end = cut.line if cut else len(lines)

    new_lines: list[str] = []
    blocks: list[QuotedBlock] = []
    quoted_parts: list[str] = []
    i = 0
    while i < end:
        if _quote_level(lines[i]):
            j = i
            while j < end and (_quote_level(lines[j]) or not lines[j].strip()):
                j += 1
            chunk = lines[i:j]
            quoted_parts.append("".join(chunk))
            blocks.append(
                QuotedBlock(BlockKind.REPLY, offsets[i], "", "".join(_strip_one_level(x) for x in chunk))
            )
            # the attribution line right above a '>' block belongs to it
            i = j
            continue
        new_lines.append(lines[i])
        i += 1

    if cut:
        rest = lines[cut.line :]
        quoted_parts.append("".join(rest))
        blocks.extend(_blocks(lines, cut, offsets, default_kind))

    new = "".join(new_lines).rstrip() + ("\n" if new_lines and "".join(new_lines).strip() else "")
    new = new.strip("\n") + ("\n" if new.strip() else "")
    quoted = "".join(quoted_parts).strip("\n")
    return SplitText(new if new.strip() else "", quoted + ("\n" if quoted else ""), tuple(blocks))


def _strip_one_level(line: str) -> str:
    return re.sub(r"^(\s*)>\s?", r"\1", line, count=1)


def _blocks(lines: list[str], cut: _Cut, offsets: list[int], default_kind: BlockKind) -> list[QuotedBlock]:
    """The top-level blocks from ``cut`` on: each marker starts a block."""
    blocks: list[QuotedBlock] = []
    current: _Cut | None = cut
    while current is not None:
        header_end = current.line + current.header_lines
        if current.kind is BlockKind.FORWARD:
            header_end = _skip_header_lines(lines, header_end)
        elif current.kind is None:
            header_end = _skip_header_lines(lines, header_end)
        nxt = _find_cut(lines, header_end) if current.kind is not BlockKind.FORWARD else None
        if current.kind is BlockKind.REPLY:
            # A reply block runs to the end (its own history is nested in it).
            nxt = None
        stop = nxt.line if nxt else len(lines)
        header = "".join(lines[current.line : header_end])
        body_lines = lines[header_end:stop]
        kind = current.kind or default_kind
        if kind is BlockKind.REPLY:
            body = "".join(_strip_one_level(x) if _quote_level(x) else x for x in body_lines)
        else:
            body = "".join(body_lines)
        blocks.append(
            QuotedBlock(kind, offsets[current.line], header, body.strip("\n") + "\n" if body.strip() else "",
                        _header_subject(lines[current.line : header_end]))
        )
        current = nxt
    return blocks


# --- forwards ----------------------------------------------------------------


def forwarded_text(quoted: str, subject: str = "", *, _depth: int = 0) -> str:
    """The own text of the message(s) forwarded in ``quoted``: their new text only.

    Reply history inside a forwarded message (its "On ... wrote:" part) is left
    out, so a PO number quoted there is never read as the order's.
    """
    if not quoted or _depth > 5:
        return ""
    split = split_quoted(quoted, subject)
    parts: list[str] = []
    for block in split.blocks:
        if block.kind is not BlockKind.FORWARD:
            continue
        inner = split_quoted(block.text, block.subject)
        if inner.new.strip():
            parts.append(inner.new.strip("\n"))
        nested = "".join(b.header + b.text for b in inner.forwards)
        if nested:
            deeper = forwarded_text(nested, "FW: " + block.subject, _depth=_depth + 1)
            if deeper:
                parts.append(deeper.strip("\n"))
    return "\n\n".join(parts) + ("\n" if parts else "")


def is_cover_note(text: str) -> bool:
    """True when ``text`` (a forward's new text) says no more than "here it is".

    After the signature is cut off: empty, made only of cover phrases, greetings
    and closings, or a few short sentences with no list, table or quantity lines.
    """
    body = text[: signature_start(text)]
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    if not lines:
        return True
    for line in lines:
        if re.match(r"^(?:[-*•·–]|\d{1,3}[.)]\s|\(\d{1,3}\))", line) or "\t" in line or " | " in line:
            return False
        if re.search(r"\b\d+(?:[.,]\d+)?\s*(?:x|×)\s", line):
            return False
    remaining = _cover_phrases().sub(" ", " ".join(lines))
    words = re.findall(r"[^\W_]+", remaining)
    return len(words) <= 30


@cache
def _cover_phrases() -> re.Pattern[str]:
    return phrase_pattern(text_vocabulary()["cover_notes"])


def order_text(body: str, quoted: str, subject: str = "") -> str:
    """The text an order should be read from.

    Normally the new text. When the message forwards another message and its own
    text is only a cover note, the forwarded message's own text is added below
    it (without that message's reply history).
    """
    if not quoted or not is_cover_note(body):
        return body
    forwarded = forwarded_text(quoted, subject)
    if not forwarded.strip():
        return body
    cover = body[: signature_start(body)]  # the cover's own closing must not end the order
    if not cover.strip():
        return forwarded
    return cover.rstrip("\n") + "\n\n" + forwarded


# --- signatures --------------------------------------------------------------


@cache
def _closing_pattern() -> re.Pattern[str]:
    words = text_vocabulary()["signature"]["closings"]
    alts = "|".join(r"\s+".join(re.escape(w) for w in str(p).split()) for p in sorted(words, key=len, reverse=True))
    # the closing alone on its line, or followed by a name ("Thanks, Anna")
    return re.compile(
        rf"^\s*(?:{alts})\s*(?:[,.!:;，。！]+\s*(?:[^\W\d_][\w.'-]*(?:\s+[^\W\d_][\w.'-]*){{0,2}})?)?\s*[,.!，。！]*\s*$",
        re.I,
    )


@cache
def _contact_pattern() -> re.Pattern[str]:
    cues = text_vocabulary()["signature"]["contact_cues"]
    alts = "|".join(re.escape(str(c)).rstrip(r"\.") for c in sorted(cues, key=len, reverse=True))
    return re.compile(
        rf"^\s*(?:(?:{alts})\.?\s*[:.]?\s*[+(]?\d|www\.|https?://|\S+@\S+\.\w+\s*$|[+]\d[\d ()/.-]{{6,}}$)",
        re.I,
    )


def signature_start(text: str) -> int:
    """Offset where the closing and signature of ``text`` start (``len(text)`` if none).

    The signature is the part from a closing line ("Best regards", "Mit
    freundlichen Grüßen", "Thanks!") or a "-- " delimiter to the end, provided
    what follows is short; failing that, a last paragraph of contact details.
    """
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    closing = _closing_pattern()
    delims = {str(d).strip() for d in text_vocabulary()["signature"]["delimiters"]}
    remaining = [0] * (len(lines) + 1)  # non-empty lines after each line
    for i in range(len(lines) - 1, -1, -1):
        remaining[i] = remaining[i + 1] + (1 if lines[i].strip() else 0)
    for i, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if remaining[i + 1] > 20:
            continue
        if stripped.strip() in delims and stripped.strip() and (stripped == "-- " or stripped.strip() in ("--", "__", "—")):
            return offsets[i]
        if stripped.strip() and closing.match(stripped) and i > 0:
            return offsets[i]
    # no closing: a trailing paragraph with contact lines
    contact = _contact_pattern()
    paragraphs: list[tuple[int, int]] = []
    start = None
    for i, line in enumerate(lines):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            paragraphs.append((start, i))
            start = None
    if start is not None:
        paragraphs.append((start, len(lines)))
    if len(paragraphs) >= 2:
        first, last = paragraphs[-1]
        if any(contact.match(lines[k]) for k in range(first, last)):
            return offsets[first]
    return len(text)


def strip_signature(text: str) -> str:
    return text[: signature_start(text)]
