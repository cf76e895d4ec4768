"""Per-customer extraction templates: declarative YAML anchored on labels.

A template (``config/templates/NAME.yaml``) says, for one customer's PDF
layout, which label each header field sits next to and where its value is
(right of the label, below it, an address block, or a regex on the line),
optionally the line-item table by its column headers, and defaults. The
bundled ``config/templates/example-acme.yaml`` documents every key.

Templates are loaded and validated once, at start (``load_templates``): a
file that is not valid YAML, has an unknown or missing key, a regex that does
not compile or a date format that cannot round-trip a date raises
``ConfigError`` naming the file, the line and the problem. Nothing is skipped
with a log line.

Choice by score (GUIDE item 4): for a PDF from a customer that has
templates, the generic extractor reads it as always. Each template whose
sender and ``match`` rules fit says how well it fits (the share of its field
anchors and table it found with a readable value); the generic extractor says
how well it did on the same fields (the share it found with confidence >= 0.8).
The best wins, a template winning a tie with the generic extractor since it was
written for this layout. A winning template's values replace the generic ones
only for the fields it found; everything else stays as the generic extractor
read it. Two templates tied at the top that read a field differently put the
order into review with ``low_confidence``. No template fits: the generic
result, untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field as PydanticField, ValidationError, field_validator, model_validator

from bot.errors import ConfigError, UnreadableInput
from bot.model import Document, Field, Order, Provenance, Reason, ReasonCode
from extractors.context import ExtractionContext
from extractors.lines import Cell, Role, build_line, detect_decimal_comma, parse_address, read_date, read_po_number
from extractors.normalise import normalise_currency

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[1] / "config" / "templates"

HEADER_FIELDS = ("po_number", "order_date", "delivery_date", "currency", "ship_to", "notes")
TEMPLATE_CONFIDENCE = 0.95
GENERIC_CONFIDENT = 0.8  # a generic field at or above this counts as found
MIN_SCORE = 0.5  # a template that finds less than half of its anchors never wins


# --- the file format -------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiled(pattern: str | None, *, groups: bool = False) -> str | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression {pattern!r}: {exc}") from None
    if groups and compiled.groups < 1:
        raise ValueError(f"the regex {pattern!r} needs a group ( ... ) around the value")
    return pattern


class MatchRules(_Strict):
    """What must appear on page 1 (or in the file name) for the template to apply."""

    text: tuple[str, ...] = PydanticField((), description="Texts that must all appear (case-insensitive).")
    regex: tuple[str, ...] = PydanticField((), description="Regular expressions that must all match.")

    @field_validator("regex")
    @classmethod
    def _regexes_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            _compiled(pattern)
        return patterns


class FieldRule(_Strict):
    """Where one header field is: an anchor label and the value's place."""

    anchor: str | None = PydanticField(None, description="The label text, matched word by word, case-insensitive.")
    anchor_regex: str | None = PydanticField(None, description="The label as a regex on the line's text.")
    value: Literal["right", "below", "line", "block"] = PydanticField(
        "right",
        description="right of the label, below it, the whole line (use with regex), "
        "or an address block under/right of it (ship_to).",
    )
    regex: str | None = PydanticField(None, description="A regex with one group applied to the value text.")
    date_format: str | None = PydanticField(None, description="strptime format, e.g. %d.%m.%Y.")
    day_first: bool | None = PydanticField(None, description="Numeric dates are day/month (True) or month/day (False).")

    @field_validator("anchor_regex")
    @classmethod
    def _anchor_regex_compiles(cls, pattern: str | None) -> str | None:
        return _compiled(pattern)

    @field_validator("regex")
    @classmethod
    def _regex_compiles_with_a_group(cls, pattern: str | None) -> str | None:
        return _compiled(pattern, groups=True)

    @field_validator("date_format")
    @classmethod
    def _date_format_round_trips(cls, fmt: str | None) -> str | None:
        if fmt is None:
            return None
        if not any(d in fmt for d in ("%d", "%j")) or not any(m in fmt for m in ("%m", "%b", "%B")) or not any(
            y in fmt for y in ("%Y", "%y")
        ):
            raise ValueError(f"date_format {fmt!r} needs a day (%d), a month (%m, %b or %B) and a year (%Y or %y)")
        sample = date(2026, 11, 27)
        try:
            back = datetime.strptime(sample.strftime(fmt), fmt).date()
        except ValueError as exc:
            raise ValueError(f"date_format {fmt!r} cannot read back a date it wrote: {exc}") from None
        if back != sample:
            raise ValueError(f"date_format {fmt!r} does not read back the date it wrote")
        return fmt

    @model_validator(mode="after")
    def _one_anchor(self) -> FieldRule:
        if (self.anchor is None) == (self.anchor_regex is None):
            raise ValueError("give exactly one of anchor (a label text) and anchor_regex")
        if self.anchor is not None and not self.anchor.strip():
            raise ValueError("anchor is empty")
        return self


