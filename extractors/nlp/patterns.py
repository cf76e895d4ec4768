"""Rule patterns for the spaCy pipelines: dates, amounts, quantities, part and PO numbers.

Two components, both fed from the project's vocabularies (``normalise.yaml``
for units, currencies and months; ``labels.yaml`` and ``text.yaml`` for field
labels, weekdays, number words and the shapes that are not article numbers):

- ``orderbot_labelled_values`` (a ``Matcher``): a value right after its label,
  "PO 4500012345", "Bestellnummer: 88-123", "réf. XK-220", "订单号：PO-88123".
  Only the value becomes the entity (``PO`` or ``PART``).
- an ``entity_ruler`` with token patterns for values recognised by their shape:
  ``DATE`` ("05/12/2026", "5. Dezember 2026", "Friday", "2026年12月5日"),
  ``PRICE`` ("€1,234.50", "12,50 EUR", "¥12.50"), ``QTY`` ("20 boxes",
  "20箱", "zwölf Kartons"), ``PART`` ("AX-1234/B", "4711-220"), ``PO``
  ("PO-88123").

The patterns assume ``pipeline.OrderTokenizer`` (the tokenizer of every orderbot
pipeline), which keeps codes, numbers and dates in one token.
"""

from __future__ import annotations

import re
from functools import cache

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from extractors.normalise import fold, vocabulary
from extractors.quotes import text_vocabulary

LABELLED_VALUES = "orderbot_labelled_values"

# --- token shapes ------------------------------------------------------------------

NUMBER = r"^(?:\d{1,3}(?:[.,'’]\d{3})+(?:[.,]\d{1,3})?|\d+(?:[.,]\d{1,3})?)$"
AMOUNT = NUMBER
INTEGER = r"^\d{1,6}$"
DAY = r"^(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th|er|e|º)?$"
YEAR = r"^(?:19|20)\d{2}$"
_DATE_TOKEN = (
    r"^(?:\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})"
    r"|\d{4}[./]\d{1,2}[./]\d{1,2}"
    r"|(?i:kw|cw|wk)\d{1,2})$"
)
CJK_NUMERAL = r"^[一二两三四五六七八九十百千]$"
# A PO number whose label is glued on ("PO-88123", "PO88123", "PO#4711" is three tokens).
_PO_TOKEN = r"^(?i:po|p\.o)[-/_.]?\d[\w\-/.]{2,}$"
# A value after a label: holds a digit, three characters at least.
_VALUE = r"^(?=[^\s]*\d)[\w][\w\-/.]{2,}$"
# Separators between a label and its value ("PO: 4711", "Art.-Nr. 4711", "n° 4711").
_SEPARATORS = [":", "：", ".", "#", "-", "–", "/", "n", "°", "º", "no", "nr", "number", "nummer", "numéro", "número", "numero", "号", "为", "is"]


@cache
def _not_codes() -> str:
    """``text.yaml`` ``not_codes`` as one alternation (whole token, case-insensitive)."""
    return "|".join(f"(?:{p})" for p in text_vocabulary()["not_codes"])


@cache
def part_shape() -> str:
    """An article number by its shape: letters and digits ("AX-1234/B", "HX8840"),
    or digit groups joined by '-' or '/' ("4711-220"), never a dimension, size or
    standard (``not_codes``), a date or an amount."""
    letters_digits = r"(?=.{4,}$)(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9]+(?:[-./_][A-Za-z0-9]+)*"
    digit_groups = r"\d{2,}(?:[-/]\d{2,})+|\d{2,}(?:\.\d{2,}){2,}"
    return (
        rf"^(?!(?i:{_not_codes()})$)(?!{_DATE_TOKEN[1:-1]}$)(?!{_PO_TOKEN[1:-1]}$)"
        rf"(?:{letters_digits}|{digit_groups})$"
    )


def tokens_of(phrase: str) -> list[str]:
    """``phrase`` as orderbot's tokenizer splits it, lower-cased (no white space tokens)."""
    from extractors.nlp.pipeline import token_texts

    return [t.lower() for t in token_texts(phrase)]


def _single_words(words) -> list[str]:
    """The one-token entries of ``words``, folded, sorted (patterns must not depend on set order)."""
    out = set()
    for w in words:
        toks = tokens_of(fold(str(w)))
        if len(toks) == 1:
            out.add(toks[0])
    return sorted(out)


