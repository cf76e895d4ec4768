"""Orders written in the body of an email: prose, bullets, numbered lines, simple tables.

``orders_from_text`` reads one text (the new text of a message, or a forwarded
order, see ``quotes.order_text``) and returns the order it holds, or ``()``.
It never looks at the signature (the sender's own address is not a ship-to)
and every value it returns says where it was found (``Provenance.span`` in the
given text, ``rule`` naming the rule) and how sure the rule is.

What is recognised comes from vocabularies, not from code:
``labels.yaml`` (field labels and table headers shared with the PDF extractor),
``text.yaml`` (cue words for dates, ship-to phrases, site references, urgency,
vague quantities, number words) and ``normalise.yaml`` (units, currencies,
countries, months). Values are normalised with ``extractors.normalise``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

from bot.model import MISSING, Address, Field, Order, OrderLine, Provenance, Reason, ReasonCode
from extractors.context import ExtractionContext
from extractors.normalise import (
    fold,
    normalise_country,
    normalise_currency,
    normalise_uom,
    parse_date,
    parse_decimal,
    vocabulary,
)
from extractors.quotes import is_negated, phrase_pattern, signature_start, subject_prefixes, text_vocabulary

LABELS = Path(__file__).parent / "vocabulary" / "labels.yaml"

Span = tuple[int, int]


@cache
def labels() -> dict:
    return yaml.safe_load(LABELS.read_text(encoding="utf-8"))


def _words(values) -> list[str]:
    return [str(v) for v in (values or []) if str(v).strip()]


def _alt(words, *, escape: bool = True) -> str:
    items = sorted({str(w) for w in words if str(w)}, key=len, reverse=True)
    if escape:
        items = [r"\s*".join(re.escape(part) for part in w.split()) if " " in w else re.escape(w) for w in items]
    return "|".join(items)


# --- numbers, units, money -----------------------------------------------------

# How far back a rule looks for a label or cue before a value (keeps long lines linear).
_WINDOW = 60
# Lines longer than this are prose, not order items (and would be slow to scan).
_MAX_ITEM_LINE = 2000

NUM = r"\d{1,3}(?:[.,']\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_CJK = "\u2e80-\u9fff\uf900-\ufaff"


@dataclass(frozen=True, slots=True)
class _Units:
    pattern: re.Pattern[str]  # a unit word
    table: dict[str, str]  # folded word -> code ("" = a unit we cannot map)


@cache
def _units(language: str | None = None) -> _Units:
    table: dict[str, str] = dict(vocabulary().units)
    tv = text_vocabulary()
    extra = [tv.get("unit_words") or {}]
    if language:
        extra.append((tv.get("unit_words_by_language") or {}).get(language) or {})
    for words_by_code in extra:
        for code, words in words_by_code.items():
            for w in words:
                table.setdefault(fold(str(w)), str(code or ""))
    latin = [w for w in table if w and not re.search(f"[{_CJK}]", w)]
    cjk = [w for w in table if w and re.search(f"[{_CJK}]", w)]
    latin_alt = "|".join(re.escape(w) + (r"\.?" if not w.endswith(".") else "") for w in sorted(latin, key=len, reverse=True))
    cjk_alt = "|".join(re.escape(w) for w in sorted(cjk, key=len, reverse=True))
    pattern = re.compile(rf"(?:(?:{latin_alt})(?![^\W_])|(?:{cjk_alt}))", re.I)
    return _Units(pattern, table)


def unit_code(word: str | None, language: str | None = None) -> str | None:
    """UN/ECE code of a unit word; "" for a unit we know but cannot map; None for no unit."""
    if not word:
        return None
    table = _units(language).table
    key = fold(word)
    if language and key in table and key not in vocabulary().units:
        return table[key]
    code = normalise_uom(word)
    if code:
        return code
    if key in table:
        return table[key]
    if key.rstrip(".") in table:
        return table[key.rstrip(".")]
    return None


@dataclass(frozen=True, slots=True)
class _QuantityPatterns:
    number_unit: re.Pattern[str]  # "120 pcs", "2箱", "50 m"
    unit_after: re.Pattern[str]  # a unit right at a position (after "Qty: 5")
    spaced_unit_after: re.Pattern[str]  # " cases" after "two", "a few"


@cache
def _quantity_patterns(language: str | None) -> _QuantityPatterns:
    unit = _units(language).pattern.pattern
    return _QuantityPatterns(
        re.compile(rf"(?<![\w.,/-])(?P<num>{NUM})(?P<sp>\s*)(?P<unit>{unit})", re.I),
        re.compile(rf"\s*(?P<unit>{unit})", re.I),
        re.compile(rf"\s+(?P<unit>{unit})", re.I),
    )


@cache
def _currency_pattern() -> re.Pattern[str]:
    words = []
    for key in vocabulary().currencies:
        if "." in key:
            continue
        words.append(key)
    symbols = [w for w in words if not re.search(r"\w", w)]
    names = [w for w in words if re.search(r"\w", w)]
    latin = [w for w in names if not re.search(f"[{_CJK}]", w)]
    cjk = [w for w in names if re.search(f"[{_CJK}]", w)]
    parts = []
    if symbols:
        parts.append("|".join(re.escape(s) for s in sorted(symbols, key=len, reverse=True)))
    if latin:
        parts.append(r"(?<![^\W_])(?:" + _alt(latin) + r")(?![^\W_])")
    if cjk:
        parts.append(_alt(cjk))
    return re.compile("(?:" + "|".join(parts) + ")", re.I)


@cache
def _money_pattern() -> re.Pattern[str]:
    cur = _currency_pattern().pattern
    return re.compile(
        rf"(?:(?P<c1>{cur})\s?(?P<n1>{NUM})(?!\d)|(?<![\w.,])(?P<n2>{NUM})\s?(?P<c2>{cur}))",
        re.I,
    )


def _plural_like(word: str) -> bool:
    """"rolls", "rollos", "Rollen", "rotoli": a plural unit word (a singular one after a
    number is more often the start of a product name: "2 Sack truck")."""
    w = word.lower().rstrip(".")
    return len(w) > 3 and w.endswith(("s", "en", "i", "x", "es"))


def _clean(value: Decimal) -> Decimal:
    """1000.000 -> 1000, 5.90 stays 5.90 for prices (callers choose)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _price_value(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value


# --- dates ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundDate:
    value: date
    span: Span
    weak: bool  # an ambiguous month word or a year-less numeric date: needs a cue


@cache
def _date_patterns() -> tuple[re.Pattern[str], ...]:
    months = sorted({m for m in vocabulary().months if m}, key=len, reverse=True)
    month = r"(?<![^\W\d_])(?P<month>" + "|".join(re.escape(m) for m in months) + r")\.?(?![^\W\d_])"
    return (
        re.compile(r"(?<![\d.])(?P<iso>\d{4}-\d{1,2}-\d{1,2})(?![\d])"),
        re.compile(r"(?P<cjk>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号])"),
        re.compile(r"(?P<cjkny>(?<!\d)\d{1,2}\s*月\s*\d{1,2}\s*[日号])"),
        re.compile(r"(?<![\d.,/])(?P<yfirst>\d{4}[./]\d{1,2}[./]\d{1,2})(?![\d])"),
        re.compile(r"(?<![\d.,/])(?P<num>\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))(?![\d/-])(?!\.\d)"),
        re.compile(
            r"(?<![\d.,])(?P<dm>\d{1,2})(?:st|nd|rd|th|er|e|\.|º)?\s*(?:de\s+|of\s+)?"
            + month
            + r"(?:,?\s*(?:de\s+)?(?P<y1>\d{4}))?(?!\d)",
            re.I,
        ),
        re.compile(month + r"\s+(?P<md>\d{1,2})(?:st|nd|rd|th)?(?![\d])(?:,?\s+(?P<y2>\d{4}))?(?!\d)", re.I),
        re.compile(r"(?<![\w.,/:])(?P<ny>\d{1,2}[./]\d{1,2})\.?(?![\d,/:])(?!\.\d)"),
    )


def find_dates(text: str, context: ExtractionContext) -> list[FoundDate]:
    """Every date written in ``text``, with its span; overlapping matches keep the first pattern."""
    found: list[FoundDate] = []
    taken: list[Span] = []
    day_first = context.day_first if context.day_first is not None else True
    ambiguous = {fold(str(w)) for w in text_vocabulary()["ambiguous_months"]}
    for pattern in _date_patterns():
        for m in pattern.finditer(text):
            span = m.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            raw = m.group(0)
            weak = False
            groups = m.groupdict()
            if groups.get("cjkny"):
                nums = re.findall(r"\d+", raw)
                value = parse_date(f"{nums[1]}.{nums[0]}.", day_first=True, reference=context.reference_date)
                value = value if value else None
            elif groups.get("ny"):
                value = parse_date(raw, day_first=day_first, reference=context.reference_date)
                weak = True
            else:
                value = parse_date(raw, day_first=day_first, reference=context.reference_date)
                mword = groups.get("month")
                if mword and not (groups.get("y1") or groups.get("y2")):
                    if fold(mword).rstrip(".") in ambiguous:
                        weak = True
            if value is None:
                continue
            taken.append(span)
            found.append(FoundDate(value, span, weak))
    found.sort(key=lambda d: d.span)
    return found


# --- PO numbers ------------------------------------------------------------------

PO_TOKEN = r"(?=[A-Za-z0-9/_.\-]*\d)[A-Za-z0-9](?:[A-Za-z0-9]|[/_.\-](?=[A-Za-z0-9]))*"


@dataclass(frozen=True, slots=True)
class FoundPO:
    value: str
    span: Span  # of the value
    label_span: Span
    confidence: float
    rule: str


@cache
def _po_pattern() -> re.Pattern[str]:
    words = [w for w in _words(labels()["po_number"]) if not fold(w).startswith(("your ", "votre ", "ihre ", "su ", "vostro "))]
    words += _words(text_vocabulary().get("po_labels"))
    alt = _alt(words)
    number = r"(?:number|num|no|nr|nro|n°|nº|no\.|#|nummer|número|numéro|numero|nummer)"
    return re.compile(
        rf"(?<![^\W_])(?P<label>{alt}){_LABEL_END}(?:\s*{number})?\.?\s*(?:[:#=：]|\bis\b|\bist\b|\best\b|\bes\b|\bè\b|\bis:)?\s*[:#]?\s*"
        rf"(?P<value>{PO_TOKEN})",
        re.I,
    )


# A Latin label ends at a word boundary ("PO" is not the start of "POL385859");
# after a CJK label ("订单号12345") the number may follow directly.
_LABEL_END = r"(?:(?<=[^\x00-\x7f])|(?![A-Za-z0-9]))"


@cache
def _subject_po_pattern() -> re.Pattern[str]:
    words = _words(labels()["po_number"]) + _words(text_vocabulary().get("subject_po_words"))
    alt = _alt(words)
    number = r"(?:number|num|no|nr|n°|nº|#|nummer|número|numéro|numero)"
    return re.compile(
        rf"(?<![^\W_])(?P<label>{alt}){_LABEL_END}(?:\s*{number})?\.?\s*[:#=：]?\s*(?P<value>{PO_TOKEN})",
        re.I,
    )


def _plausible_po(value: str, text: str, end: int) -> bool:
    if len(value) < 3 or sum(ch.isdigit() for ch in value) < 2:
        return False
    if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}", value):
        return False
    after = text[end : end + 12]
    if _units().pattern.match(after.lstrip()) and after[:1].isspace() and not re.match(r"\s*[:#]", after):
        # "order 5 cases": a quantity, not a PO number
        m = _units().pattern.match(after.lstrip())
        if m and len(m.group(0)) > 1:
            return False
    return True