class Fields(_Strict):
    po_number: FieldRule | None = None
    order_date: FieldRule | None = None
    delivery_date: FieldRule | None = None
    currency: FieldRule | None = None
    ship_to: FieldRule | None = None
    notes: FieldRule | None = None

    def defined(self) -> dict[str, FieldRule]:
        return {name: rule for name in HEADER_FIELDS if (rule := getattr(self, name)) is not None}


_TABLE_ROLES = Literal["sku", "customer_sku", "supplier_sku", "description", "quantity", "uom", "unit_price", "line_total", "position"]


class TableRule(_Strict):
    """The line-item table: its column headers (text -> role), and where it ends."""

    columns: dict[str, _TABLE_ROLES] = PydanticField(description="Header text -> column role.", min_length=1)
    start_after: str | None = PydanticField(None, description="Only look for the header below this text.")
    end_before: str | None = PydanticField(None, description="Rows end at the first line holding this text.")

    @model_validator(mode="after")
    def _has_a_quantity(self) -> TableRule:
        if "quantity" not in self.columns.values():
            raise ValueError("the table needs a column with the role quantity")
        return self


class Defaults(_Strict):
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is not None and normalise_currency(value) is None:
            raise ValueError(f"{value!r} is not a currency code or symbol orderbot knows")
        return normalise_currency(value) if value is not None else None


class TemplateSpec(_Strict):
    customer_id: str | None = PydanticField(None, description="The customer (master data) this template is for.")
    sender_domains: tuple[str, ...] = PydanticField((), description="Or: sender domains it applies to.")
    match: MatchRules = MatchRules()
    fields: Fields = Fields()
    table: TableRule | None = None
    defaults: Defaults = Defaults()

    @model_validator(mode="after")
    def _applies_to_someone_and_reads_something(self) -> TemplateSpec:
        if self.customer_id is None and not self.sender_domains:
            raise ValueError("give customer_id or sender_domains: a template is for one customer")
        if not self.fields.defined() and self.table is None:
            raise ValueError("a template needs fields or a table to read")
        return self


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    spec: TemplateSpec

    def fits_sender(self, sender: Sender) -> bool:
        if self.spec.customer_id is not None and sender.customer_id == self.spec.customer_id:
            return True
        domain = (sender.domain or "").lower()
        return bool(domain) and any(domain == d.lower() or domain.endswith("." + d.lower()) for d in self.spec.sender_domains)


@dataclass(frozen=True, slots=True)
class Sender:
    """What is known of the message's sender before extraction."""

    customer_id: str | None = None
    domain: str | None = None


# --- loading -----------------------------------------------------------------------


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error's ``loc`` (or its nearest parent)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _problem(error: dict[str, Any]) -> str:
    msg = str(error["msg"]).removeprefix("Value error, ")
    loc = [str(p) for p in error["loc"]]
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if error["type"] == "missing":
        return f"missing key {loc[-1]!r}"
    if error["type"] == "literal_error":
        return f"{'.'.join(loc)}: {msg}"
    return msg