def _multi(words) -> list[list[str]]:
    out = {tuple(tokens_of(fold(str(w)))) for w in words}
    return [list(t) for t in sorted(out) if len(t) > 1]


# --- vocabularies ----------------------------------------------------------------------


@cache
def unit_words() -> list[str]:
    words = list(vocabulary().units)
    tv = text_vocabulary()
    for table in [tv.get("unit_words") or {}, *((tv.get("unit_words_by_language") or {}).values())]:
        for ws in table.values():
            words.extend(str(w) for w in ws)
    return _single_words(words)


@cache
def currency_words() -> tuple[list[str], list[list[str]]]:
    words = [w for w in vocabulary().currencies if w not in ("fr.",)]
    return _single_words(words), _multi(words)


@cache
def month_words() -> tuple[list[str], list[str]]:
    """(unambiguous, ambiguous) month names; an ambiguous one ("may", "set") needs a year."""
    ambiguous = {fold(str(w)) for w in text_vocabulary()["ambiguous_months"]}
    months = _single_words(vocabulary().months)
    return [m for m in months if m not in ambiguous], [m for m in months if m in ambiguous]


@cache
def weekday_words() -> tuple[list[str], list[list[str]]]:
    """Full weekday names (abbreviations like "Mo", "Do" are ordinary words too)."""
    words = [str(w) for w in text_vocabulary()["weekdays"]]
    latin = [w for w in _single_words(words) if len(w) >= 5]
    return latin, _multi(words)


@cache
def number_words() -> list[str]:
    """Numbers written as words; articles ("a", "ein", "une") are left out."""
    articles = {"a", "an", "un", "une", "uno", "una", "ein", "eine", "einen", "einem", "een"}
    words = [str(w) for ws in text_vocabulary()["number_words"].values() for w in ws]
    return [w for w in _single_words(words) if w not in articles]


@cache
def po_labels() -> list[list[str]]:
    words = [*(str(w) for w in _labels()["po_number"]), *(str(w) for w in text_vocabulary()["po_labels"])]
    return sorted({tuple(t) for w in words if (t := tokens_of(fold(w)))})  # type: ignore[misc]


@cache
def part_labels() -> list[list[str]]:
    cols = _labels()["columns"]
    tv = text_vocabulary()
    words = [
        *(str(w) for w in cols["sku"]),
        *(str(w) for w in cols["customer_sku"]),
        *(str(w) for w in cols["supplier_sku"]),
        *(str(w) for w in tv["code_labels"]),
        *(str(w) for w in tv["customer_code_labels"]),
    ]
    # a bare "item"/"code"/"part"... is a label; "text"/"material" alone are too loose
    loose = {("text",), ("material",), ("product",), ("item",), ("value",)}
    return sorted({tuple(t) for w in words if (t := tokens_of(fold(w))) and tuple(t) not in loose})  # type: ignore[misc]


@cache
def _labels() -> dict:
    from extractors.text import labels

    return labels()


# --- EntityRuler patterns ---------------------------------------------------------------


def _in(words: list[str]) -> dict:
    return {"LOWER": {"IN": words}}


def _seq(tokens: list[str]) -> list[dict]:
    return [{"LOWER": t} for t in tokens]


