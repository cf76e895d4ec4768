"""spaCy NLP for orderbot: rule patterns, an entity recogniser for orders in prose, a kind classifier.

The pieces (each module says more):

- ``pipeline``: blank pipelines per language with orderbot's tokenizer and the
  rule components; trained pipelines loaded from ``models/`` (``make model``).
- ``patterns``: EntityRuler / Matcher patterns for dates, amounts, quantities,
  part numbers and PO numbers, from the project's vocabularies.
- ``generate``: the training-data generator (made-up orders and messages).
- ``train``: ``python -m extractors.nlp.train`` trains and evaluates.
- ``kind``: ``predict_kind`` and ``combine`` (rule classification + model).

This module holds the entity side of the interface:

- ``model_entities(text)``: what the trained NER finds (QTY, UNIT, ITEM, PART,
  PO, DATE, SITE, PRICE), with character spans.
- ``rule_entities(text, lang)``: what the rule patterns find.
- ``crosscheck(order, text)``: review reasons for an order the rule extractor
  read from ``text`` where the model reads the text differently. It only adds
  reasons, it never changes a value: the rules stay the extractor of record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from bot.model import Order, Reason, ReasonCode

if TYPE_CHECKING:
    from spacy.tokens import Doc


@dataclass(frozen=True, slots=True)
class Entity:
    label: str
    text: str
    start: int
    end: int
    source: str  # "model", or "rule:<pattern id>"


def _entities(doc: Doc, source: str) -> tuple[Entity, ...]:
    out = []
    for ent in doc.ents:
        origin = f"rule:{ent.ent_id_}" if source == "rule" and ent.ent_id_ else source
        out.append(Entity(ent.label_, ent.text, ent.start_char, ent.end_char, origin))
    return tuple(out)


def model_entities(text: str, *, models_dir: Path | None = None) -> tuple[Entity, ...]:
    """Entities of the trained NER in ``text`` (raises ``pipeline.ModelMissing`` without a model)."""
    from extractors.nlp.pipeline import trained_pipeline

    return _entities(trained_pipeline("ner", models_dir)(text), "model")


def rule_entities(text: str, lang: str | None = None) -> tuple[Entity, ...]:
    """Entities of the rule patterns in ``text`` (``lang`` None: language-neutral rules)."""
    from extractors.nlp.pipeline import rule_pipeline

    return _entities(rule_pipeline(lang)(text), "rule")


# --- cross-checking the rule extractor ------------------------------------------------------

_CODE_CHARS = re.compile(r"[\s\-–/._#:]")


def _code_key(value: str) -> str:
    return _CODE_CHARS.sub("", value).upper()


def _quantity(text: str) -> Decimal | None:
    from extractors.normalise import parse_decimal

    if not re.search(r"\d", text):
        return None  # "twelve", "两": the rules read number words their own way
    return parse_decimal(text)


def crosscheck(
    order: Order, text: str, entities: tuple[Entity, ...] | None = None, *, count_lines: bool = False
) -> tuple[Reason, ...]:
    """Reasons to review ``order`` (read by the rules from ``text``) where the NER disagrees.

    - the model reads a PO number and the rules read another one, or none;
    - with ``count_lines``, the model finds more quantities than the rules read lines
      (a line may be missed). Off by default: on real orders it raises false alarms
      (specification numbers, split items): it flagged 3 to 6 of the 10 body orders
      of the development corpus, which the rules read correctly;
    - a line's quantity is none of the quantities the model reads (a quantity may
      be misread).
    Only the text before the signature counts (as for the rules). ``entities``
    defaults to ``model_entities(text)``.
    """
    from extractors.quotes import signature_start

    if entities is None:
        entities = model_entities(text)
    end = signature_start(text)
    ents = [e for e in entities if e.start < end]
    reasons: list[Reason] = []

    model_pos = []
    for e in ents:
        if e.label == "PO" and _code_key(e.text) not in {_code_key(p) for p in model_pos}:
            model_pos.append(e.text)
    if model_pos:
        rule_po = order.po_number.value if order.po_number.present else None
        if rule_po is None:
            reasons.append(Reason(ReasonCode.LOW_CONFIDENCE, f"the model reads PO number {model_pos[0]!r} where the rules found none",
                                  field="po_number", found=model_pos[0]))
        elif _code_key(str(rule_po)) not in {_code_key(p) for p in model_pos}:
            reasons.append(Reason(ReasonCode.LOW_CONFIDENCE, f"the model reads PO number {model_pos[0]!r}, the rules {rule_po!r}",
                                  field="po_number", expected=str(rule_po), found=model_pos[0]))

    # counted by quantities: the model's QTY is far more reliable than its ITEM boundaries
    counted = [e for e in ents if e.label == "QTY"]
    if count_lines and order.lines and len(counted) > len(order.lines):
        reasons.append(Reason(ReasonCode.LOW_CONFIDENCE,
                              f"the model finds {len(counted)} quantities, the rules read {len(order.lines)} lines",
                              field="lines", expected=str(len(counted)), found=str(len(order.lines))))

    quantities = {q for e in ents if e.label == "QTY" and (q := _quantity(e.text)) is not None}
    if quantities:
        for n, line in enumerate(order.lines, 1):
            if line.quantity.present and Decimal(line.quantity.value) not in quantities:
                reasons.append(Reason(ReasonCode.LOW_CONFIDENCE,
                                      f"line {n}: the model reads no quantity {line.quantity.value}",
                                      field=f"lines[{n}].quantity", found=str(line.quantity.value)))
    return tuple(reasons)