def find_po_numbers(text: str) -> list[FoundPO]:
    """PO numbers introduced by a label ("PO number X", "Bestellnummer: X", "订单号：X")."""
    out: list[FoundPO] = []
    for m in _po_pattern().finditer(text):
        value = m.group("value").rstrip(".-/")
        if not _plausible_po(value, text, m.end("value")):
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        prefix = text[line_start : m.start()].strip(" \t-*•>")
        conf = 0.95 if not prefix else 0.9
        out.append(FoundPO(value, (m.start("value"), m.start("value") + len(value)), m.span("label"), conf, "po-label"))
    return out


def find_subject_po(subject: str) -> FoundPO | None:
    """A PO number in a subject ("PO 4711", "Bestellung Nr. AW26/3252", "Order 6834965")."""
    for m in _subject_po_pattern().finditer(subject or ""):
        value = m.group("value").rstrip(".-/")
        if _plausible_po(value, subject, m.end("value")):
            return FoundPO(value, (m.start("value"), m.start("value") + len(value)), m.span("label"), 0.75, "subject-po")
    return None


# --- vocabulary patterns -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Patterns:
    urgent: re.Pattern[str]
    vague: re.Pattern[str]
    number_words: dict[str, int]
    number_word_pattern: re.Pattern[str]
    strong_cue: re.Pattern[str]
    weak_cue: re.Pattern[str]
    after_cue: re.Pattern[str]
    delivery_words: re.Pattern[str]
    order_date_cue: re.Pattern[str]
    delivery_label: re.Pattern[str]
    order_date_label: re.Pattern[str]
    weekday_tail: re.Pattern[str]
    ship_label: re.Pattern[str]
    other_address_label: re.Pattern[str]
    ship_phrase: re.Pattern[str]
    delivery_verb: re.Pattern[str]
    sites: tuple[re.Pattern[str], ...]
    notes_label: re.Pattern[str]
    instructions: re.Pattern[str]
    currency_label: re.Pattern[str]
    position_prefix: re.Pattern[str]
    qty_label: re.Pattern[str]
    not_codes: tuple[re.Pattern[str], ...]
    standard_prefix: re.Pattern[str]
    code_labels: re.Pattern[str]
    customer_code_labels: re.Pattern[str]
    supplier_code_labels: re.Pattern[str]
    price_cue: re.Pattern[str]
    per_unit: re.Pattern[str]
    each: re.Pattern[str]
    total_cue: re.Pattern[str]
    columns: dict[str, str]
    column_label: re.Pattern[str]
    street_words: re.Pattern[str]
    language_words: dict[str, frozenset[str]]
    abbreviations: frozenset[str]


def _label_line(words: list[str]) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*(?:[-*•·>]\s*)?(?P<label>{_alt(words)})\s*(?:[:：]|\.(?=\s)|-(?=\s))[ \t]*(?P<rest>.*)$", re.I | re.M)


@cache
def _field_label_line() -> re.Pattern[str]:
    lab = labels()
    return _label_line(_words(lab["delivery_date"]) + _words(lab["po_number"]) + _words(lab["order_date"]))


@cache
def _patterns() -> _Patterns:
    tv = text_vocabulary()
    lab = labels()
    urgent = phrase_pattern(_words(lab.get("urgent")) + _words(tv["urgent"]))
    vague = phrase_pattern(tv["vague_quantities"])
    number_words: dict[str, int] = {}
    for n, words in tv["number_words"].items():
        for w in words:
            number_words[fold(str(w))] = int(n)
    cues = tv["delivery_cues"]
    columns: dict[str, str] = {}
    for col, words in lab["columns"].items():
        for w in words:
            columns.setdefault(fold(str(w)).strip(":."), str(col))
    site_nouns = _alt(_words(tv["site_nouns"]))
    site = r"(?P<site>[^\W\d_][\w'’.-]*(?:[ -][^\W\d_][\w'’.-]*){0,2}|[\u4e00-\u9fff]{2,6})"
    sites = tuple(
        re.compile(p.replace("{site}", site).replace("{noun}", f"(?:{site_nouns})"), re.I) for p in tv["site_references"]
    )
    number = r"(?:\s*(?:no|nr|n°|number|nummer)\.?)?"
    code_words = _words(lab["columns"]["sku"]) + _words(tv.get("code_labels"))
    cust_words = _words(lab["columns"]["customer_sku"]) + _words(tv.get("customer_code_labels"))
    supp_words = _words(lab["columns"].get("supplier_sku"))
    languages = {k: frozenset(fold(str(w)) for w in v) for k, v in tv["languages"].items()}
    return _Patterns(
        urgent=urgent,
        vague=vague,
        number_words=number_words,
        number_word_pattern=re.compile(rf"(?<![^\W_])(?P<word>{_alt(number_words)})(?![^\W_])", re.I),
        strong_cue=re.compile(rf"(?<![^\W_])(?:{_alt(_words(cues['strong']))})\s*[:：]?\s*$", re.I),
        weak_cue=re.compile(rf"(?<![^\W_])(?:{_alt(_words(cues['weak']))})\s*[:：]?\s*$", re.I),
        after_cue=re.compile(rf"[ \t,]*(?:{phrase_pattern(_words(cues.get('after'))).pattern})", re.I),
        delivery_words=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv['delivery_words']))})", re.I),
        order_date_cue=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv['order_date_cues']))})\s*[:：]?\s*$", re.I),
        delivery_label=re.compile(rf"(?<![^\W_])(?:{_alt(_words(lab['delivery_date']))})\s*[:：.]?\s*$", re.I),
        order_date_label=re.compile(rf"^[ \t]*(?:[-*•]\s*)?(?:{_alt(_words(lab['order_date']))})\s*[:：]\s*$", re.I),
        weekday_tail=re.compile(rf"(?:(?<![^\W_])(?:{_alt(_words(tv['weekdays']))})\.?|[,(]|\s)+$", re.I),
        ship_label=_label_line(_words(lab["ship_to"])),
        other_address_label=_label_line(_words(lab.get("bill_to")) + _words(lab.get("vendor"))),
        ship_phrase=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv['ship_to_phrases']))})\s*[:：]?\s*", re.I),
        delivery_verb=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv['delivery_verbs']))})", re.I),
        sites=sites,
        notes_label=_label_line(_words(lab.get("notes"))),
        instructions=phrase_pattern(tv["delivery_instructions"]),
        currency_label=re.compile(
            rf"(?<![^\W_])(?:{_alt(_words(lab.get('currency')))})\s*[:：]?\s*(?P<cur>[A-Za-z]{{3}}|[€£$¥￥])", re.I
        ),
        position_prefix=re.compile(
            rf"^(?P<prefix>[ \t]*(?:(?:[-*•·–—+]|>)\s+|(?:{_alt(_words(tv['position_words']))})\.?\s*\d{{1,3}}\s*[:.)\-–]?\s+"
            r"|\(?\d{1,3}[).]\s+|\(\d{1,3}\)\s*|[a-z][).]\s+|#\d{1,3}\s*[:.)-]?\s*))",
            re.I,
        ),
        qty_label=re.compile(rf"(?<![^\W_])(?:{_alt(_words(lab['columns']['quantity']))})\s*[:=.]?\s*(?P<num>{NUM})(?!\d)", re.I),
        not_codes=tuple(re.compile(p, re.I) for p in tv["not_codes"]),
        standard_prefix=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv['standard_prefixes']))})\s*$", re.I),
        code_labels=re.compile(rf"(?<![^\W_])(?:{_alt(code_words)}){number}\s*[:#.]?\s*$", re.I),
        customer_code_labels=re.compile(rf"(?<![^\W_])(?:{_alt(cust_words)}){number}\s*[:#.]?\s*$", re.I),
        supplier_code_labels=re.compile(rf"(?<![^\W_])(?:{_alt(supp_words)}){number}\s*[:#.]?\s*$", re.I),
        price_cue=re.compile(rf"(?:(?<![^\W_])(?:{_alt(_words(tv['price_cues']))})|@)\s*[:=]?\s*$", re.I),
        per_unit=re.compile(rf"^\s*(?:(?:{_alt(_words(tv['per_unit']))})\s*)", re.I),
        each=re.compile(rf"^\s*(?:{_alt(_words(tv['each_words']))})(?![^\W_])", re.I),
        total_cue=re.compile(rf"(?:(?<![^\W_])(?:{_alt(_words(tv['line_total_cues']))})|=)\s*[:=]?\s*$", re.I),
        columns=columns,
        column_label=re.compile(rf"(?<![^\W_])(?:{_alt(list(columns) + cust_words)})\s*[:：]\s*", re.I),
        street_words=re.compile(rf"(?<![^\W_])(?:{_alt(_words(tv.get('street_words')))})\.?(?![^\W_])|(?:straße|strasse|str\.|weg|allee|platz|gasse|laan|straat|plein|gracht|dijk|deich)(?![^\W_])", re.I),
        language_words=languages,
        abbreviations=frozenset(fold(str(a)) for a in tv["abbreviations"]),
    )


