"""Header fields of a PDF purchase order, by label proximity.

A label is a phrase from ``vocabulary/labels.yaml`` matched word by word on a
line (case-insensitive, an optional trailing ``:``). Its value is the text to
its right on the same line (up to the next column gap, ruling or label), else
the text directly below it in the same column. Address blocks (ship-to,
bill-to, vendor) are the lines under or right of their label, bounded by the
neighbouring columns, ruling lines and vertical gaps.

Each label match has a quality: 3 with a colon, 2 when it stands alone in its
column segment (a caption or header cell), 1 at the start of running text,
0 inside a sentence. Sentences ("please quote our PO number on all delivery
notes") therefore never give values.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from bot.model import MISSING, Address, Field, Provenance
from extractors.context import ExtractionContext
from extractors.lines import (
    day_first_evidence,
    fold_label,
    has_cjk,
    is_number_like,
    label_vocabulary,
    parse_address,
    parse_amount,
    read_date,
    read_po_number,
    urgent_phrase,
)
from extractors.normalise import normalise_country, normalise_currency

if TYPE_CHECKING:
    from extractors.pdf import PageText, TextLine, Word

# Sections of labels.yaml searched on every line. Earlier sections win when
# the same phrase is in two of them ("carried forward" is also a total).
LABEL_SECTIONS = (
    "carried_forward",
    "charges",
    "tax",
    "po_number",
    "order_date",
    "delivery_date",
    "ship_to",
    "bill_to",
    "vendor",
    "currency",
    "total",
    "notes",
    "customer_name",
)
AMOUNT_SECTIONS = ("total", "tax", "charges", "carried_forward")


def fold_token(text: str) -> str:
    return text.lower().strip().rstrip(":：").rstrip(".").strip("*")


@cache
def _phrase_index() -> dict[str, tuple[tuple[tuple[str, ...], str, str], ...]]:
    """First token -> (tokens, section, phrase), longest first."""
    vocab = label_vocabulary()
    index: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
    seen: set[str] = set()
    for section in LABEL_SECTIONS:
        for phrase in vocab.phrases(section):
            tokens = tuple(fold_token(t) for t in phrase.split())
            key = " ".join(tokens)
            if not tokens or key in seen:
                continue
            seen.add(key)
            index.setdefault(tokens[0], []).append((tokens, section, phrase))
    return {k: tuple(sorted(v, key=lambda e: (-len(e[0]), -len(e[2])))) for k, v in index.items()}


@dataclass(frozen=True)
class Hit:
    """A label found on a line: words [start, end), the value starting at value_start."""

    section: str
    line: TextLine
    start: int
    end: int
    value_start: int
    colon: bool
    quality: int
    phrase: str

    @property
    def x0(self) -> float:
        return self.line.words[self.start].x0

    @property
    def x1(self) -> float:
        return self.line.words[self.end - 1].x1

    @property
    def words(self) -> tuple[Word, ...]:
        return self.line.words[self.start : self.end]


def line_hits(line: TextLine) -> tuple[Hit, ...]:
    """Every label on a line, longest match first, bilingual neighbours merged."""
    cached = line.memo.get("hits")
    if cached is not None:
        return cached  # type: ignore[return-value]
    words = line.words
    tokens = [fold_token(w.text) for w in words]
    index = _phrase_index()
    candidates: list[tuple[int, int, int, str, str]] = []
    for i, token in enumerate(tokens):
        for phrase_tokens, section, phrase in index.get(token, ()):
            n = len(phrase_tokens)
            if tuple(tokens[i : i + n]) != phrase_tokens:
                continue
            span = words[i : i + n]
            if any(w.text.rstrip().endswith((":", "：")) for w in span[:-1]):
                continue
            if any(b.x0 - a.x1 > 1.5 * max(a.size, b.size) for a, b in zip(span, span[1:], strict=False)):
                continue
            candidates.append((n, len(phrase), i, section, phrase))
    taken: list[tuple[int, int, str, str]] = []
    used: set[int] = set()
    for n, _, i, section, phrase in sorted(candidates, key=lambda c: (-c[0], -c[1], c[2])):
        if used.intersection(range(i, i + n)):
            continue
        used.update(range(i, i + n))
        taken.append((i, i + n, section, phrase))
    taken.sort()
    merged: list[list] = []
    for start, end, section, phrase in taken:
        if merged and merged[-1][2] == section and merged[-1][1] == start:
            merged[-1][1] = end  # "采购单号 PO No.", "币种 Currency"
            merged[-1][3] = f"{merged[-1][3]} {phrase}"
        else:
            merged.append([start, end, section, phrase])
    hits: list[Hit] = []
    for start, end, section, phrase in merged:
        colon = words[end - 1].text.rstrip().endswith((":", "："))
        value_start = end
        while value_start < len(words) and words[value_start].text in (":", "：", "#", "-", "–"):
            colon = colon or words[value_start].text in (":", "：")
            value_start += 1
        seg_start, seg_end = line.segment_of(start)
        if colon:
            quality = 3
        elif start == seg_start and end == seg_end:
            quality = 2
        elif start == seg_start:
            quality = 1
        else:
            quality = 0
        hits.append(Hit(section, line, start, end, value_start, colon, quality, phrase))
    result = tuple(hits)
    line.memo["hits"] = result
    return result


def hit_at(line: TextLine, index: int, min_quality: int = 1) -> Hit | None:
    for hit in line_hits(line):
        if hit.start == index and hit.quality >= min_quality:
            return hit
    return None


# --- values next to labels ---------------------------------------------------------


def _cut_at_rules(page: PageText, line: TextLine, start: int, end: int) -> tuple[Word, ...]:
    words = line.words
    out = [words[start]]
    for j in range(start + 1, end):
        if page.vertical_rule_between(out[-1].x1, words[j].x0, line.top, line.bottom):
            break
        out.append(words[j])
    return tuple(out)


def value_right(hit: Hit, page: PageText, *, typed: bool = False) -> tuple[Word, ...]:
    """The words right of a label on its line, up to the next column gap, ruling or label.

    After a colon the value may sit in a column of its own; a caption without
    one ("Ship To", "币种 Currency") only takes text close to it, unless the
    value is ``typed`` (a date, a PO number: the caller checks its form, so a
    value right-aligned across a key/value box is fine).
    """
    line, k = hit.line, hit.value_start
    if k >= len(line.words):
        return ()
    first = line.words[k]
    reach = 0.45 * page.width if typed else (0.3 * page.width if hit.colon else 6 * line.size)
    if first.x0 - hit.x1 > reach or hit_at(line, k) is not None:
        return ()
    _, seg_end = line.segment_of(k)
    out = [first]
    for j in range(k + 1, seg_end):
        word = line.words[j]
        if hit_at(line, j, min_quality=2) is not None:
            break
        if page.vertical_rule_between(out[-1].x1, word.x0, line.top, line.bottom):
            break
        out.append(word)
    return tuple(out)


def lines_below(page: PageText, line: TextLine, max_distance: float) -> Iterable[TextLine]:
    for other in page.lines[line.index + 1 :]:
        if other.top - line.bottom > max_distance:
            return
        yield other


def value_below(hit: Hit, page: PageText) -> tuple[Word, ...]:
    """The text under a label in the same column (a header cell and its value)."""
    tol = 0.5 * hit.line.size
    for line in lines_below(page, hit.line, 2.6 * hit.line.size * 1.3):
        idx = [j for j, w in enumerate(line.words) if w.x1 > hit.x0 - tol and w.x0 < hit.x1 + tol]
        if not idx:
            continue
        start, end = line.segment_of(idx[0])
        if any(hit_at(line, j) is not None for j in range(start, end)):
            return ()  # another label row: the label is a caption without a value
        return _cut_at_rules(page, line, start, end)
    return ()


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words)


def _bbox(words: Sequence[Word]) -> tuple[float, float, float, float]:
    return (
        round(min(w.x0 for w in words), 2),
        round(min(w.top for w in words), 2),
        round(max(w.x1 for w in words), 2),
        round(max(w.bottom for w in words), 2),
    )


def provenance(source: str, page: int, words: Sequence[Word], rule: str) -> Provenance:
    return Provenance(source, page=page, bbox=_bbox(words) if words else None, rule=rule)


# --- field value readers ---------------------------------------------------------


def read_currency(text: str) -> str | None:
    for token in text.split()[:2]:
        token = token.strip(",;:()[]")
        if code := normalise_currency(token):
            return code
    return None


# --- totals ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Total:
    """An amount printed next to a total/tax/charges label."""

    kind: str  # total | tax | charges | carried_forward
    label: str
    amount: Decimal
    currency: str | None
    provenance: Provenance


def _amount_after(line: TextLine, start: int) -> tuple[Sequence[Word], str] | None:
    """The trailing amount of a line (``EUR 1,234.00``, ``9 995,00 €``), not a rate (``20%``)."""
    run: list[Word] = []
    for word in reversed(line.words[start:]):
        text = word.text
        if "%" in text:
            break
        if is_number_like(text) or (normalise_currency(text) and len(text) <= 3):
            run.insert(0, word)
            continue
        break
    if not run or not any(re.search(r"\d", w.text) for w in run):
        return None
    return run, _text(run)


def read_totals(
    pages: Sequence[PageText], *, source: str, decimal_comma: bool | None, skip: frozenset[tuple[int, int]]
) -> tuple[Total, ...]:
    totals: list[Total] = []
    for page in pages:
        for line in page.lines:
            if line.key in skip:
                continue
            for hit in line_hits(line):
                if hit.section not in AMOUNT_SECTIONS or hit.quality < 1:
                    continue
                found = _amount_after(line, hit.end)
                if found is None:
                    continue
                words, text = found
                amount, currency = parse_amount(text, decimal_comma=decimal_comma)
                if amount is None:
                    continue
                totals.append(
                    Total(hit.section, hit.phrase, amount, currency, provenance(source, page.number, words, f"total:{hit.phrase}"))
                )
                break
    return tuple(totals)


# --- address blocks ----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    hit: Hit
    rows: tuple[tuple[Word, ...], ...]
    keys: frozenset[tuple[int, int]]  # lines the block uses

    @property
    def texts(self) -> list[str]:
        return [_text(r) for r in self.rows]

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for r in self.rows for w in r)


def _starts_with_footer(text: str) -> bool:
    key = fold_label(text)
    return any(key == p or key.startswith(p + " ") or key.startswith(p + ":") for p in label_vocabulary().phrases("footer"))


def address_block(hit: Hit, page: PageText) -> Block:
    """The lines of the address under (or right of) a block label, within its column."""
    line, size = hit.line, hit.line.size
    tol = 1.5 * size
    right = value_right(hit, page)
    if right:
        col_left = max(right[0].x0 - tol, hit.x1 + 1)
        after = hit.value_start + len(right)
    else:
        col_left = hit.x0 - tol
        after = hit.value_start
        before = [w for w in line.words[: hit.start] if w.x1 <= hit.x0]
        if before:
            col_left = max(col_left, before[-1].x1 + 1)
    col_right = line.words[after].x0 - 1 if after < len(line.words) else page.width
    rows: list[tuple[Word, ...]] = [right] if right else []
    keys = {line.key}
    prev_top, pitch = line.top, None
    for other in page.lines[line.index + 1 :]:
        distance = other.top - prev_top
        limit = 2.6 * pitch if (rows and pitch) else (2.6 * size * 1.3 if rows else 4.5 * size)
        if distance > limit:
            break
        words = tuple(w for w in other.words if col_left <= w.x0 < col_right)
        if not words:
            continue
        if rows and page.horizontal_rule_between(prev_top + size, other.top, col_left + tol, col_right):
            break
        first_index = other.words.index(words[0])
        if hit_at(other, first_index, min_quality=2) is not None or _starts_with_footer(_text(words)):
            break
        if sum(1 for j in range(len(other.words)) if hit_at(other, j, min_quality=2)) >= 2:
            break
        rows.append(words)
        keys.add(other.key)
        if len(rows) >= 2:
            pitch = other.top - prev_top if pitch is None else min(pitch, other.top - prev_top)
        prev_top = other.top
        if len(rows) >= 2 and _is_country_line(_text(words)):
            break
        if len(rows) >= 7:
            break
    return Block(hit, tuple(rows), frozenset(keys))


def _is_country_line(text: str) -> bool:
    if re.search(r"\d", text):
        return False
    if normalise_country(text.strip(" ,.")):
        return True
    tokens = text.split()
    return len(tokens) <= 3 and any(len(t) > 2 and normalise_country(t) for t in tokens)


def _block_score(block: Block, address: Address | None) -> float:
    score = block.hit.quality * 10.0
    if address is not None:
        score += 6 * bool(address.postal_code) + 2 * bool(address.street) + 2 * bool(address.city) + bool(address.country)
    return score


# --- the header ----------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderFields:
    po_number: Field[str] = MISSING
    order_date: Field[date] = MISSING
    delivery_date: Field[date] = MISSING
    currency: Field[str] = MISSING
    ship_to: Field[Address] = MISSING
    customer_name: Field[str] = MISSING
    urgent: Field[bool] = Field(False, 0.5)
    notes: Field[str] = MISSING
    totals: tuple[Total, ...] = ()
    looks_like_order: bool = False


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: object
    score: float
    page: int
    top: float
    words: tuple[Word, ...]
    rule: str


def _best(candidates: list[_Candidate]) -> _Candidate | None:
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.score, -c.page, -c.top))


def _confidence(candidate: _Candidate, candidates: list[_Candidate]) -> float:
    base = {3: 0.95, 2: 0.9, 1: 0.75}.get(int(candidate.score // 100), 0.6)
    rivals = {repr(c.value) for c in candidates if c.score >= candidate.score - 1 and c.value != candidate.value}
    return base * (0.7 if rivals else 1.0)


def _candidates(
    pages: Sequence[PageText], lines: Sequence[TextLine], context: ExtractionContext
) -> dict[str, list[_Candidate]]:
    """Every labelled value of the scalar fields, scored by label quality and specificity."""
    all_lines = [line for page in pages for line in page.lines]
    body_size = statistics.median(w.size for line in all_lines for w in line.words) if all_lines else 10.0
    fields: dict[str, list[_Candidate]] = {"po_number": [], "order_date": [], "delivery_date": [], "currency": []}
    by_page = {page.number: page for page in pages}
    for line in lines:
        page = by_page[line.page]
        for hit in line_hits(line):
            if hit.section not in fields or hit.quality < 1:
                continue
            specificity = min(len(hit.phrase), 40)
            for how, words in (("right", value_right(hit, page, typed=True)), ("below", value_below(hit, page))):
                if not words:
                    continue
                text = _text(words)
                value: object
                if hit.section == "po_number":
                    # Under a caption a PO number stands alone in its cell; a
                    # longer text there (an address under a title) is none.
                    alone = how == "right" or len([w for w in words if fold_token(w.text) not in ("no", "nr", "#")]) <= 2
                    value = read_po_number(text) if alone else None
                elif hit.section == "currency":
                    value = read_currency(text)
                elif any(read_date(text, day_first=d, reference=context.reference_date) for d in (True, False)):
                    value = text  # read once the document's date order is known
                else:
                    value = None
                if value is None:
                    continue
                quality = hit.quality if not _is_title_size(hit, body_size) else min(hit.quality, 1)
                score = quality * 100 + specificity + (5 if how == "right" else 0)
                fields[hit.section].append(
                    _Candidate(value, score, page.number, line.top, words, f"label:{hit.phrase}:{how}")
                )
                break
    return fields


def page_po_numbers(pages: Sequence[PageText], context: ExtractionContext) -> list[str | None]:
    """The PO number each page names (its best labelled candidate), None where a page names none."""
    found: list[str | None] = []
    for page in pages:
        candidates = [c for c in _candidates([page], page.lines, context)["po_number"] if c.score >= 200]
        best = _best(candidates)
        found.append(str(best.value) if best else None)
    return found


def read_header(
    pages: Sequence[PageText],
    *,
    source: str,
    context: ExtractionContext,
    decimal_comma: bool | None,
    table_lines: frozenset[tuple[int, int]] = frozenset(),
    table_currency: str | None = None,
) -> HeaderFields:
    """Every header field of a PDF order, each with confidence and provenance."""
    all_lines = [line for page in pages for line in page.lines]
    header_lines = [line for line in all_lines if line.key not in table_lines]

    fields = _candidates(pages, header_lines, context)
    by_page = {page.number: page for page in pages}

    def pick(name: str) -> Field:
        best = _best(fields[name])
        if best is None:
            return MISSING
        return Field(best.value, _confidence(best, fields[name]), provenance(source, best.page, best.words, best.rule))

    ship_to, ship_block = _ship_to(pages, source)
    day_first = _day_first(all_lines, context, ship_to, pick("order_date"), pick("delivery_date"))

    def pick_date(name: str) -> Field[date]:
        found = pick(name)
        if not found.present:
            return MISSING
        value = read_date(str(found.value), day_first=day_first, reference=context.reference_date)
        return Field(value, found.confidence, found.provenance) if value else MISSING

    totals = read_totals(pages, source=source, decimal_comma=decimal_comma, skip=table_lines)
    currency = pick("currency")
    if not currency.present:
        currency = _currency_from_amounts(totals, table_currency, source)

    bill_blocks = _blocks(pages, "bill_to")
    vendor_blocks = _blocks(pages, "vendor")
    customer_name = _customer_name(pages, source, bill_blocks, vendor_blocks, ship_block)
    return HeaderFields(
        po_number=pick("po_number"),
        order_date=pick_date("order_date"),
        delivery_date=pick_date("delivery_date"),
        currency=currency,
        ship_to=ship_to,
        customer_name=customer_name,
        urgent=_urgent(header_lines, source),
        notes=_notes(header_lines, by_page, source),
        totals=totals,
        looks_like_order=_looks_like_order(pages) or ship_to.present,
    )


def _day_first(
    lines: Sequence[TextLine],
    context: ExtractionContext,
    ship_to: Field[Address],
    order_date: Field,
    delivery_date: Field,
) -> bool:
    """How this document writes numeric dates: its own unambiguous dates first
    (a day above 12), then the sender's locale, then a US ship-to address, then
    the reading that puts the delivery on or after the order date."""
    evidence = day_first_evidence(line.text for line in lines)
    if evidence is not None:
        return evidence
    if context.day_first is not None:
        return context.day_first
    if ship_to.present and ship_to.value.country == "US":
        return False
    if order_date.present and delivery_date.present:
        consistent = []
        for reading in (True, False):
            ordered = read_date(str(order_date.value), day_first=reading, reference=context.reference_date)
            wanted = read_date(str(delivery_date.value), day_first=reading, reference=context.reference_date)
            if ordered and wanted and ordered <= wanted:
                consistent.append(reading)
        if len(consistent) == 1:
            return consistent[0]
    return True


def _is_title_size(hit: Hit, body_size: float) -> bool:
    """A label printed much larger than the body text is a document title."""
    return max(w.size for w in hit.words) > 1.35 * body_size


def _currency_from_amounts(totals: Sequence[Total], table_currency: str | None, source: str) -> Field[str]:
    votes = Counter(t.currency for t in totals if t.currency)
    if table_currency:
        votes[table_currency] += 2
    if not votes:
        return MISSING
    (code, count), *rest = votes.most_common()
    origin = next((t.provenance for t in totals if t.currency == code), Provenance(source, rule="table"))
    confidence = 0.85 if not rest or rest[0][1] < count else 0.5
    return Field(code, confidence, Provenance(origin.source, origin.page, origin.bbox, rule="currency:amounts"))


def _blocks(pages: Sequence[PageText], section: str) -> list[tuple[Block, Address | None]]:
    found = []
    for page in pages:
        for line in page.lines:
            for hit in line_hits(line):
                if hit.section == section and hit.quality >= 1:
                    block = address_block(hit, page)
                    if block.rows:
                        found.append((block, parse_address(block.texts)))
    return found


def _ship_to(pages: Sequence[PageText], source: str) -> tuple[Field[Address], Block | None]:
    scored = [(_block_score(b, a), b, a) for b, a in _blocks(pages, "ship_to") if a is not None]
    if not scored:
        return MISSING, None
    score, block, address = max(scored, key=lambda s: (s[0], -s[1].hit.line.page, -s[1].hit.line.top))
    complete = bool(address.postal_code and address.city and address.name)
    confidence = (0.92 if complete else 0.6) * (1.0 if block.hit.quality >= 2 else 0.85)
    return (
        Field(address, confidence, provenance(source, block.hit.line.page, block.words, f"block:{block.hit.phrase}")),
        block,
    )


def _page_of(pages: Sequence[PageText], number: int) -> PageText:
    return next(p for p in pages if p.number == number)


def _legal_form(text: str) -> bool:
    folded = text.lower()
    tokens = {t.strip(",;()") for t in folded.split()}
    for form in label_vocabulary().phrases("legal_forms"):
        if has_cjk(form):
            if form in text:
                return True
        elif " " in form:
            if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", folded):
                return True
        elif form in tokens or form.rstrip(".") in {t.rstrip(".") for t in tokens}:
            return True
    return False


def _is_title(text: str) -> bool:
    key = fold_label(text)
    return key in label_vocabulary().phrases("document_titles")


def _customer_name(
    pages: Sequence[PageText],
    source: str,
    bill_blocks: list[tuple[Block, Address | None]],
    vendor_blocks: list[tuple[Block, Address | None]],
    ship_block: Block | None,
) -> Field[str]:
    for line in (ln for page in pages for ln in page.lines):
        for hit in line_hits(line):
            if hit.section == "customer_name" and hit.quality >= 3:
                words = value_right(hit, _page_of(pages, line.page))
                text = _text(words)
                if len(re.findall(r"[^\W\d_]", text)) >= 3:
                    return Field(text, 0.85, provenance(source, line.page, words, f"label:{hit.phrase}"))
    for block, address in bill_blocks:
        # The company is the first line of the block (later name lines are
        # departments: "Accounts Payable"), or the line with a legal form.
        texts = block.texts[: max(1, len(block.texts) - 2)]
        name = next((t for t in texts if _legal_form(t)), texts[0] if texts else None)
        if name:
            return Field(name, 0.85, provenance(source, block.hit.line.page, block.rows[0], "block:bill_to"))
    if not pages:
        return MISSING
    page = pages[0]
    excluded = set().union(*(b.keys for b, _ in vendor_blocks)) if vendor_blocks else set()
    if ship_block is not None:
        excluded |= ship_block.keys
    best: tuple[float, float, str, tuple[Word, ...]] | None = None
    for line in page.lines:
        if line.top > 0.3 * page.height or line.key in excluded:
            continue
        for start, end in line.segments:
            words = line.words[start:end]
            for part in re.split(r"\s+[·|•]\s+", _text(words)):
                if _legal_form(part) and not _is_title(part):
                    size = max(w.size for w in words)
                    candidate = (size, -line.top, part.strip(), words)
                    if best is None or candidate[:2] > best[:2]:
                        best = candidate
    if best is not None:
        return Field(best[2], 0.75, provenance(source, page.number, best[3], "letterhead"))
    if ship_block is not None:
        address = parse_address(ship_block.texts)
        if address and address.name:
            return Field(address.name, 0.5, provenance(source, ship_block.hit.line.page, ship_block.rows[0], "block:ship_to"))
    return MISSING


def _urgent(lines: Sequence[TextLine], source: str) -> Field[bool]:
    best: tuple[float, TextLine, str] | None = None
    for line in lines:
        phrase = urgent_phrase(line.text)
        if phrase is None:
            continue
        banner = len(line.words) <= 8 or any(w.bold for w in line.words) or line.text.isupper()
        confidence = 0.9 if banner else 0.6
        if best is None or confidence > best[0]:
            best = (confidence, line, phrase)
    if best is None:
        return Field(False, 0.7)
    confidence, line, phrase = best
    return Field(True, confidence, provenance(source, line.page, line.words, f"urgent:{phrase}"))


def _notes(lines: Sequence[TextLine], by_page: dict[int, PageText], source: str) -> Field[str]:
    for line in lines:
        for hit in line_hits(line):
            if hit.section != "notes" or hit.quality < 2:
                continue
            page = by_page[line.page]
            words = value_right(hit, page)
            rows: list[tuple[Word, ...]] = []
            if words:
                rows.append(words)
                anchor, last = words[0].x0, line
            else:
                anchor, last = hit.x0, line
                for other in lines_below(page, line, 3.5 * line.size * 1.3):
                    idx = [j for j, w in enumerate(other.words) if abs(w.x0 - anchor) <= line.size]
                    if not idx:
                        continue
                    start, end = other.segment_of(idx[0])
                    if any(hit_at(other, j, min_quality=2) for j in range(start, end)):
                        break
                    rows.append(_cut_at_rules(page, other, start, end))
                    last = other
                    break
            if not rows:
                continue
            for other in page.lines[last.index + 1 :]:
                if other.top - last.bottom > 0.45 * last.size:
                    break
                idx = [j for j, w in enumerate(other.words) if abs(w.x0 - rows[-1][0].x0) <= 1.0]
                if not idx or hit_at(other, idx[0]) is not None:
                    break
                start, end = other.segment_of(idx[0])
                rows.append(other.words[start:end])
                last = other
            text = " ".join(_text(r) for r in rows).strip()
            if text:
                all_words = [w for r in rows for w in r]
                return Field(text, 0.8, provenance(source, line.page, all_words, f"label:{hit.phrase}"))
    return MISSING


def _looks_like_order(pages: Sequence[PageText]) -> bool:
    """A document title ("Purchase Order", "Bestellung", "采购订单") printed on the first page."""
    if not pages:
        return False
    titles = label_vocabulary().phrases("document_titles")
    for line in pages[0].lines[:40]:
        for start, end in line.segments:
            text = fold_label(_text(line.words[start:end]))
            if text in titles or any(text.startswith(t + " ") or text.endswith(" " + t) for t in titles if len(t) > 5):
                return True
    return False