@cache
def _entity_patterns() -> tuple[dict, ...]:
    p: list[dict] = []

    def add(label: str, pattern: list[dict], name: str) -> None:
        p.append({"label": label, "pattern": pattern, "id": name})

    months, ambiguous_months = month_words()
    weekdays, weekday_phrases = weekday_words()
    opt_dot = {"TEXT": ".", "OP": "?"}
    opt_comma = {"TEXT": ",", "OP": "?"}
    day = {"TEXT": {"REGEX": DAY}}
    year = {"TEXT": {"REGEX": YEAR}}
    weekday = {"LOWER": {"IN": weekdays}, "OP": "?"}
    of = {"LOWER": {"IN": ["de", "of", "the"]}, "OP": "?"}

    # -- DATE
    add("DATE", [{"TEXT": {"REGEX": _DATE_TOKEN}}], "date-numeric")
    for month, needs_year in ((months, False), (ambiguous_months, True)):
        m = {"LOWER": {"IN": month}}
        y = year if needs_year else {**year, "OP": "?"}
        add("DATE", [weekday, opt_comma, day, opt_dot, of, m, opt_dot, opt_comma, of, y], "date-day-month")
        add("DATE", [weekday, opt_comma, m, opt_dot, day, opt_comma, y], "date-month-day")
    add("DATE", [{"LOWER": {"IN": weekdays}}], "date-weekday")
    for phrase in weekday_phrases:
        add("DATE", _seq(phrase), "date-weekday")
    cjk_day = [{"TEXT": {"REGEX": r"^\d{1,2}$"}}, {"TEXT": "月"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}, {"TEXT": {"IN": ["日", "号"]}}]
    add("DATE", cjk_day, "date-cjk")
    add("DATE", [year, {"TEXT": "年"}, *cjk_day], "date-cjk")
    add("DATE", [{"LOWER": {"IN": ["kw", "week", "wk", "semaine", "semana", "settimana"]}}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}], "date-week")

    # -- PRICE: an amount with its currency
    cur_words, cur_phrases = currency_words()
    amount = {"TEXT": {"REGEX": AMOUNT}}
    add("PRICE", [_in(cur_words), amount], "price-currency-first")
    add("PRICE", [amount, _in(cur_words)], "price-currency-after")
    for phrase in cur_phrases:
        add("PRICE", [*_seq(phrase), amount], "price-currency-first")
        add("PRICE", [amount, *_seq(phrase)], "price-currency-after")

    # -- QTY: a number and its unit
    units = _in(unit_words())
    add("QTY", [{"TEXT": {"REGEX": NUMBER}}, units], "qty-number-unit")
    add("QTY", [_in(number_words()), units], "qty-word-unit")
    add("QTY", [{"TEXT": {"REGEX": CJK_NUMERAL}, "OP": "+"}, units], "qty-cjk-unit")

    # -- PART and PO by their shape
    add("PART", [{"TEXT": {"REGEX": part_shape()}}], "part-shape")
    add("PO", [{"TEXT": {"REGEX": _PO_TOKEN}}], "po-prefixed")
    return tuple(p)


def entity_patterns() -> list[dict]:
    """The EntityRuler patterns (a fresh list: callers may hand it to ``add_patterns``)."""
    return [dict(p) for p in _entity_patterns()]


# --- labelled values ----------------------------------------------------------------------


class LabelledValues:
    """Marks the value after a PO or part-number label (only the value is the entity).

    When labels of both kinds end at the same value, the longer label wins
    ("our order no" over "order"), then PO over PART.
    """

    def __init__(self, nlp: Language) -> None:
        self.matcher = Matcher(nlp.vocab)
        sep = {"LOWER": {"IN": _SEPARATORS}, "OP": "*"}
        value = {"TEXT": {"REGEX": _VALUE}}
        self.matcher.add("PO", [[*_seq(label), sep, value] for label in po_labels()])
        self.matcher.add("PART", [[*_seq(label), sep, value] for label in part_labels()])
        self.units = frozenset(unit_words())

    def __call__(self, doc: Doc) -> Doc:
        best: dict[int, tuple[int, int, str]] = {}  # value token -> (label length, PO first, label)
        for match_id, start, end in self.matcher(doc):
            label = doc.vocab.strings[match_id]
            value = end - 1
            if value + 1 < len(doc) and doc[value + 1].lower_ in self.units:
                continue  # "order 20 boxes": a quantity, not a number
            if re.match(_DATE_TOKEN, doc[value].text):
                continue
            label_len = self._label_length(doc, start, value)
            key = (label_len, 1 if label == "PO" else 0, label)
            if value not in best or key > best[value]:
                best[value] = key
        spans = [Span(doc, i, i + 1, label=key[2]) for i, key in sorted(best.items())]
        doc.ents = filter_spans([*spans, *doc.ents])
        return doc

    @staticmethod
    def _label_length(doc: Doc, start: int, value: int) -> int:
        n = 0
        for tok in doc[start:value]:
            if tok.lower_ not in _SEPARATORS:
                n += 1
        return n


@Language.factory(LABELLED_VALUES)
def make_labelled_values(nlp: Language, name: str) -> LabelledValues:
    return LabelledValues(nlp)