# --- the reader ------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    start: int
    end: int  # without the newline
    text: str


@dataclass(slots=True)
class _Item:
    line: OrderLine
    vague: str | None = None
    span: Span = (0, 0)


@dataclass(slots=True)
class _State:
    consumed: set[int] = field(default_factory=set)  # line indexes not to read items from
    masked: list[Span] = field(default_factory=list)  # spans not to read quantities from


def orders_from_text(
    text: str, *, source: str, context: ExtractionContext, subject: str = ""
) -> tuple[Order, ...]:
    """The order written in ``text``, or ``()`` when the text holds no order lines."""
    if not text or not text.strip():
        return ()
    order = _Reader(text, source, context, subject).read()
    return (order,) if order is not None else ()


def order_fields_from_text(
    text: str, *, source: str, context: ExtractionContext, subject: str = ""
) -> Order | None:
    """The order-level fields written in ``text`` (no lines): PO number, dates, ship-to,
    currency, urgency, notes; None when it states none of them.

    For a message whose order is in an attachment but whose body adds to it
    ("Please deliver to Plant 2, ... by 12/24/2026"): the caller fills what the
    document left empty. Same rules and provenance as ``orders_from_text``.
    """
    if not text or not text.strip():
        return None
    return _Reader(text, source, context, subject).read_fields()