def load_template(path: Path) -> Template:
    """One template file, validated, or ``ConfigError`` naming file, line and problem."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read template: {exc.strerror}", path=where) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else None
        problem = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        context_mark = getattr(exc, "context_mark", None)
        if getattr(exc, "context", None) and context_mark is not None:
            problem += f" ({exc.context} started on line {context_mark.line + 1})"
        raise ConfigError(problem, path=where, key=line) from None
    if not isinstance(data, dict):
        raise ConfigError("a template is a mapping of keys (customer_id, match, fields, table, defaults)", path=where, key="line 1")
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"]]
        line = _line_of(node, loc)
        key = ".".join(str(p) for p in loc)
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        where_key = ", ".join(p for p in (f"line {line}" if line else None, key or None) if p)
        raise ConfigError(f"{_problem(first)}{more}", path=where, key=where_key or None) from None
    return Template(path.stem, path, spec)


@dataclass(frozen=True)
class TemplateSet:
    templates: tuple[Template, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.templates)

    def for_sender(self, sender: Sender) -> tuple[Template, ...]:
        return tuple(t for t in self.templates if t.fits_sender(sender))

    def best_for(self, document: Document, sender: Sender, context: ExtractionContext) -> tuple[Template, float] | None:
        """The best-fitting template for a PDF, with its score; None when none fits."""
        candidates = self.for_sender(sender)
        if not candidates or document.content_type != "application/pdf":
            return None
        try:
            pages = _read(document)
        except UnreadableInput:
            return None
        scored = [(t, r.score) for t in candidates if (r := read_with(t, document, pages, context)) is not None]
        scored = [s for s in scored if s[1] >= MIN_SCORE]
        return max(scored, key=lambda s: s[1]) if scored else None


def load_templates(directory: Path | None) -> TemplateSet:
    """Every ``*.yaml`` / ``*.yml`` in ``directory`` (None: the bundled folder), validated.

    A configured folder that does not exist is an error; the bundled one may be absent.
    """
    folder = directory or DEFAULT_TEMPLATES
    if not folder.is_dir():
        if directory is None:
            return TemplateSet()
        raise ConfigError("the templates folder does not exist", path=str(folder))
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    templates = tuple(load_template(p) for p in files)
    return TemplateSet(templates)


# --- reading a document with a template ----------------------------------------------


def _read(document: Document):  # noqa: ANN202 - PageText tuple; pdf imports are heavy
    from extractors.pdf import read_pages

    return read_pages(document.data, document.name)


def _fold(text: str) -> str:
    return text.lower().strip().rstrip(":：").strip()


@dataclass(frozen=True)
class _Found:
    value: object
    page: int
    words: tuple
    text: str


@dataclass(frozen=True)
class Reading:
    """What one template read from one document, and how well it fit."""

    template: Template
    score: float
    fields: dict[str, Field]
    lines: tuple = ()
    table_found: bool = False


def _anchor_hits(rule: FieldRule, field_name: str, page) -> list:  # noqa: ANN001
    """The anchor's occurrences on a page as ``pdf_fields.Hit``s (so its value readers apply)."""
    from extractors.pdf_fields import Hit

    hits = []
    for line in page.lines:
        folded = [_fold(w.text) for w in line.words]
        spans: list[tuple[int, int]] = []
        if rule.anchor is not None:
            tokens = [_fold(t) for t in rule.anchor.split()]
            n = len(tokens)
            spans = [(i, i + n) for i in range(len(folded) - n + 1) if folded[i : i + n] == tokens]
        else:
            starts, pos = [], 0
            for w in line.words:
                starts.append(pos)
                pos += len(w.text) + 1
            for m in re.finditer(rule.anchor_regex or "", line.text, re.IGNORECASE):
                covered = [j for j, s in enumerate(starts) if s < m.end() and s + len(line.words[j].text) > m.start()]
                if covered:
                    spans.append((covered[0], covered[-1] + 1))
        for start, end in spans:
            value_start = end
            while value_start < len(line.words) and line.words[value_start].text in (":", "：", "#", "-", "–"):
                value_start += 1
            hits.append(Hit(field_name, line, start, end, value_start, True, 3, rule.anchor or rule.anchor_regex or ""))
    return hits


def _value(name: str, rule: FieldRule, text: str, context: ExtractionContext) -> object | None:
    if rule.regex is not None:
        m = re.search(rule.regex, text, re.IGNORECASE)
        if m is None:
            return None
        text = m.group(1).strip()
    if not text:
        return None
    if name == "po_number":
        return read_po_number(text) or (text.split()[0] if rule.regex else None)
    if name in ("order_date", "delivery_date"):
        if rule.date_format is not None:
            tokens = text.split()
            for i in range(len(tokens)):
                for j in range(len(tokens), i, -1):
                    try:
                        return datetime.strptime(" ".join(tokens[i:j]), rule.date_format).date()
                    except ValueError:
                        continue
            return None
        day_first = rule.day_first if rule.day_first is not None else (context.day_first if context.day_first is not None else True)
        return read_date(text, day_first=day_first, reference=context.reference_date)
    if name == "currency":
        from extractors.pdf_fields import read_currency

        return read_currency(text)
    if name == "ship_to":
        return parse_address([row for row in text.split("\n")])
    return " ".join(text.split())  # notes


