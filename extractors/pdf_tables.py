"""Line items of a PDF purchase order, from tables found by their column headers.

A table starts at a header: a ruled-table row, or a text line (or two stacked
lines), whose cells name at least three column roles from the ``columns``
vocabulary (one of them a quantity or an amount). Columns whose headers the
vocabulary does not know get their roles from their data (unit words, whole
numbers, amounts, codes, text); a header naming only two roles counts when
that yields a quantity and an amount. Column bounds come from the ruling
lines of a ruled table, else from the white space that runs down between the
header's columns through the data rows.

A line with a quantity or an amount anchors an item; text-only lines (wrapped
descriptions, codes printed above vertically centred numbers) join the
nearest anchor. Rows end at a totals/tax/charges line, a footer line, a large
vertical gap or the end of the page; repeated headers and carried-forward
rows on later pages are skipped, and a table without a repeated header
continues on the next page with the same columns.

Each row becomes an ``OrderLine`` through ``lines.build_line``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.model import MISSING, Field, OrderLine, Provenance
from extractors.lines import (
    NUMERIC_ROLES,
    Cell,
    Role,
    build_line,
    check_against_total,
    fold_label,
    has_cjk,
    header_currency,
    header_role,
    is_number_like,
    is_table_header,
    label_vocabulary,
    line_amount,
    looks_like_code,
    parse_amount,
    split_quantity,
)
from extractors.normalise import normalise_currency, normalise_uom
from extractors.pdf_fields import Total, line_hits

if TYPE_CHECKING:
    from extractors.pdf import PageText, RuledTable, TextLine, Word

TEXT_ROLES = (Role.DESCRIPTION, Role.SKU, Role.CUSTOMER_SKU, Role.SUPPLIER_SKU)
_PARENS = re.compile(r"\s*[(\[].*?[)\]]\s*")


@dataclass
class Column:
    role: Role | None
    x0: float  # the header's extent
    x1: float
    label: str
    left: float = float("-inf")  # what the column takes (assigned from bounds)
    right: float = float("inf")


@dataclass
class _Row:
    page: int
    lines: list[TextLine] = field(default_factory=list)


@dataclass(frozen=True)
class TableResult:
    lines: tuple[OrderLine, ...] = ()
    line_keys: frozenset[tuple[int, int]] = frozenset()  # lines that belong to tables
    currency: str | None = None

    def checked_lines(self, totals: Sequence[Total]) -> tuple[tuple[OrderLine, ...], Field[Decimal]]:
        """Lines cross-checked against the printed totals, and the document total."""
        candidates = [t for t in totals if t.kind == "total"]
        additions = [t.amount for t in totals if t.kind in ("tax", "charges")]
        lines, matched = check_against_total(self.lines, [t.amount for t in candidates], additions=additions)
        if matched is not None:
            # The document total is the net total of the lines when it is printed.
            net = next((t for t in candidates if abs(t.amount - sum(line_amount(x) or 0 for x in lines)) <= Decimal("0.02")), None)
            total = net or next(t for t in candidates if t.amount == matched)
            return lines, Field(total.amount, 0.95, total.provenance)
        if candidates:
            largest = max(candidates, key=lambda t: t.amount)
            return lines, Field(largest.amount, 0.5, largest.provenance)
        return lines, MISSING


# --- headers ---------------------------------------------------------------------


def _phrase_role(words: Sequence[Word]) -> Role | None:
    vocab = label_vocabulary()
    text = " ".join(w.text for w in words)
    key = fold_label(text)
    role = vocab.columns.get(key) or vocab.columns.get(fold_label(_PARENS.sub(" ", text)))
    if role is None and len(words) == 1 and (has_cjk(text) or " " in text):
        role = header_role(text)  # a CJK word or a stacked two-line header cell
    return role


def header_columns(line: TextLine) -> list[Column] | None:
    """The columns a text line names, or None when it is no table header (a fresh list each call)."""
    if "header" not in line.memo:
        line.memo["header"] = _header_columns(line)
    cached: list[Column] | None = line.memo["header"]  # type: ignore[assignment]
    return None if cached is None else [Column(c.role, c.x0, c.x1, c.label) for c in cached]


def _header_columns(line: TextLine, *, relaxed: bool = False) -> list[Column] | None:
    """Columns named by a line. ``relaxed`` also takes a line that names two
    roles and has further columns whose headers the vocabulary does not know;
    their roles are then inferred from the data (``_infer_roles``)."""
    words, size = line.words, line.size
    longest = label_vocabulary().longest_column_phrase
    cells: list[list] = []  # [role, start, end]
    i = 0
    while i < len(words):
        for k in range(min(longest, len(words) - i), 0, -1):
            span = words[i : i + k]
            if any(b.x0 - a.x1 > 1.2 * size for a, b in zip(span, span[1:], strict=False)):
                continue
            if role := _phrase_role(span):
                cells.append([role, i, i + k])
                i += k
                break
        else:
            cells.append([None, i, i + 1])
            i += 1
    matched_words = sum(c[2] - c[1] for c in cells if c[0] is not None)
    known = {c[0] for c in cells if c[0] is not None}
    if relaxed:
        if len(known) < 2 or matched_words * 3 < len(words) or len(line.segments) < 3:
            return None
    elif matched_words * 2 < len(words) or not is_table_header([c[0] for c in cells]):
        return None
    # Unknown words join a close neighbour ("P.U. HT", "Total (net)"); same-role
    # neighbours merge ("数量 Qty").
    merged: list[list] = []
    for cell in cells:
        if merged:
            prev = merged[-1]
            gap = words[cell[1]].x0 - words[prev[2] - 1].x1
            same_role = cell[0] is not None and cell[0] == prev[0] and gap <= 1.2 * size
            unknown_word = (cell[0] is None or prev[0] is None) and gap <= 0.6 * size  # one space apart
            if same_role or unknown_word:
                prev[0] = prev[0] or cell[0]
                prev[2] = cell[2]
                continue
        merged.append(list(cell))
    return [
        Column(role, words[s].x0, words[e - 1].x1, " ".join(w.text for w in words[s:e]))
        for role, s, e in merged
    ]


def _same_roles_as_before(columns: list[Column], tables: Sequence[_Table]) -> None:
    """A header repeated on a later page keeps the roles inferred on the first page."""
    labels = [c.label for c in columns]
    for table in reversed(tables):
        if [c.label for c in table.columns] == labels:
            for column, earlier in zip(columns, table.columns, strict=True):
                column.role = column.role or earlier.role
            return


def _complete_roles(columns: list[Column], body: Sequence[TextLine], *, strict: bool) -> list[Column] | None:
    """Fill in the roles of columns whose headers the vocabulary does not know,
    from their data. A header that was only half recognised (``strict`` False)
    must end up naming a quantity and an amount, or it is no order table."""
    if not any(c.role is None for c in columns):
        return columns
    lines: list[TextLine] = []
    for other in body[:60]:
        summary = _summary_line(other)
        if summary == "carried_forward":
            continue
        if _footer_line(other) or summary is not None or other.top - body[0].top > 60 * other.size:
            break
        lines.append(other)
    if all(c.left == float("-inf") for c in columns):  # no rulings: bounds from the white space
        bounded = [Column(c.role, c.x0, c.x1, c.label) for c in columns]
        _set_bounds_from_whitespace(bounded, [w for ln in lines for w in ln.words], lines[0].size if lines else 10.0)
    else:
        bounded = columns
    sample = [_assign(ln.words, bounded) for ln in lines]
    guessed = [Column(c.role, c.x0, c.x1, c.label, c.left, c.right) for c in bounded]
    _infer_roles(guessed, sample)
    roles = {c.role for c in guessed}
    if not strict and (
        not is_table_header(list(roles)) or Role.QUANTITY not in roles or not roles & {Role.UNIT_PRICE, Role.LINE_TOTAL}
    ):
        return None
    for column, guess in zip(columns, guessed, strict=True):
        column.role = guess.role
    return columns


def _infer_roles(columns: list[Column], rows: Sequence[dict[int, list[Word]]]) -> None:
    """Give unknown columns the roles still missing, by what their cells hold:
    unit words, quantities with units, amounts, codes or text."""
    known = {c.role for c in columns if c.role is not None}

    def values(i: int) -> list[str]:
        return [" ".join(w.text for w in row[i]) for row in rows if row.get(i)]

    def share(i: int, test: Callable[[str], bool]) -> float:
        vs = values(i)
        return sum(1 for v in vs if test(v)) / len(vs) if len(vs) >= max(1, len(rows) // 2) else 0.0

    unknown = [i for i, c in enumerate(columns) if c.role is None and values(i)]
    numeric: list[int] = []
    for i in unknown:
        if Role.UOM not in known and share(i, lambda v: normalise_uom(v.strip(".")) is not None) >= 0.8:
            columns[i].role = Role.UOM
        elif Role.QUANTITY not in known and share(i, lambda v: split_quantity(v, decimal_comma=None)[1] is not None) >= 0.8:
            columns[i].role = Role.QUANTITY
        elif share(i, lambda v: is_number_like(v.split()[-1])) >= 0.8:
            numeric.append(i)
            continue
        elif Role.SKU not in known and share(i, lambda v: len(v.split()) == 1 and looks_like_code(v)) >= 0.8:
            columns[i].role = Role.SKU
        elif Role.DESCRIPTION not in known and share(i, lambda v: len(v.split()) >= 2) >= 0.5:
            columns[i].role = Role.DESCRIPTION
        if columns[i].role is not None:
            known.add(columns[i].role)
    whole = [i for i in numeric if share(i, lambda v: not re.search(r"[.,]\d{2}$", v)) >= 0.8]
    amounts = [i for i in numeric if i not in whole]
    if Role.QUANTITY not in known and whole:
        columns[whole[-1]].role = Role.QUANTITY
        known.add(Role.QUANTITY)
    for role in (Role.LINE_TOTAL, Role.UNIT_PRICE):
        if role not in known and amounts:
            columns[amounts.pop()].role = role
            known.add(role)


def _two_line_header(line: TextLine, below: TextLine | None) -> list[Column] | None:
    """A header printed on two lines ("Unit" over "Price"): the words of both
    lines, stacked ones joined, read as one header line."""
    from extractors.pdf import TextLine as Line, Word as W  # the layout types (pdf imports this module lazily)

    if below is None or below.top - line.bottom > 0.8 * line.size or len(line.words) < 2:
        return None
    if abs(line.size - below.size) > 1.5 or any(w.text[:1].isdigit() for w in below.words):
        return None
    if not any(_phrase_role([w]) for w in line.words + below.words):
        return None
    groups: list[list[Word]] = []
    for word in sorted(line.words + below.words, key=lambda w: (w.top, w.x0)):
        for group in groups:
            if any(word.x0 < g.x1 + 1 and g.x0 < word.x1 + 1 and abs(g.top - word.top) > 1 for g in group):
                group.append(word)
                break
        else:
            groups.append([word])
    merged = []
    for group in groups:
        group.sort(key=lambda w: (round(w.top), w.x0))
        merged.append(
            W(" ".join(w.text for w in group), min(w.x0 for w in group), max(w.x1 for w in group),
              min(w.top for w in group), max(w.bottom for w in group), group[0].size, group[0].bold)
        )
    combined = Line(line.page, line.index, tuple(sorted(merged, key=lambda w: w.x0)))
    columns = header_columns(combined)
    if columns is None:
        return None
    single = len([c for c in header_columns(line) or [] if c.role])
    return columns if len([c for c in columns if c.role]) >= single else None


def _ruled_header(table: RuledTable, page: PageText) -> tuple[int, list[Column], bool] | None:
    """The header row of a ruled table, its columns (bounds from the cell
    edges) and whether the vocabulary named enough of them (else the rest
    must be inferred from the data)."""
    for r, row in enumerate(table.rows[:3]):
        cells = [c for c in row if c is not None]
        if len(cells) < 3:
            continue
        texts = [_words_in(page, c) for c in cells]
        roles = [header_role(" ".join(w.text for w in ws)) for ws in texts]
        strict = is_table_header(roles)
        if strict or len({r for r in roles if r is not None}) >= 2:
            columns = []
            for cell, words, role in zip(cells, texts, roles, strict=True):
                x0, x1 = (words[0].x0, max(w.x1 for w in words)) if words else (cell[0], cell[2])
                columns.append(Column(role, x0, x1, " ".join(w.text for w in words), cell[0], cell[2]))
            columns[0].left, columns[-1].right = float("-inf"), float("inf")
            return r, columns, strict
    return None


def _words_in(page: PageText, bbox: tuple[float, float, float, float]) -> list[Word]:
    x0, top, x1, bottom = bbox
    return [
        w
        for line in page.lines
        if line.bottom >= top and line.top <= bottom
        for w in line.words
        if x0 <= w.mid_x <= x1 and top <= (w.top + w.bottom) / 2 <= bottom
    ]


# --- column bounds from white space -------------------------------------------------------


def _set_bounds_from_whitespace(columns: list[Column], words: Sequence[Word], size: float) -> None:
    """Put each boundary between neighbouring columns into the widest vertical
    strip of white space between their headers that no data word crosses."""
    columns.sort(key=lambda c: c.x0)
    bounds: list[float] = []
    for a, b in zip(columns, columns[1:], strict=False):
        lo, hi = min(a.x1, b.x0) - 0.5 * size, max(a.x1, b.x0) + 0.5 * size
        lo = max(lo, a.x0 + 1)
        hi = min(hi, b.x1 - 1)
        if hi <= lo:
            bounds.append((a.x1 + b.x0) / 2)
            continue
        spans = sorted((max(w.x0, lo), min(w.x1, hi)) for w in words if w.x1 > lo and w.x0 < hi)
        free: list[tuple[float, float]] = []
        cursor = lo
        for s, e in spans:
            if s > cursor:
                free.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < hi:
            free.append((cursor, hi))
        if free:
            s, e = max(free, key=lambda f: f[1] - f[0])
            bounds.append((s + e) / 2)
        else:
            mid = (a.x1 + b.x0) / 2
            steps = [lo + (hi - lo) * k / 20 for k in range(21)]
            bounds.append(min(steps, key=lambda x: (sum(1 for w in words if w.x0 < x < w.x1), abs(x - mid))))
    for i, column in enumerate(columns):
        column.left = bounds[i - 1] if i > 0 else float("-inf")
        column.right = bounds[i] if i < len(bounds) else float("inf")


def _assign(line_words: Sequence[Word], columns: Sequence[Column]) -> dict[int, list[Word]]:
    out: dict[int, list[Word]] = {}
    for word in line_words:
        for i, column in enumerate(columns):
            if column.left <= word.mid_x < column.right:
                out.setdefault(i, []).append(word)
                break
    return out


def _numeric_ok(role: Role | None, word: Word) -> bool:
    text = word.text
    if is_number_like(text):
        return True
    if role == Role.QUANTITY and normalise_uom(text.strip(".")):
        return True
    if role in (Role.UNIT_PRICE, Role.LINE_TOTAL) and normalise_currency(text) and len(text) <= 3:
        return True
    return False


def _fix_overflow(cells: dict[int, list[Word]], columns: Sequence[Column]) -> dict[int, list[Word]]:
    """Text that ran into a number column belongs to the text column on its left."""
    text_columns = [i for i, c in enumerate(columns) if c.role in TEXT_ROLES or c.role is None]
    for i, column in enumerate(columns):
        if column.role not in NUMERIC_ROLES or i not in cells:
            continue
        stray = [w for w in cells[i] if not _numeric_ok(column.role, w)]
        if not stray:
            continue
        left = [j for j in text_columns if j < i]
        if not left:
            continue
        target = max(left, key=lambda j: (columns[j].role == Role.DESCRIPTION, j))
        cells[i] = [w for w in cells[i] if w not in stray]
        cells.setdefault(target, []).extend(stray)
        cells[target].sort(key=lambda w: (round(w.top), w.x0))
    return {k: v for k, v in cells.items() if v}


# --- rows ---------------------------------------------------------------------------------


def _role_index(columns: Sequence[Column], role: Role) -> int | None:
    for i, c in enumerate(columns):
        if c.role == role:
            return i
    return None


def _opens_row(cells: dict[int, list[Word]], columns: Sequence[Column], decimal_comma: bool | None) -> bool:
    """A line that starts an item: a number in the quantity column, or an amount."""
    for role in (Role.QUANTITY, Role.LINE_TOTAL, Role.UNIT_PRICE):
        i = _role_index(columns, role)
        if i is not None and i in cells and any(re.search(r"\d", w.text) for w in cells[i]):
            return True
    return False


def _has_code(cells: dict[int, list[Word]], columns: Sequence[Column]) -> bool:
    return any(
        columns[i].role in (Role.SKU, Role.CUSTOMER_SKU, Role.SUPPLIER_SKU)
        and any(looks_like_code(w.text) and not re.search(r"[.,]\d{2}$", w.text) for w in words)
        for i, words in cells.items()
    )


def _summary_line(line: TextLine) -> str | None:
    """``total``/``tax``/``charges``/``carried_forward`` when the line is such a row."""
    for hit in line_hits(line):
        if hit.section in ("total", "tax", "charges", "carried_forward") and hit.quality >= 1:
            return hit.section
    return None


def _footer_line(line: TextLine) -> bool:
    key = fold_label(line.text)
    return any(key.startswith(p + " ") or key.startswith(p + ":") or key == p for p in label_vocabulary().phrases("footer"))


@dataclass
class _Walk:
    rows: list[_Row]
    keys: set[tuple[int, int]]
    ended: str  # total | footer | gap | text | page_end


def _attachable(cells: dict[int, list[Word]], columns: Sequence[Column]) -> bool:
    """A line without amounts that may belong to an item: text only in text
    (or position) columns, e.g. a wrapped description or a code on its own line."""
    return all(
        columns[i].role not in (Role.QUANTITY, Role.UNIT_PRICE, Role.LINE_TOTAL) for i in cells
    )


def _centre(line: TextLine) -> float:
    return (line.top + line.bottom) / 2


def _walk(
    lines: Sequence[TextLine],
    columns: list[Column],
    page: int,
    decimal_comma: bool | None,
) -> _Walk:
    """Group the lines after a header into rows until the table ends.

    A line with a quantity or an amount anchors an item; text-only lines (a
    wrapped description, a code or description printed above vertically
    centred numbers) join the nearest anchor, the earlier one on a tie.
    """
    collected: list[tuple[TextLine, bool]] = []
    keys: set[tuple[int, int]] = set()
    prev: TextLine | None = None
    pitches: list[float] = []
    ended = "page_end"
    last_anchor: TextLine | None = None
    for line in lines:
        if _footer_line(line):
            ended = "footer"
            break
        if header_columns(line) is not None:
            keys.add(line.key)  # a repeated header
            prev = line
            continue
        if prev is not None and collected:
            pitch = statistics.median(pitches) if pitches else 1.4 * line.size
            if line.top - prev.top > max(3.5 * pitch, 3.0 * line.size):
                ended = "gap"
                break
        cells = _assign(line.words, columns)
        kind = _summary_line(line)
        if kind == "carried_forward":
            keys.add(line.key)
            prev = line
            continue
        anchor = _opens_row(cells, columns, decimal_comma)
        if kind is not None and not (anchor and _has_code(cells, columns)):
            ended = "total"  # a totals/tax/charges row; an item named "Total station" has a code
            break
        if re.fullmatch(r"[-=_.\s]+", line.text):
            prev = line if collected else prev
            continue  # a typed ruling line
        if anchor:
            if last_anchor is not None:
                pitches.append(line.top - last_anchor.top)
            last_anchor = line
            collected.append((line, True))
            prev = line
            continue
        if not _attachable(cells, columns):
            if last_anchor is not None:
                ended = "text"
                break
            continue  # text above the first item (a sub-heading)
        collected.append((line, False))
        prev = line
    # Trailing text after the last item belongs to it only when it is close.
    anchors = [i for i, (_, is_anchor) in enumerate(collected) if is_anchor]
    rows: dict[int, _Row] = {i: _Row(page, [collected[i][0]]) for i in anchors}
    for i, (line, is_anchor) in enumerate(collected):
        if is_anchor or not anchors:
            continue
        nearest = min(anchors, key=lambda j: (abs(_centre(collected[j][0]) - _centre(line)), j > i))
        if abs(_centre(collected[nearest][0]) - _centre(line)) <= 1.5 * max(line.size, collected[nearest][0].size):
            rows[nearest].lines.append(line)
    ordered = []
    for i in anchors:
        row = rows[i]
        row.lines.sort(key=lambda ln: ln.top)
        keys.update(ln.key for ln in row.lines)
        ordered.append(row)
    return _Walk(ordered, keys, ended)


def _row_cells(
    row: _Row, columns: Sequence[Column], source: str, rule: str
) -> tuple[dict[Role, Cell], list[str], str]:
    words = [w for line in row.lines for w in line.words]
    assigned = _fix_overflow(_assign(words, columns), columns)
    cells: dict[Role, Cell] = {}
    extra: list[str] = []
    for i in sorted(assigned):
        column = columns[i]
        ws = sorted(assigned[i], key=lambda w: (round(w.top), w.x0))
        text = " ".join(w.text for w in ws)
        if column.role is None:
            continue
        if column.role in cells:
            if column.role in (Role.SKU, Role.CUSTOMER_SKU, Role.SUPPLIER_SKU):
                extra.append(text)
            continue
        bbox = (
            round(min(w.x0 for w in ws), 2),
            round(min(w.top for w in ws), 2),
            round(max(w.x1 for w in ws), 2),
            round(max(w.bottom for w in ws), 2),
        )
        cells[column.role] = Cell(text, Provenance(source, page=row.page, bbox=bbox, rule=f"{rule}:{column.label}"))
    row_text = " ".join(line.text for line in row.lines)
    return cells, extra, row_text


def _position_as_code(table: _Table) -> None:
    """A column headed like a position ("Item") that holds codes, not numbers, is the sku column."""
    if any(c.role == Role.SKU for c in table.columns):
        return
    for i, column in enumerate(table.columns):
        if column.role != Role.POSITION:
            continue
        values = [
            " ".join(w.text for w in cell)
            for row in table.rows
            if (cell := _assign([w for ln in row.lines for w in ln.words], table.columns).get(i))
        ]
        if values and sum(1 for v in values if not re.fullmatch(r"\d{1,4}\.?", v.strip())) > len(values) / 2:
            column.role = Role.SKU
            return


# --- the tables of a document --------------------------------------------------------------


@dataclass
class _Table:
    columns: list[Column]
    rows: list[_Row]
    rule: str
    confidence: float


def has_line_table(page: PageText) -> bool:
    """Does the page carry a line-item table header (ruled or not)?"""
    if any(_ruled_header(table, page) for table in page.tables):
        return True
    return any(header_columns(line) is not None for line in page.lines)


def read_line_items(pages: Sequence[PageText], *, source: str, decimal_comma: bool | None) -> TableResult:
    tables: list[_Table] = []
    keys: set[tuple[int, int]] = set()
    open_columns: tuple[list[Column], str, float] | None = None  # a table that ran off its page
    for page in pages:
        found_header = False
        for ruled in page.tables:
            header = _ruled_header(ruled, page)
            if header is None:
                continue
            r, columns, strict = header
            header_top = min(c[1] for c in ruled.rows[r] if c)
            header_bottom = max(c[3] for c in ruled.rows[r] if c)
            header_keys = {ln.key for ln in page.lines if header_top <= (ln.top + ln.bottom) / 2 <= header_bottom}
            body = [ln for ln in page.lines if ln.top >= header_bottom - 1 and ln.key not in keys]
            completed = _complete_roles(columns, body, strict=strict)
            if completed is None:
                continue
            columns = completed
            walk = _walk(body, columns, page.number, decimal_comma)
            tables.append(_Table(columns, walk.rows, "pdf:ruled", 0.93))
            keys |= walk.keys | header_keys
            found_header = True
            open_columns = (columns, "pdf:ruled", 0.93) if walk.ended in ("page_end", "footer") else None
        for line in page.lines:
            if line.key in keys:
                continue
            columns = header_columns(line)
            header_keys = {line.key}
            last_header = line
            below = page.lines[line.index + 1] if line.index + 1 < len(page.lines) else None
            stacked = _two_line_header(line, below)
            if stacked is not None and below is not None and below.key not in keys:
                columns = stacked
                header_keys.add(below.key)
                last_header = below
            body = [ln for ln in page.lines[last_header.index + 1 :] if ln.key not in keys]
            rule, confidence = "pdf:columns", 0.88
            if columns is None:
                columns = _header_columns(line, relaxed=True)
                rule, confidence = "pdf:columns:inferred", 0.8
                if columns is not None:
                    columns = _complete_roles(columns, body, strict=False)
            else:
                columns = _complete_roles(columns, body, strict=True)
            if columns is None:
                continue
            _same_roles_as_before(columns, tables)
            provisional = _walk(body, _midpoint_bounds(columns), page.number, decimal_comma)
            data_words = [w for row in provisional.rows for ln in row.lines for w in ln.words]
            _set_bounds_from_whitespace(columns, data_words, line.size)
            walk = _walk(body, columns, page.number, decimal_comma)
            if rule.endswith("inferred") and not walk.rows:
                continue
            tables.append(_Table(columns, walk.rows, rule, confidence))
            keys |= walk.keys | header_keys
            found_header = True
            open_columns = (columns, rule, confidence) if walk.ended in ("page_end", "footer") else None
        if not found_header and open_columns is not None:
            columns, rule, confidence = open_columns
            body = [ln for ln in page.lines if ln.key not in keys]
            walk = _walk(body, columns, page.number, decimal_comma)
            if walk.rows:
                tables.append(_Table(columns, walk.rows, rule, confidence * 0.95))
                keys |= walk.keys
            open_columns = open_columns if walk.ended in ("page_end", "footer") else None

    order_lines: list[OrderLine] = []
    currencies: Counter[str] = Counter()
    for table in tables:
        for column in table.columns:
            if code := header_currency(column.label):
                currencies[code] += 2
        _position_as_code(table)
        for row in table.rows:
            cells, extra, row_text = _row_cells(row, table.columns, source, table.rule)
            for role in (Role.UNIT_PRICE, Role.LINE_TOTAL):
                if role in cells and (code := parse_amount(cells[role].text, decimal_comma=decimal_comma)[1]):
                    currencies[code] += 1
            line = build_line(cells, decimal_comma=decimal_comma, confidence=table.confidence, row_text=row_text, extra_codes=extra)
            if line is None or not _is_order_line(line, cells):
                continue
            order_lines.append(line)
    currency = currencies.most_common(1)[0][0] if currencies else None
    return TableResult(tuple(order_lines), frozenset(keys), currency)


def _is_order_line(line: OrderLine, cells: dict[Role, Cell]) -> bool:
    """An item has a quantity, or a code and an amount; surcharge rows have neither."""
    if line.quantity.present:
        return True
    return bool(line.codes) and line_amount(line) is not None


def _midpoint_bounds(columns: list[Column]) -> list[Column]:
    ordered = sorted(columns, key=lambda c: c.x0)
    out = [Column(c.role, c.x0, c.x1, c.label) for c in ordered]
    for i, column in enumerate(out):
        column.left = (out[i - 1].x1 + column.x0) / 2 if i > 0 else float("-inf")
        column.right = (column.x1 + out[i + 1].x0) / 2 if i + 1 < len(out) else float("inf")
    return out