class _Reader:
    def __init__(self, text: str, source: str, context: ExtractionContext, subject: str) -> None:
        self.text = text
        self.source = source
        self.context = context
        self.subject = subject or ""
        self.end = signature_start(text)
        self.region = text[: self.end]
        self.lines: list[_Line] = []
        pos = 0
        for raw in text[: self.end].split("\n"):
            self.lines.append(_Line(pos, pos + len(raw), raw.rstrip("\r")))
            pos += len(raw) + 1
        self.p = _patterns()
        self.state = _State()
        self.language = guess_language(self.region)
        if context.decimal_comma is not None:
            self.decimal_comma: bool | None = context.decimal_comma
        elif self.language in set(text_vocabulary()["decimal_comma_languages"]):
            self.decimal_comma = True
        elif self.language in ("en", "zh"):
            self.decimal_comma = False
        else:
            self.decimal_comma = None
        self._line_starts = [line.start for line in self.lines]
        self.dates = find_dates(self.region, context)
        self.reasons: list[Reason] = []
        self.currency_hits: list[tuple[str, int]] = []  # (ISO code, offset) of prices read

    def prov(self, span: Span, rule: str) -> Provenance:
        return Provenance(source=self.source, span=span, rule=rule)

    # -- top level -----------------------------------------------------------

    def read_fields(self) -> Order | None:
        po = self.po_number()
        self._mask_dates()
        ship_to = self.ship_to()
        delivery, order_date = self.dates_fields()
        order = Order(
            source=self.source,
            po_number=po,
            order_date=order_date,
            delivery_date=delivery,
            currency=self.currency(),
            ship_to=ship_to,
            urgent=self.urgent(),
            notes=self.notes(),
        )
        stated = (order.po_number, order.order_date, order.delivery_date, order.currency, order.ship_to, order.notes)
        if not any(f.present for f in stated) and not order.urgent.value:
            return None
        return order

    def _mask_dates(self) -> None:
        for d in self.dates:
            # "1 set of bits" reads as 1 September: a weak date only counts after a date cue
            line = self._line_of(d.span[0])
            left = self.text[max(line.start if line else 0, d.span[0] - _WINDOW) : d.span[0]]
            if not d.weak or self._date_cue(left) is not None:
                self.state.masked.append(d.span)

    def read(self) -> Order | None:
        po = self.po_number()
        self._mask_dates()
        ship_to = self.ship_to()
        items = self.items()
        if not items:
            return None
        delivery, order_date = self.dates_fields()
        currency = self.currency()
        lines = tuple(i.line for i in items)
        for n, item in enumerate(items, 1):
            if item.vague is not None:
                self.reasons.append(
                    Reason(
                        ReasonCode.AMBIGUOUS_QUANTITY,
                        f"line {n}: the quantity is written as {item.vague!r}, not as a number",
                        field=f"lines[{n}].quantity",
                        found=item.vague,
                    )
                )
        return Order(
            source=self.source,
            po_number=po,
            order_date=order_date,
            delivery_date=delivery,
            currency=currency,
            ship_to=ship_to,
            lines=lines,
            urgent=self.urgent(),
            notes=self.notes(),
            reasons=tuple(self.reasons),
        )

    # -- PO number -----------------------------------------------------------

    def po_number(self) -> Field[str]:
        found = find_po_numbers(self.region)
        if found:
            first = found[0]
            distinct = {f.value.upper() for f in found}
            conf = first.confidence if len(distinct) == 1 else first.confidence - 0.2
            for f in found:
                self.state.masked.append((f.label_span[0], f.span[1]))
            return Field(first.value, conf, self.prov(first.span, first.rule))
        prefixes = subject_prefixes(self.subject)
        if prefixes.reply:
            return MISSING  # a reply's subject names the earlier order
        hit = find_subject_po(self.subject)
        if hit is None:
            return MISSING
        conf = 0.6 if prefixes.forward else hit.confidence
        return Field(hit.value, conf, Provenance(source="subject", span=hit.span, rule=hit.rule))

    # -- dates ---------------------------------------------------------------

    def dates_fields(self) -> tuple[Field[date], Field[date]]:
        best_delivery: tuple[float, FoundDate, str] | None = None
        best_order: tuple[float, FoundDate, str] | None = None
        for d in self.dates:
            line = self._line_of(d.span[0])
            if line is None:
                continue
            left = self.text[max(line.start, d.span[0] - _WINDOW) : d.span[0]]
            lefts = (left, self.p.weekday_tail.sub("", left))
            sentence = line.text
            score, rule, kind = 0.0, "", ""

            def cue(pattern: re.Pattern[str]) -> bool:
                return any(pattern.search(x) for x in lefts)

            if cue(self.p.delivery_label):
                score, rule, kind = 0.92, "delivery-label", "delivery"
            elif self.p.order_date_label.search(self.text[line.start : d.span[0]]) or cue(self.p.order_date_cue):
                score, rule, kind = 0.9, "order-date-label", "order"
            elif cue(self.p.strong_cue):
                score, rule, kind = 0.9, "delivery-cue", "delivery"
            elif self.p.after_cue.match(self.text, d.span[1]):
                score, rule, kind = 0.85, "delivery-cue-after", "delivery"
            elif cue(self.p.weak_cue) and self.p.delivery_words.search(sentence):
                score, rule, kind = 0.8, "delivery-sentence", "delivery"
            elif not d.weak and self.p.delivery_words.search(sentence):
                score, rule, kind = 0.6, "date-in-delivery-sentence", "delivery"
            if not kind:
                continue
            if d.weak and score < 0.8:
                continue
            if d.weak:
                score -= 0.1
            if kind == "delivery" and (best_delivery is None or score > best_delivery[0]):
                best_delivery = (score, d, rule)
            elif kind == "order" and (best_order is None or score > best_order[0]):
                best_order = (score, d, rule)
        delivery = (
            Field(best_delivery[1].value, best_delivery[0], self.prov(best_delivery[1].span, best_delivery[2]))
            if best_delivery
            else MISSING
        )
        order = (
            Field(best_order[1].value, best_order[0], self.prov(best_order[1].span, best_order[2])) if best_order else MISSING
        )
        return delivery, order

    def _line_of(self, offset: int) -> _Line | None:
        k = bisect.bisect_right(self._line_starts, offset) - 1
        if 0 <= k < len(self.lines) and self.lines[k].start <= offset <= self.lines[k].end:
            return self.lines[k]
        return None

    # -- ship-to -------------------------------------------------------------

    def ship_to(self) -> Field[Address]:
        candidates: list[tuple[float, Address, Span, str]] = []
        # 1. labelled blocks ("Delivery address:" + lines, "Ship to: ...")
        for i, line in enumerate(self.lines):
            m = self.p.ship_label.match(line.text)
            other = self.p.other_address_label.match(line.text)
            verb_to = self._verb_to_line(line.text)
            if not m and not verb_to:
                if other:
                    self._consume_block(i, other.group("rest"))
                continue
            rest = m.group("rest").strip() if m else ""
            block = self._consume_block(i, rest)
            if not block:
                continue
            parsed = self._address_from_block(block)
            if parsed:
                address, span, rule, conf = parsed
                candidates.append((conf, address, span, "ship-to-label" if m else "deliver-to-block"))
        # 2. inline prose ("Deliver to NAME, STREET, POSTCODE CITY, COUNTRY by ...")
        for line_no, line in enumerate(self.lines):
            if line_no in self.state.consumed:
                continue
            for m in self.p.ship_phrase.finditer(line.text):
                start = line.start + m.end()
                stop = self._phrase_end(start, line.end)
                chunk = self.text[start:stop]
                if not chunk.strip():
                    continue
                site = self._site_in(start, stop)
                if site:
                    candidates.append(site)
                    continue
                address = parse_address([chunk], single_line=True)
                if address and (address.postal_code or address.city):
                    candidates.append((0.85, address, (start, stop), "ship-to-phrase"))
                    self.state.masked.append((start, stop))
        # 2b. "please ship 10 pcs by 12/15/2026 to: NAME, STREET, CITY, ST ZIP": a full address
        for line_no, line in enumerate(self.lines):
            if line_no in self.state.consumed or not self.p.delivery_verb.search(line.text):
                continue
            for m in re.finditer(r"(?<![^\W_])(?:to|an|à|a|en|aan|naar|nach|at)\s*[:：]\s*", line.text, re.I):
                start = line.start + m.end()
                stop = self._phrase_end(start, line.end)
                address = parse_address([self.text[start:stop]], single_line=True)
                if address and address.postal_code and address.city:
                    candidates.append((0.8, address, (start, stop), "deliver-to-colon"))
                    self.state.masked.append((start, stop))
        # 3. a reference to a known site anywhere ("to our Halifax site")
        if not candidates:
            site = self._site_in(0, self.end)
            if site:
                candidates.append(site)
        if not candidates:
            return MISSING
        conf, address, span, rule = max(candidates, key=lambda c: c[0])
        return Field(address, conf, self.prov(span, rule))

    def _verb_to_line(self, text: str) -> bool:
        """"Please deliver on 1 December 2026 to:" - the address follows on the next lines."""
        s = text.strip()
        if not s.endswith((":", "：")):
            return False
        if not self.p.delivery_verb.search(s):
            return False
        return bool(re.search(r"(?<![^\W_])(?:to|an|nach|à|a|en|aan|naar|at|bei|chez|presso|至|到)\s*[:：]$", s, re.I))

    def _consume_block(self, i: int, rest: str) -> list[tuple[int, str]]:
        """Lines of an address block: the rest of line ``i`` and the address lines below it."""
        block: list[tuple[int, str]] = []
        line = self.lines[i]
        if rest.strip():
            block.append((line.start + line.text.find(rest.strip()), rest.strip()))
            complete = parse_address([rest.strip()], single_line=True)
            if complete and complete.postal_code:
                self.state.consumed.add(i)
                return block  # "Lieferadresse: NAME, STREET, 22113 Hamburg" is the whole address
        self.state.consumed.add(i)
        j = i + 1
        while j < len(self.lines) and len(block) < 8:
            t = self.lines[j].text
            if not t.strip():
                if block:
                    break
                j += 1
                if j - i > 2:
                    break
                continue
            if self._is_label_line(t) or self._looks_like_item(t) or not _address_line_like(t, first=not block):
                break
            block.append((self.lines[j].start + (len(t) - len(t.lstrip())), t.strip()))
            self.state.consumed.add(j)
            j += 1
            if normalise_country(t.strip()):
                break  # the country ends an address
        return block

    def _is_label_line(self, t: str) -> bool:
        p = self.p
        if p.ship_label.match(t) or p.other_address_label.match(t) or p.notes_label.match(t):
            return True
        return bool(_field_label_line().match(t))

    def _looks_like_item(self, t: str) -> bool:
        return bool(re.match(r"^\s*(?:[-*•]\s+|\d{1,3}[.)]\s+|(?:pos|item)\.?\s*\d)", t, re.I))

    def _address_from_block(self, block: list[tuple[int, str]]) -> tuple[Address, Span, str, float] | None:
        start = block[0][0]
        end = block[-1][0] + len(block[-1][1])
        site = self._site_in(start, end)
        if site and len(block) <= 2:
            conf, address, span, rule = site
            return address, span, rule, conf
        address = parse_address([t for _, t in block], single_line=len(block) == 1)
        if address is None:
            return None
        conf = 0.9 if (address.postal_code and address.city) else 0.6
        return address, (start, end), "ship-to-block", conf

    def _phrase_end(self, start: int, line_end: int) -> int:
        """Where an inline address ends: a date cue, '--', ';', ' instead', or the sentence end."""
        stop = line_end
        for d in self.dates:
            if start < d.span[0] <= line_end:
                lo = max(start, d.span[0] - _WINDOW)
                trimmed = self.p.weekday_tail.sub("", self.text[lo : d.span[0]])
                cue = self.p.weak_cue.search(trimmed) or self.p.strong_cue.search(trimmed)
                stop = min(stop, lo + (cue.start() if cue else len(trimmed)))
                break
        seg = self.text[start:stop]
        for sep in (" -- ", " – ", "; ", " — "):
            k = seg.find(sep)
            if k >= 0:
                stop = min(stop, start + k)
                seg = self.text[start:stop]
        # sentence end: a full stop not after an abbreviation, followed by space + letter or end
        for m in re.finditer(r"\.(?=\s|$)", seg):
            word = re.search(r"([^\s.,]+)$", seg[max(0, m.start() - _WINDOW) : m.start()])
            if word and fold(word.group(1)) in self.p.abbreviations:
                continue
            if word and len(word.group(1)) == 1 and word.group(1).isupper():
                continue
            stop = start + m.start()
            break
        return stop

    def _site_in(self, start: int, end: int) -> tuple[float, Address, Span, str] | None:
        chunk = self.text[start:end]
        for pattern in self.p.sites:
            for m in pattern.finditer(chunk):
                site = m.group("site").strip(" .,'’-")
                words = site.split()
                if not words:
                    continue
                if not re.match(f"[{_CJK}]", site) and not all(w[:1].isupper() for w in words):
                    # trim lower-case words the greedy match took ("Halifax site" -> reject)
                    continue
                phrase = m.group(0).strip().rstrip(".,;:")
                span = (start + m.start(), start + m.start() + len(m.group(0).rstrip().rstrip(".,;:")))
                self.state.masked.append(span)
                return 0.6, Address(name=phrase, city=site), span, "site-reference"
        return None

    # -- items -----------------------------------------------------------------

    def items(self) -> list[_Item]:
        items: list[_Item] = []
        table_items = self._tables()
        by_line: dict[int, list[_Item]] = {}
        for idx, found in table_items:
            by_line.setdefault(idx, []).extend(found)
        for i, line in enumerate(self.lines):
            if i in by_line:
                items.extend(by_line[i])
                continue
            if i in self.state.consumed or not line.text.strip() or len(line.text) > _MAX_ITEM_LINE:
                continue
            items.extend(self._items_in_line(line))
        return items

    # tables with a header row ----------------------------------------------

    def _split_cells(self, text: str) -> tuple[str, list[tuple[int, str]]] | None:
        if "\t" in text:
            cells, pos = [], 0
            for part in text.split("\t"):
                cells.append((pos, part))
                pos += len(part) + 1
            return "\t", cells
        if text.count("|") >= 2 or (text.count("|") == 1 and not text.strip().startswith("|")):
            cells, pos = [], 0
            for part in text.split("|"):
                cells.append((pos, part))
                pos += len(part) + 1
            if cells and not cells[0][1].strip():
                cells = cells[1:]
            if cells and not cells[-1][1].strip():
                cells = cells[:-1]
            return "|", cells
        parts = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", text)]
        if len(parts) >= 2 and re.search(r"\S {2,}\S", text):
            return "  ", parts
        return None

    def _header_columns(self, text: str) -> tuple[str, list[tuple[int, int, str | None]]] | None:
        split = self._split_cells(text)
        if not split:
            return None
        sep, cells = split
        columns: list[tuple[int, int, str | None]] = []
        mapped = 0
        for start, cell in cells:
            key = fold(cell).strip(":.# ")
            col = self.p.columns.get(key) or self.p.columns.get(fold(cell).strip(": "))
            if col:
                mapped += 1
            columns.append((start, start + len(cell), col))
        kinds = {c for _, _, c in columns if c}
        if mapped >= 2 and "quantity" in kinds and kinds & {"sku", "description", "customer_sku", "position", "supplier_sku"}:
            return sep, columns
        return None

    def _tables(self) -> list[tuple[int, list[_Item]]]:
        out: list[tuple[int, list[_Item]]] = []
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if i in self.state.consumed or not line.text.strip():
                i += 1
                continue
            header = self._header_columns(line.text)
            if not header:
                i += 1
                continue
            sep, columns = header
            rows: list[tuple[int, dict[str, tuple[int, str]]]] = []
            j = i + 1
            while j < len(self.lines):
                t = self.lines[j].text
                if not t.strip() or re.fullmatch(r"[\s|:+=_-]+", t):
                    if rows or j > i + 1:
                        break
                    j += 1
                    continue
                split = self._split_cells(t)
                if not split or (sep != "  " and split[0] != sep):
                    break
                cells = self._assign(split[1], columns, sep)
                rows.append((j, cells))
                j += 1
            if not rows:
                i += 1
                continue
            columns = self._fix_position_column(columns, rows)
            self.state.consumed.add(i)
            for row_index, cells in rows:
                item = self._table_item(self.lines[row_index], cells)
                self.state.consumed.add(row_index)
                if item:
                    out.append((row_index, [item]))
            i = j
        return out

    def _assign(self, cells: list[tuple[int, str]], columns: list[tuple[int, int, str | None]], sep: str) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        if sep != "  " and len(cells) == len(columns):
            for (start, text), (_, _, col) in zip(cells, columns, strict=True):
                if text.strip():
                    out[f"{len(out)}:{col}"] = (start, text)
            return {k.split(":", 1)[1]: v for k, v in out.items()}
        # align by position
        for start, text in cells:
            if not text.strip():
                continue
            center = start + len(text) / 2
            best, best_d = None, None
            for n, (a, b, col) in enumerate(columns):
                nxt = columns[n + 1][0] if n + 1 < len(columns) else 10**6
                if a - 2 <= start < nxt or a <= center < nxt:
                    best = col
                    break
                d = min(abs(start - a), abs(center - (a + b) / 2))
                if best_d is None or d < best_d:
                    best, best_d = col, d
            key = str(best)
            if key in out:
                prev = out[key]
                out[key] = (prev[0], prev[1] + " " + text)
            else:
                out[key] = (start, text)
        return out

    def _fix_position_column(self, columns, rows):
        has_desc = any(c == "description" for _, _, c in columns)
        fixed = []
        for a, b, col in columns:
            if col == "position":
                values = [cells.get("position", (0, ""))[1].strip() for _, cells in rows]
                if any(v and not re.fullmatch(r"\d{1,4}[.)]?", v) for v in values) and not has_desc:
                    for _, cells in rows:
                        if "position" in cells:
                            cells["description"] = cells.pop("position")
                    col = "description"
            fixed.append((a, b, col))
        return fixed

    def _table_item(self, line: _Line, cells: dict[str, tuple[int, str]]) -> _Item | None:
        def cell(name: str) -> tuple[int, str] | None:
            v = cells.get(name)
            return (line.start + v[0], v[1].strip()) if v and v[1].strip() else None

        qty_cell = cell("quantity")
        if qty_cell is None:
            return None
        qstart, qtext = qty_cell
        vague = self.p.vague.search(qtext)
        quantity: Field[Decimal] = MISSING
        uom: Field[str] = MISSING
        vague_text = None
        m = re.search(NUM, qtext)
        if vague and (not m or vague.start() < m.start()):
            vague_text = qtext
        elif m:
            value = parse_decimal(m.group(0), decimal_comma=self.decimal_comma)
            if value is None:
                return None
            quantity = Field(_clean(value), 0.9, self.prov((qstart + m.start(), qstart + m.end()), "table-quantity"))
            um = _units(self.language).pattern.search(qtext[m.end() :])
            if um:
                code = unit_code(um.group(0), self.language)
                if code:
                    uom = Field(code, 0.85, self.prov((qstart + m.end() + um.start(), qstart + m.end() + um.end()), "table-quantity-unit"))
        else:
            return None
        u = cell("uom")
        if u and not uom.present:
            code = unit_code(u[1], self.language)
            if code:
                uom = Field(code, 0.9, self.prov((u[0], u[0] + len(u[1])), "table-uom"))
        codes: list[tuple[float, int, str]] = []
        customer_sku: Field[str] = MISSING
        for name, bonus in (("supplier_sku", 7.0), ("sku", 6.0), ("customer_sku", 6.5)):
            c = cell(name)
            if c and self._code_like(c[1], labelled=True):
                codes.append((bonus, c[0], c[1]))
                if name == "customer_sku":
                    customer_sku = Field(c[1], 0.85, self.prov((c[0], c[0] + len(c[1])), "table-customer-sku"))
        desc = cell("description")
        description: Field[str] = MISSING
        if desc:
            for score, pos, token in self._codes_in(desc[1], desc[0]):
                codes.append((score, pos, token))
            description = Field(desc[1], 0.85, self.prov((desc[0], desc[0] + len(desc[1])), "table-description"))
        unit_price: Field[Decimal] = MISSING
        line_total: Field[Decimal] = MISSING
        currency = None
        p = cell("unit_price")
        if p:
            value, currency = self._money_cell(p[1])
            if value is not None:
                unit_price = Field(_price_value(value), 0.85, self.prov((p[0], p[0] + len(p[1])), "table-unit-price"))
        t = cell("line_total")
        if t:
            value, cur2 = self._money_cell(t[1])
            currency = currency or cur2
            if value is not None:
                line_total = Field(_price_value(value), 0.85, self.prov((t[0], t[0] + len(t[1])), "table-line-total"))
        if currency:
            self.currency_hits.append((currency, line.start))
        if not unit_price.present and line_total.present and quantity.present and quantity.value:
            unit_price = Field((line_total.value / quantity.value).quantize(Decimal("0.0001")).normalize(), 0.6, line_total.provenance)
        ordered = [c for _, _, c in sorted(codes, key=lambda c: (-c[0], c[1]))]
        ol = OrderLine(
            customer_sku=customer_sku,
            description=description,
            quantity=quantity,
            uom=uom,
            unit_price=unit_price,
            quantity_text=vague_text,
            line_total=line_total,
            codes=tuple(dict.fromkeys(ordered)),
            text=line.text.strip(),
        )
        if not (ordered or description.present):
            return None
        return _Item(ol, vague_text, (line.start, line.end))

    def _money_cell(self, text: str) -> tuple[Decimal | None, str | None]:
        m = re.search(NUM, text)
        if not m:
            return None, None
        value = parse_decimal(m.group(0), decimal_comma=self.decimal_comma)
        cm = _currency_pattern().search(text)
        return value, (normalise_currency(cm.group(0)) if cm else None)

    # free-form lines --------------------------------------------------------

    def _items_in_line(self, line: _Line) -> list[_Item]:
        text = line.text.replace("\t", "  ")
        prefix_m = self.p.position_prefix.match(text)
        bulleted = bool(prefix_m)
        offset = prefix_m.end() if prefix_m else 0
        body = text[offset:]
        masked = self._masked_text(line, text)[offset:]
        chunks = self._split_items(body, masked)
        out: list[_Item] = []
        for a, b in chunks:
            item = self._parse_item(line, offset + a, body[a:b], masked[a:b], bulleted and a == 0, len(chunks) > 1)
            if item:
                out.append(item)
        return out

    def _masked_text(self, line: _Line, text: str) -> str:
        chars = list(text)
        for a, b in self.state.masked:
            for k in range(max(a, line.start), min(b, line.end)):
                chars[k - line.start] = " "
        return "".join(chars)

    def _candidates(self, masked: str) -> list[tuple[float, int, int, str, str | None, str | None]]:
        """(score, start, end, kind, number text, unit word) for every quantity reading of ``masked``."""
        out = []
        first = len(masked) - len(masked.lstrip())
        money = [m.span() for m in _money_pattern().finditer(masked)]

        def in_money(a: int, b: int) -> bool:
            return any(x <= a < y or x < b <= y for x, y in money)

        qp = _quantity_patterns(self.language)
        for m in qp.number_unit.finditer(masked):
            a, b = m.span()
            if in_money(m.start("num"), m.end("num")):
                continue
            unit = m.group("unit")
            glued = not m.group("sp")
            latin = not re.match(f"[{_CJK}]", unit)
            if glued and latin and fold(unit) in ("st", "nd", "rd", "th", "e", "er"):
                continue
            score = 3.0
            if glued and latin:
                score -= 2
            if a == first:
                score += 2
            before = masked[max(0, a - _WINDOW) : a]
            if re.search(r"(?<![\w./-])\d+(?:[.,]\d+)?\s*(?:mm|cm|m|\"|in)?\s*[x×*]\s*$", before, re.I):
                score -= 4  # "50mm x 66m": a dimension ("AX-1234 x 10 pcs" is not one)
            if re.match(r"\s*[x×*]\s*\d", masked[b:]):
                score -= 4
            if re.search(r"(?:per|pro|je|par|por|/)\s*$", before, re.I):
                continue
            depth = masked.count("(", 0, a) - masked.count(")", 0, a)
            if depth > 0:
                score -= 2
            code = unit_code(unit, self.language)
            if code in ("EA", "BX", "CS", "PK"):
                score += 1
            connector = re.match(r"\s*(?:[x×*]|of|de|di|van|-|–|:)\s+\S", masked[b:], re.I)
            if connector:
                score += 1
            if code == "" and not connector and not _plural_like(unit):
                # "2 Sack truck": a unit word we cannot map, not followed by "of"/"x",
                # is more likely the start of the item's name; keep it there.
                out.append((score - 1, a, m.end("num"), "unit", m.group("num"), None))
                continue
            out.append((score, a, b, "unit", m.group("num"), unit))
        for m in re.finditer(rf"(?<![\w.,/-])(?P<num>{NUM})\s*[x×*](?=\s+[^\d\s])", masked):
            if in_money(*m.span("num")):
                continue
            score = 3.0 + (2 if m.start() == first else 0)
            out.append((score, m.start(), m.end(), "times", m.group("num"), None))
        for m in re.finditer(rf"(?<=\s)[x×*]\s*(?P<num>{NUM})(?=\s*(?:$|[,;)]|@|at\s|à\s|zu\s|[€£$¥]))", masked, re.I):
            out.append((2.0, m.start(), m.end(), "times-after", m.group("num"), None))
        for m in re.finditer(rf"(?<![\w.,/-])(?P<num>{NUM})\s+(?:of|de|di|van)\s+(?=\S)", masked, re.I):
            if in_money(*m.span("num")):
                continue
            out.append((2.0 + (1 if m.start() == first else 0), m.start(), m.end(), "of", m.group("num"), None))
        m = re.match(rf"\s*(?P<num>{NUM})(?P<sp>\s+)(?=\S)", masked)
        if m and not in_money(*m.span("num")):
            value = parse_decimal(m.group("num"), decimal_comma=self.decimal_comma)
            if value is not None and value < 10000:
                score = 1.0 + (1 if len(m.group("sp")) >= 2 else 0)
                out.append((score, m.start("num"), m.end("num"), "leading", m.group("num"), None))
        for m in self.p.qty_label.finditer(masked):
            end = m.end()
            unit = None
            um = qp.unit_after.match(masked, end)
            if um:
                unit = um.group("unit")
                end = um.end()
            out.append((5.0, m.start(), end, "label", m.group("num"), unit))
        vague_spans = [m.span() for m in self.p.vague.finditer(masked)]
        for m in self.p.number_word_pattern.finditer(masked):
            if any(x <= m.start() < y for x, y in vague_spans):
                continue  # "een paar", "a few": not a number
            um = qp.spaced_unit_after.match(masked, m.end())
            if not um:
                continue
            word = fold(m.group("word"))
            code = unit_code(um.group("unit"), self.language)
            if word in ("a", "an", "un", "une", "ein", "eine", "een", "uno", "una") and code not in ("BX", "CS", "PK", ""):
                continue
            score = 3.0 + (2 if m.start() == first else 0)
            out.append((score, m.start(), um.end(), "word", str(self.p.number_words[word]), um.group("unit")))
        for m in self.p.vague.finditer(masked):
            um = qp.spaced_unit_after.match(masked, m.end())
            if um:
                score = 3.0 + (2 if m.start() == first else 0)
                out.append((score, m.start(), um.end(), "vague", None, um.group("unit")))
            elif m.start() == first and re.match(r"\s+[^\W\d_]", masked[m.end() :]):
                out.append((1.5, m.start(), m.end(), "vague", None, None))
        return out

    def _split_items(self, body: str, masked: str) -> list[tuple[int, int]]:
        """Several items in one sentence ("20 boxes of A and 5 cases of B") become chunks."""
        strong = sorted(
            {
                (a, b)
                for s, a, b, kind, _, _ in self._candidates(masked)
                if (s >= 3 and kind in ("unit", "word", "vague", "times")) or (s >= 2 and kind == "of")
            }
        )
        if len(strong) < 2:
            return [(0, len(body))]
        cuts = [0]
        separator = re.compile(
            r"(?:,\s|;|\s\+\s|\s&\s|、|，|；|[.?!？！](?:\s|$)|\s(?:and|und|et|y|e|en|plus|sowie|as well as|和|及)\s)", re.I
        )
        for a, _ in strong[1:]:
            lo = max(cuts[-1], a - 4 * _WINDOW)
            before = masked[lo:a]
            seps = list(separator.finditer(before))
            if seps and seps[-1].start() > 0:
                cuts.append(lo + seps[-1].start() + (1 if before[seps[-1].start()] in ".?!？！" else 0))
        if len(cuts) == 1:
            return [(0, len(body))]
        chunks = []
        for k, start in enumerate(cuts):
            stop = cuts[k + 1] if k + 1 < len(cuts) else len(body)
            seg = body[start:stop]
            lead = len(seg) - len(seg.lstrip(" ,;+&、，；.?!？！"))
            s = start + lead
            m = re.match(r"(?:and|und|et|y|e|en|plus|sowie|as well as|和|及)\s+", body[s:stop], re.I)
            if m:
                s += m.end()
            chunks.append((s, stop))
        return chunks

    def _parse_item(self, line: _Line, offset: int, body: str, masked: str, bulleted: bool, multi: bool) -> _Item | None:
        cands = self._candidates(masked)
        if not cands:
            return None
        base = line.start + offset
        has_price = bool(_money_pattern().search(masked)) or bool(re.search(rf"@\s*{NUM}", masked))
        codes_here = self._codes_in(masked, 0)
        best = None
        for cand in cands:
            score, a, b, kind, num, unit = cand
            if kind == "leading":
                score += (1 if bulleted else 0) + (1 if codes_here else 0) + (1 if has_price else 0)
            elif kind == "vague" and unit is None:
                score += (1 if bulleted else 0) + (1 if codes_here else 0)
            if best is None or score > best[0] or (score == best[0] and a < best[1]):
                best = (score, a, b, kind, num, unit)
        score, a, b, kind, num, unit = best
        if score < 2:
            return None
        rest = (masked[:a] + " " * (b - a) + masked[b:]).strip(" -–:x×*,.;")
        if not re.search(r"[^\W_]{2,}|[A-Za-z]\d|\d[A-Za-z]", rest):
            return None
        # quantity
        quantity: Field[Decimal] = MISSING
        vague_text = None
        if kind == "vague":
            vague_text = body[a:b].strip()
        else:
            value = parse_decimal(num, decimal_comma=self.decimal_comma)
            if value is None or value <= 0:
                return None
            conf = {"unit": 0.9, "label": 0.9, "times": 0.85, "word": 0.8, "of": 0.75, "times-after": 0.7, "leading": 0.7}[kind]
            qspan_end = a + len(num) if kind in ("unit", "leading", "of") else b
            if kind == "word":
                qspan_end = b
            qstart = a + (masked[a:b].find(num) if num and kind in ("times-after", "label") else 0)
            quantity = Field(_clean(value), conf, self.prov((base + qstart, base + max(qstart + 1, qspan_end)), f"qty-{kind}"))
        uom: Field[str] = MISSING
        if unit:
            code = unit_code(unit, self.language)
            if code:
                k = masked.find(unit, a, b + 1) if masked.find(unit, a, b + 1) >= 0 else a
                uom = Field(code, 0.9, self.prov((base + k, base + k + len(unit)), "unit-word"))
        # price
        unit_price, line_total, price_spans, currency, per_unit = self._prices(masked, (a, b), base)
        if not uom.present and per_unit and unit_price.present:
            # "2 x FM-1801 @ EUR 14.50/case": the quantity counts what the price is quoted for
            uom = Field(per_unit, 0.6, unit_price.provenance and self.prov(unit_price.provenance.span, "price-unit"))
        if currency:
            self.currency_hits.append((currency, base))
        if not unit_price.present and line_total.present and quantity.present and quantity.value:
            unit_price = Field((line_total.value / quantity.value).quantize(Decimal("0.0001")).normalize(), 0.55, line_total.provenance)
        # where the item's own words end ("... by Friday 5th Dec", "... to our Leeds depot", ". Thanks")
        cut = self._item_end(masked, body, base, after=b)
        removed = [(a, b), *price_spans, (cut, len(body))]
        # prose before a mid-sentence quantity ("please send us 20 boxes of X") is not the item
        if a > 0:
            after = "".join(" " if any(x <= k < y for x, y in removed) else masked[k] for k in range(b, cut))
            after = re.sub(r"^\s*(?:[x×*:@-]|of|de|des|di|van|d')\s+", " ", after, flags=re.I)
            if re.search(r"[^\W\d_]{2,}", after):
                removed.append((0, a))
        # codes
        codes = [c for c in self._codes_in(masked, 0) if not any(x <= c[1] < y for x, y in removed if (x, y) != (0, a))]
        codes = [c for c in codes if c[1] < cut]
        customer_sku: Field[str] = MISSING
        for score_c, pos, token in codes:
            if score_c >= 6.5 and score_c < 7:
                customer_sku = Field(token, 0.8, self.prov((base + pos, base + pos + len(token)), "customer-code-label"))
                break
        ordered = [t for _, _, t in sorted(codes, key=lambda c: (-c[0], c[1]))]
        description = self._description(body, masked, removed, codes, base)
        if not ordered and not description.present:
            return None
        ol = OrderLine(
            customer_sku=customer_sku,
            description=description,
            quantity=quantity,
            uom=uom,
            unit_price=unit_price,
            quantity_text=vague_text,
            line_total=line_total,
            codes=tuple(dict.fromkeys(ordered)),
            text=(line.text.strip() if not multi else body[: max(cut, b)].strip(" ,;.")),
        )
        return _Item(ol, vague_text, (base, base + len(body)))

    def _item_end(self, masked: str, body: str, base: int, *, after: int) -> int:
        """Offset in the chunk where the item's words end: a date cue, a ship-to phrase,
        a site reference or the end of the sentence after the quantity."""
        end = len(masked)
        for d in self.dates:
            if d.span not in self.state.masked:
                continue  # a weak date without a cue ("4.8" in "200x4.8") is product text
            if base + after <= d.span[0] < base + end:
                lo = max(base, d.span[0] - _WINDOW)
                cue = self._date_cue(self.text[lo : d.span[0]])
                end = min(end, (lo - base + cue) if cue is not None else d.span[0] - base)
                break
        for pattern in (self.p.ship_phrase, self.p.urgent, *self.p.sites):
            m = pattern.search(body, after)
            if m and m.start() < end:
                end = m.start()
                lo = max(0, end - _WINDOW)
                prep = re.search(r"(?<![^\W_])(?:to|an|nach|à|a|en|aan|naar|for|für|pour|para|per|at|bei|chez)\s*$", body[lo:end], re.I)
                if prep:
                    end = lo + prep.start()
        for m in re.finditer(r"[.!?](?=\s|$)", masked[after:end]):
            k = after + m.start()
            if masked.count("(", 0, k) > masked.count(")", 0, k):
                continue
            word = re.search(r"([^\W\d_]+)$", masked[max(0, k - _WINDOW) : k])
            if masked[k] == "." and word and (fold(word.group(1)) in self.p.abbreviations or len(word.group(1)) == 1):
                continue
            end = k
            break
        return end

    def _date_cue(self, left: str) -> int | None:
        """Start of the delivery cue ending ``left`` (the text right before a date), if any."""
        trimmed = self.p.weekday_tail.sub("", left)
        for text in (left, trimmed):
            for pattern in (self.p.delivery_label, self.p.strong_cue, self.p.weak_cue, self.p.order_date_cue):
                m = pattern.search(text)
                if m:
                    return m.start()
        return None

    def _prices(self, masked: str, qty: Span, base: int):
        unit_price: Field[Decimal] = MISSING
        line_total: Field[Decimal] = MISSING
        spans: list[Span] = []
        currency = None
        per_unit: str | None = None  # the unit a price is quoted for ("per case" -> CS)
        hits = []
        for m in _money_pattern().finditer(masked):
            num = m.group("n1") or m.group("n2")
            cur = m.group("c1") or m.group("c2")
            hits.append((m.start(), m.end(), num, cur))
        for m in re.finditer(rf"(?:@|(?<![^\W_])(?:at|à|zu|je|a)(?![^\W_]))\s*(?P<num>{NUM})(?![\d])", masked, re.I):
            if not any(x <= m.start("num") < y for x, y, _, _ in hits):
                after = masked[m.end() :]
                if m.group(0).startswith("@") or self.p.each.match(after) or self.p.per_unit.match(after):
                    hits.append((m.start("num"), m.end(), m.group("num"), None))
        hits.sort()
        for start, end, num, cur in hits:
            if start < qty[1] and qty[0] < end:
                continue
            value = parse_decimal(num, decimal_comma=self.decimal_comma)
            if value is None:
                continue
            # extend left over a cue ("at", "@", "zu", "à") and right over "per case" / "/Schachtel" / "each"
            lo = max(0, start - _WINDOW)
            left = masked[lo:start]
            cue = self.p.price_cue.search(left)
            s = lo + cue.start() if cue else start
            e = end
            after = masked[e : e + _WINDOW]
            per = self.p.per_unit.match(after)
            um = _units(self.language).pattern.match(after, per.end()) if per else None
            if um:
                e += um.end()
                per_unit = per_unit or unit_code(um.group(0), self.language) or None
            else:
                em = self.p.each.match(after)
                if em:
                    e += em.end()
                    per_unit = per_unit or "EA"
            is_total = bool(self.p.total_cue.search(left))
            code = normalise_currency(cur) if cur else None
            currency = currency or code
            spans.append((s, e))
            prov = self.prov((base + start, base + end), "price-total" if is_total else "price")
            if is_total and not line_total.present:
                line_total = Field(_price_value(value), 0.8, prov)
            elif not is_total and not unit_price.present:
                unit_price = Field(_price_value(value), 0.85 if cur else 0.7, prov)
        return unit_price, line_total, spans, currency, per_unit

    def _code_like(self, token: str, *, labelled: bool = False) -> bool:
        t = token.strip("()[],;:")
        if not t or not re.search(r"\d", t):
            return False
        digits = sum(ch.isdigit() for ch in t)
        if any(p.fullmatch(t) for p in self.p.not_codes):
            return False
        if t.isdigit():
            return len(t) >= (4 if labelled else 5)
        if len(t) < (3 if labelled else 4):
            return False
        if digits < 2 and not labelled:
            return False
        if re.fullmatch(r"\d+(?:[.,]\d+)+", t) and t.count(".") + t.count(",") < 2:
            return False  # a plain decimal number
        if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}", t):
            return False
        return True

    def _codes_in(self, masked: str, base: int) -> list[tuple[float, int, str]]:
        """(score, offset, token) of every part-number-like token, labelled ones scoring highest."""
        out = []
        for m in re.finditer(r"(?<![\w/.-])[A-Za-z0-9](?:[A-Za-z0-9]|[-/._](?=[A-Za-z0-9]))*", masked):
            token = m.group(0)
            before = masked[max(0, m.start() - _WINDOW) : m.start()]
            cust = self.p.customer_code_labels.search(before)
            supp = self.p.supplier_code_labels.search(before)
            lab = self.p.code_labels.search(before)
            labelled = bool(cust or supp or lab)
            if not self._code_like(token, labelled=labelled):
                continue
            if not labelled and self.p.standard_prefix.search(before):
                continue
            score = 1.0
            if cust:
                score = 6.5
            elif supp:
                score = 7.0
            elif lab:
                score = 6.0
            else:
                if re.fullmatch(r"[A-Za-z]{1,5}[-/.]\d[\w./-]*", token):
                    score += 3
                elif re.fullmatch(r"\d{6,}", token):
                    score += 2
                elif token.isdigit():
                    score += 1
                elif re.search(r"[-/.]", token):
                    score += 1.5
                if re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) is None:
                    score -= 1
                if re.search(r"\(\s*$", before) and re.match(r"\s*\)", masked[m.end() :]):
                    score += 1
            out.append((score, base + m.start(), token))
        return out

    def _description(self, body: str, masked: str, removed: list[Span], codes, base: int) -> Field[str]:
        chars = list(body)
        for a, b in removed:
            for k in range(a, min(b, len(chars))):
                chars[k] = "\0"
        # a labelled code is identification, not description: "articolo AX-1234", "Art.-Nr. 4711"
        for score, pos, token in codes:
            if score < 6:
                continue
            lo = max(0, pos - _WINDOW)
            before = masked[lo:pos]
            label = (
                self.p.customer_code_labels.search(before)
                or self.p.supplier_code_labels.search(before)
                or self.p.code_labels.search(before)
            )
            start = lo + label.start() if label else pos
            if masked[lo:start].rstrip().endswith("("):
                continue  # the parenthesis rule below removes "(our ref X)" as a whole
            for k in range(start, min(pos + len(token), len(chars))):
                chars[k] = "\0"
        text = "".join(chars)
        # "Qty:", "Item:", "Referencia:", "数量：" left over from key-value items
        text = self.p.column_label.sub(lambda m: "\0" * len(m.group(0)), text)
        # parentheses holding only a (labelled) code: "(our ref IB/2633)", "(AX-5235)"
        code_tokens = {t for _, _, t in codes}

        def paren(m: re.Match[str]) -> str:
            inner = m.group(1)
            rest = inner
            for t in code_tokens:
                rest = rest.replace(t, " ")
            rest_clean = self.p.customer_code_labels.sub("", rest.strip() + " ").strip()
            rest_clean = self.p.code_labels.sub("", rest_clean + " ").strip()
            rest_clean = self.p.supplier_code_labels.sub("", rest_clean + " ").strip()
            if any(t in inner for t in code_tokens) and not re.search(r"[^\W_]{2,}", rest_clean.replace("\0", "")):
                return "\0" * len(m.group(0))
            return m.group(0)

        text = re.sub(r"\(([^()]*)\)", paren, text)
        parts = [p.strip() for p in re.split(r"\0+", text)]
        parts = [p for p in parts if p.strip(" -–:x×*,.;@")]
        desc = " ".join(parts)
        desc = re.sub(r"\s+", " ", desc).strip(" -–:,;")
        # connectors left by the quantity ("x", "of", "de")
        desc = re.sub(r"^(?:[x×*]|of|de|des|di|van|d')\s+", "", desc, flags=re.I)
        desc = re.sub(r"\s+(?:[x×*@]|at|zu|à)$", "", desc, flags=re.I)
        # a code at either end is the code, not the description
        for _ in range(2):
            for t in sorted(code_tokens, key=len, reverse=True):
                if desc.startswith(t + " ") or desc == t:
                    desc = desc[len(t) :].strip(" -–:,;")
                if desc.endswith(" " + t):
                    desc = desc[: -len(t)].strip(" -–:,;")
        desc = desc.strip(" -–:,;")
        if re.fullmatch(r"\([^()]*\)", desc):
            desc = desc[1:-1].strip()
        if not re.search(r"[^\W\d_]{2,}|[\u4e00-\u9fff]", desc):
            return MISSING
        start = body.find(desc[: min(len(desc), 12)])
        span = (base + max(start, 0), base + max(start, 0) + len(desc)) if start >= 0 else None
        return Field(desc, 0.7, Provenance(self.source, span=span, rule="item-text"))

    # -- currency, urgency, notes ----------------------------------------------

    def currency(self) -> Field[str]:
        hits = list(self.currency_hits)
        for m in self.p.currency_label.finditer(self.region):
            code = normalise_currency(m.group("cur"))
            if code:
                hits.append((code, m.start()))
        if not hits:
            for m in _money_pattern().finditer(self.region):
                code = normalise_currency(m.group("c1") or m.group("c2"))
                if code:
                    hits.append((code, m.start()))
        if not hits:
            return MISSING
        hits.sort(key=lambda h: h[1])
        code, pos = hits[0]
        conf = 0.9 if len({c for c, _ in hits}) == 1 else 0.6
        return Field(code, conf, self.prov((pos, pos + 1), "price-currency"))

    def urgent(self) -> Field[bool]:
        for where, text, source in (("text", self.region, self.source), ("subject", self.subject, "subject")):
            for m in self.p.urgent.finditer(text):
                if is_negated(text, m.start()):
                    continue
                return Field(True, 0.9 if where == "text" else 0.85, Provenance(source, span=m.span(), rule=f"urgent-word-{where}"))
        return Field(False, 0.8, Provenance(self.source, rule="no-urgent-words"))

    def notes(self) -> Field[str]:
        found: list[tuple[int, int, str]] = []
        labelled: set[int] = set()
        for i, line in enumerate(self.lines):
            m = self.p.notes_label.match(line.text)
            if m and m.group("rest").strip():
                rest = m.group("rest").strip()
                found.append((line.start + m.start("rest"), line.start + m.end("rest"), rest))
                labelled.add(i)
        for i, line in enumerate(self.lines):
            if i in self.state.consumed or i in labelled or not line.text.strip():
                continue
            if self.p.instructions.search(line.text) and self.p.delivery_words.search(line.text):
                if not any(a <= line.start < b for a, b, _ in found):
                    found.append((line.start, line.end, line.text.strip()))
        if not found:
            return MISSING
        found.sort()
        text = " ".join(t for _, _, t in found)
        return Field(text, 0.7, self.prov((found[0][0], found[-1][1]), "delivery-instructions"))


