"""Quantities the writer hedged: "30 or 40", "approx. 50", "大约30".

Such a line must not be keyed with either number; the order goes to review
with ``ambiguous_quantity``. The words live in ``vocabulary/text.yaml``
(``hedged_quantity``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from bot.model import Field, Order, Reason, ReasonCode
from extractors.quotes import text_vocabulary

_NUMBER = r"\d+(?:[.,]\d+)?"


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    vocab = text_vocabulary()["hedged_quantity"]
    alternatives = _alternation([str(w) for w in vocab["alternatives"]])
    approximately = _alternation([str(w) for w in vocab["approximately"]])
    # "30 or 40", "30 (or 60?)", "30或40": a number, an 'or' word, another number
    either = re.compile(rf"(?<![\w.,]){_NUMBER}\s*\(?\s*(?:{alternatives})\.?\s*{_NUMBER}(?![\d.,]*\s*(?:mm|cm|m|in|inch|mm²|kg|g|l|ml)\b)", re.I)
    # "approx. 50", "ca. 50", "大约30": the word right before the number
    about = re.compile(rf"(?:(?<![^\W\d_])|(?<=[^\x00-\x7f]))(?:{approximately})\s*{_NUMBER}", re.I)
    return either, about


def hedged(text: str | None) -> str | None:
    """The hedged quantity phrase in ``text``, or None."""
    if not text:
        return None
    for pattern in _patterns():
        if m := pattern.search(text):
            return m.group(0)
    return None


def flag_hedged_quantities(order: Order) -> Order:
    """Lines whose text hedges the quantity lose it and send the order to review."""
    lines = list(order.lines)
    for i, line in enumerate(lines):
        phrase = hedged(line.text)
        if phrase is None:
            continue
        lines[i] = replace(line, quantity=Field(None), quantity_text=phrase)
        order = order.with_reason(
            Reason(ReasonCode.AMBIGUOUS_QUANTITY, f"line {i + 1}: the quantity is written as {phrase!r}", field=f"lines[{i + 1}].quantity", found=phrase)
        )
    return replace(order, lines=tuple(lines))