def _read_field(template: Template, name: str, rule: FieldRule, pages, context: ExtractionContext) -> _Found | None:  # noqa: ANN001
    from extractors.pdf_fields import address_block, value_below, value_right

    for page in pages:
        for hit in _anchor_hits(rule, name, page):
            how = "block" if name == "ship_to" and rule.value in ("right", "below") else rule.value
            if how == "block":
                block = address_block(hit, page)
                if not block.rows:
                    continue
                words, text = block.words, "\n".join(block.texts)
            elif how == "line":
                words, text = hit.line.words, hit.line.text
            else:
                words = value_right(hit, page, typed=True) if how == "right" else value_below(hit, page)
                text = " ".join(w.text for w in words)
            value = _value(name, rule, text, context)
            if value is not None:
                return _Found(value, page.number, tuple(words), text)
    return None


def _match_fits(template: Template, document: Document, pages) -> bool:  # noqa: ANN001
    haystack = "\n".join([*(line.text for line in pages[0].lines), document.name]) if pages else document.name
    lowered = haystack.lower()
    if any(t.lower() not in lowered for t in template.spec.match.text):
        return False
    return all(re.search(p, haystack, re.IGNORECASE) for p in template.spec.match.regex)


def _read_table(rule: TableRule, pages, source: str, decimal_comma: bool | None, template: Template) -> tuple:  # noqa: ANN001
    """Line items from the columns the template names: header words give the
    column positions, rows run to ``end_before`` (or the page end)."""
    from extractors.pdf_fields import provenance

    headers = [(tuple(_fold(t) for t in text.split()), Role(role)) for text, role in rule.columns.items()]
    out = []
    started = rule.start_after is None
    for page in pages:
        header_line, columns = None, []
        for line in page.lines:
            if not started:
                started = rule.start_after.lower() in line.text.lower()  # type: ignore[union-attr]
                continue
            folded = [_fold(w.text) for w in line.words]
            found = []
            for tokens, role in headers:
                n = len(tokens)
                at = next((i for i in range(len(folded) - n + 1) if tuple(folded[i : i + n]) == tokens), None)
                if at is None:
                    break
                found.append((line.words[at].x0, line.words[at + n - 1].x1, role))
            else:
                header_line, columns = line, sorted(found)
                break
        if header_line is None:
            continue
        bounds = []
        for k, (x0, x1, role) in enumerate(columns):
            left = (columns[k - 1][1] + x0) / 2 if k else float("-inf")
            right = (x1 + columns[k + 1][0]) / 2 if k + 1 < len(columns) else float("inf")
            bounds.append((left, right, role))
        for line in page.lines[header_line.index + 1 :]:
            if rule.end_before is not None and rule.end_before.lower() in line.text.lower():
                return tuple(out)
            cells: dict[Role, list] = {}
            for word in line.words:
                for left, right, role in bounds:
                    if left <= word.mid_x < right:
                        cells.setdefault(role, []).append(word)
                        break
            built = {
                role: Cell(" ".join(w.text for w in words), provenance(source, page.number, words, f"template:{template.name}:table"))
                for role, words in cells.items()
            }
            order_line = build_line(built, decimal_comma=decimal_comma, confidence=0.9, row_text=line.text)
            if order_line is not None and order_line.quantity.present:
                out.append(order_line)
    return tuple(out)


def read_with(template: Template, document: Document, pages, context: ExtractionContext) -> Reading | None:  # noqa: ANN001
    """What ``template`` reads from a document, or None when its ``match`` rules do not fit."""
    if not _match_fits(template, document, pages):
        return None
    defined = template.spec.fields.defined()
    fields: dict[str, Field] = {}
    for name, rule in defined.items():
        found = _read_field(template, name, rule, pages, context)
        if found is not None:
            fields[name] = Field(
                found.value,
                TEMPLATE_CONFIDENCE,
                Provenance(document.source, page=found.page, bbox=_bbox(found.words), rule=f"template:{template.name}:{name}"),
            )
    found_count = len(fields)
    wanted = len(defined)
    lines: tuple = ()
    table_found = False
    if template.spec.table is not None:
        wanted += 1
        decimal_comma = detect_decimal_comma([line.text for page in pages for line in page.lines])
        if decimal_comma is None:
            decimal_comma = context.decimal_comma
        lines = _read_table(template.spec.table, pages, document.source, decimal_comma, template)
        table_found = bool(lines)
        found_count += int(table_found)
    currency = template.spec.defaults.currency
    if "currency" not in fields and currency is not None:
        fields["currency"] = Field(currency, 0.85, Provenance(document.source, rule=f"template:{template.name}:currency:default"))
    return Reading(template, found_count / wanted if wanted else 0.0, fields, lines, table_found)