# --- addresses -------------------------------------------------------------------

_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"
_POSTAL_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (
    # "Cleveland, OH 44114" / "OH 44114"
    (re.compile(r"^(?:(?P<city>[^,\d][^,]*?),?\s+)?(?P<state>[A-Z]{2})\s+(?P<pc>\d{5}(?:-\d{4})?)$"), False),
    # "Slough SL1 4SS" / "SL1 4SS Slough"
    (re.compile(rf"^(?P<city>[^\d,][^,]*?),?\s+(?P<pc>{_UK_POSTCODE})$"), False),
    (re.compile(rf"^(?P<pc>{_UK_POSTCODE})\s+(?P<city>[^\d,].*)$"), False),
    # "5652 AJ Eindhoven"
    (re.compile(r"^(?P<pc>\d{4}\s?[A-Z]{2})\s+(?P<city>[^\d,].*)$"), False),
    # "80687 München", "D-80687 München", "00-950 Warszawa", "123 45 Stockholm"
    # (a house number looks the same: "4100 Lakeside Ave" is refused by its street word)
    (re.compile(r"^(?:[A-Z]{1,2}-)?(?P<pc>\d{4,6}|\d{2}-\d{3}|\d{3}\s\d{2})\s+(?P<city>[^\d,].*)$"), True),
    # "Shanghai 201613"
    (re.compile(r"^(?P<city>[^\d,][^,]*?)\s+(?P<pc>\d{4,6})$"), True),
)


def parse_address(lines: list[str], *, single_line: bool = False) -> Address | None:
    """An address from block lines or one comma-separated line; None if it holds no city/postcode.

    The name is what precedes the street (the first segment with a house number
    or a street word), the street runs to the postcode segment, and a trailing
    country is read with ``normalise_country``.
    """
    segments: list[str] = []
    if single_line:
        segments = [s.strip() for s in re.split(r",\s*|\s+[-–]{2}\s+", lines[0]) if s.strip()]
    else:
        for n, line in enumerate(lines):
            line = line.strip()
            if n == 0:
                segments.append(line)
            else:
                segments.extend(s.strip() for s in line.split(",") if s.strip())
    if not segments:
        return None
    country = None
    if len(segments) > 1:
        c = normalise_country(segments[-1])
        if c:
            country = c
            segments = segments[:-1]
    postal_index = None
    pc = city = None
    for idx in range(len(segments) - 1, -1, -1):
        if idx == 0 and len(segments) > 1 and not single_line:
            break
        seg = segments[idx]
        for pattern, house_number_like in _POSTAL_PATTERNS:
            m = pattern.match(seg)
            if not m:
                continue
            c = (m.groupdict().get("city") or "").strip(" ,")
            if house_number_like and c and _patterns().street_words.search(c):
                continue
            pc = m.group("pc").strip()
            city = c or None
            postal_index = idx
            break
        if postal_index is not None:
            break
    if postal_index is None:
        if len(segments) >= 2 and country:
            # "..., Toledo, USA": take the last segment as the city
            city = segments[-1]
            postal_index = len(segments) - 1
            pc = None
        else:
            return None
    if city is None and postal_index > 0:
        city = segments[postal_index - 1]
        before = segments[: postal_index - 1]
    else:
        before = segments[:postal_index]
    name = street = None
    if before:
        street_at = None
        for k in range(1 if len(before) > 1 else 0, len(before)):
            if re.search(r"\d", before[k]) or _patterns().street_words.search(before[k]):
                street_at = k
                break
        if street_at is None:
            if len(before) == 1:
                name = before[0]
            else:
                name, street = before[0], ", ".join(before[1:])
        else:
            name = ", ".join(before[:street_at]) or None
            street = ", ".join(before[street_at:]) or None
    return Address(name=name, street=street, postal_code=pc, city=city, country=country)