def _bbox(words: Sequence) -> tuple[float, float, float, float] | None:
    if not words:
        return None
    return (
        round(min(w.x0 for w in words), 2),
        round(min(w.top for w in words), 2),
        round(max(w.x1 for w in words), 2),
        round(max(w.bottom for w in words), 2),
    )


def generic_score(order: Order, template: Template) -> float:
    """How well the generic extractor did on the fields this template reads."""
    names = list(template.spec.fields.defined())
    found = sum(1 for n in names if getattr(order, n).present and getattr(order, n).confidence >= GENERIC_CONFIDENT)
    wanted = len(names)
    if template.spec.table is not None:
        wanted += 1
        found += int(bool(order.lines) and all(line.quantity.confidence >= GENERIC_CONFIDENT for line in order.lines))
    return found / wanted if wanted else 0.0


def _merged(order: Order, reading: Reading) -> Order:
    changes: dict[str, object] = dict(reading.fields)
    if reading.table_found:
        changes["lines"] = reading.lines
    return replace(order, **changes)


def apply(template: Template, document: Document, context: ExtractionContext, generic: Order | None = None) -> tuple[Order, ...]:
    """The document's order as ``template`` reads it, over the generic reading
    (``generic``, else a fresh generic extraction) for fields it does not read."""
    from extractors.pdf import orders_from_pdf

    base = generic if generic is not None else next(iter(orders_from_pdf(document, context=context)), Order(source=document.source))
    reading = read_with(template, document, _read(document), context)
    if reading is None:
        return (base,)
    return (_merged(base, reading),)


def templated_pdf_orders(
    document: Document, *, context: ExtractionContext, templates: TemplateSet, sender: Sender
) -> tuple[Order, ...]:
    """A PDF's orders: the generic extractor's, or a better-fitting template's."""
    from extractors.pdf import orders_from_pdf

    generic = orders_from_pdf(document, context=context)
    candidates = templates.for_sender(sender)
    if not candidates or len(generic) > 1:
        return generic  # several POs printed in one file: templates read one order per document
    if generic and any(r.code is ReasonCode.UNREADABLE_DOCUMENT for r in generic[0].reasons):
        return generic
    try:
        pages = _read(document)
    except UnreadableInput:
        return generic
    base = generic[0] if generic else Order(source=document.source)
    readings = [r for t in candidates if (r := read_with(t, document, pages, context)) is not None and r.score >= MIN_SCORE]
    if not readings:
        return generic
    top = max(r.score for r in readings)
    best = [r for r in readings if r.score == top]
    winner = best[0]
    if top < generic_score(base, winner.template):
        return generic
    order = _merged(base, winner)
    for rival in best[1:]:
        differ = sorted(
            n for n in set(winner.fields) | set(rival.fields) if _value_of(winner, n) != _value_of(rival, n)
        )
        if winner.table_found or rival.table_found:
            if _line_key(winner) != _line_key(rival):
                differ.append("lines")
        if differ:
            order = order.with_reason(
                Reason(
                    ReasonCode.LOW_CONFIDENCE,
                    f"templates {winner.template.name!r} and {rival.template.name!r} fit equally well "
                    f"but read {', '.join(differ)} differently",
                    field=differ[0],
                    expected=str(_value_of(winner, differ[0])),
                    found=str(_value_of(rival, differ[0])),
                )
            )
    return (order,)


def _value_of(reading: Reading, name: str) -> object:
    if name == "lines":
        return _line_key(reading)
    found = reading.fields.get(name)
    return found.value if found is not None else None


def _line_key(reading: Reading) -> tuple:
    return tuple((line.codes, line.quantity.value, line.unit_price.value) for line in reading.lines)