def _address_line_like(text: str, *, first: bool) -> bool:
    """Could ``text`` be a line of a postal address (name, street, postcode + city, country)?"""
    t = text.strip()
    if not t or len(t) > 120:
        return False
    if normalise_country(t):
        return True
    if t.endswith(("!", "?")) or (t.endswith(".") and len(t.split()) > 3 and not _patterns().street_words.search(t)):
        return False
    if re.search(r"[:：]\s*\S", t) and not re.match(r"^\S+[:：]\s*\d", t):
        return False
    for seg in [t, *[s.strip() for s in t.split(",")]]:
        if any(p.match(seg) for p, _ in _POSTAL_PATTERNS):
            return True
    if re.search(r"\d", t) and (_patterns().street_words.search(t) or re.match(r"^\d+[a-zA-Z]?\s+\S|^\D+\s\d+[a-zA-Z]?(?:[-/]\d+)?$", t)):
        return True
    words = t.split()
    if first or len(words) <= 6:
        return len(words) <= 8 and not re.search(rf"[{_CJK}]{{4,}}", t) and not _patterns().urgent.search(t)
    return False


# --- language ------------------------------------------------------------------


def guess_language(text: str) -> str | None:
    """The language whose common words occur most in ``text`` (None if nothing stands out)."""
    words = _patterns().language_words
    tokens = [fold(t) for t in re.findall(r"[^\W\d_]+", text)]
    scores = {lang: 0 for lang in words}
    for t in tokens:
        for lang, vocab in words.items():
            if t in vocab:
                scores[lang] += 1
    cjk = len(re.findall(f"[{_CJK}]", text))
    if cjk > 10:
        scores["zh"] = scores.get("zh", 0) + cjk // 5
    best = max(scores.items(), key=lambda kv: kv[1])
    if best[1] < 2:
        return None
    ranked = sorted(scores.values(), reverse=True)
    if len(ranked) > 1 and ranked[1] == best[1]:
        return None
    return best[0]
