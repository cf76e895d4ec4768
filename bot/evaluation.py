"""Score predicted extraction results against a labelled corpus (FORMATS.md section 3).

Both sides are the extraction JSON of FORMATS.md section 2, one object per
message, already parsed. They are converted into small typed records here
(``_Message``, ``_Order``, ``_Line``) before anything is compared, so the rest
of the module never touches a wire dict.

Matching
    Orders are matched within one message by ``po_number`` (case-insensitive,
    white space folded). Orders with equal keys, including the null key, are
    paired in position order, so a null-PO prediction pairs with a null-PO
    label of the same message. Lines of a matched pair are matched by equal
    non-null ``sku`` first, then the remaining lines by position.

Comparing
    Text compares case-insensitively with white space folded; a blank string
    counts as null. ``quantity`` and ``unit_price`` compare as decimals
    (``"4" == "4.00"``; a string that is no decimal is compared as text and so
    is simply wrong). Dates compare as strings. ``ship_to`` is scored as its
    five subfields; a null ``ship_to`` means five null subfields. ``urgent``
    and ``review`` are booleans and ``false`` is a value, not a null: a label
    ``false`` predicted ``false`` is a true positive, predicted ``true`` is one
    false positive and one false negative. Only a missing key or ``null`` is
    null for them.

Counting, per scored field
    label value, prediction equal     -> tp
    label value, prediction null      -> fn
    label null, prediction value      -> fp
    both values, different            -> fp and fn
    both null                         -> nothing
    Unmatched labelled orders and lines count every non-null field as fn,
    unmatched predicted ones every non-null field as fp.

Restricted orders
    For messages labelled ``change`` or ``cancellation``, and for labelled
    orders whose reasons include ``unreadable_document``, FORMATS.md says the
    other keys are null and not scored: only ``customer_id``, ``po_number`` and
    ``review`` are scored, lines are not. Predicted orders that match no label
    in a change/cancellation message are restricted the same way (the label of
    the message decides what is scored there).

Order-level metrics
    exact_order_rate  labelled orders that are matched and have no error at all
                      (every scored field, every line, no extra line) / all
                      labelled orders.
    review            over orders, positive = ``review: true``: tp = both true;
                      fp = predicted true and the label false or no label
                      order; fn = label true and predicted false or no
                      predicted order.
    wrong_auto        predicted orders with ``review: false`` that would be
                      keyed wrongly: the matched label says review, or any
                      scored field or line of the pair is wrong, or there is no
                      matching labelled order.
    stp               labelled orders with ``review: false`` whose matched
                      prediction is ``review: false`` / labelled orders with
                      ``review: false`` (straight-through rate).

A ratio whose denominator is zero is 1.0 (nothing to find, nothing wrong).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, UnreadableInput
from bot.model import MessageKind, ReasonCode

WireValue = str | bool | None  # a scalar as it appears in the extraction JSON

ORDER_FIELDS: tuple[str, ...] = (
    "customer_id",
    "po_number",
    "order_date",
    "delivery_date",
    "currency",
    "ship_to.name",
    "ship_to.street",
    "ship_to.postal_code",
    "ship_to.city",
    "ship_to.country",
    "urgent",
    "review",
)
LINE_FIELDS: tuple[str, ...] = ("line.sku", "line.quantity", "line.uom", "line.unit_price")
FIELDS: tuple[str, ...] = ORDER_FIELDS + LINE_FIELDS
RESTRICTED_FIELDS: tuple[str, ...] = ("customer_id", "po_number", "review")

_SHIP_TO_KEYS = ("name", "street", "postal_code", "city", "country")
_RESTRICTED_KINDS = frozenset({MessageKind.CHANGE.value, MessageKind.CANCELLATION.value})


# --- results -----------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


@dataclass(frozen=True)
class FieldScore:
    """Counts for one field (or a sum of fields)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def support(self) -> int:
        """How many non-null label values there were."""
        return self.tp + self.fn

    def __add__(self, other: FieldScore) -> FieldScore:
        return FieldScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_json(self) -> dict[str, int | float]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class FieldError:
    """One wrong value, for debugging.

    ``index`` is the 0-based position of the message in the scored pairs,
    ``message`` its name when ``score`` was given names (else its Message-ID).
    ``po_number`` is the label's (the prediction's for an extra order);
    ``line`` is the 1-based position of the line in the label (in the
    prediction for an extra line), or None for order fields. ``field`` is one of
    ``FIELDS`` or ``"kind"``.
    """

    index: int
    message: str | None
    po_number: str | None
    field: str
    expected: WireValue
    got: WireValue
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "message": self.message,
            "po_number": self.po_number,
            "line": self.line,
            "field": self.field,
            "expected": self.expected,
            "got": self.got,
        }


@dataclass(frozen=True)
class Scores:
    messages: int
    kind_correct: int
    fields: Mapping[str, FieldScore]  # every name of FIELDS, in that order
    labelled_orders: int
    exact_orders: int
    review: FieldScore  # over orders, positive = review true
    wrong_auto: int
    clean_orders: int  # labelled orders with review false
    clean_auto: int  # ... of them predicted review false
    errors: tuple[FieldError, ...]

    @property
    def kind_accuracy(self) -> float:
        return _ratio(self.kind_correct, self.messages)

    @property
    def overall_counts(self) -> FieldScore:
        return sum(self.fields.values(), FieldScore())

    @property
    def overall(self) -> float:
        """Micro F1 over all scored fields."""
        return self.overall_counts.f1

    @property
    def exact_order_rate(self) -> float:
        return _ratio(self.exact_orders, self.labelled_orders)

    @property
    def review_precision(self) -> float:
        return self.review.precision

    @property
    def review_recall(self) -> float:
        return self.review.recall

    @property
    def stp(self) -> float:
        return _ratio(self.clean_auto, self.clean_orders)

    def report(self) -> str:
        name_width = max(len(name) for name in (*FIELDS, "overall (micro)"))
        header = (
            f"{'field':<{name_width}}  {'precision':>9}  {'recall':>6}  {'f1':>5}"
            f"  {'support':>7}  {'tp':>5}  {'fp':>5}  {'fn':>5}"
        )

        def row(name: str, counts: FieldScore) -> str:
            return (
                f"{name:<{name_width}}  {counts.precision:>9.3f}  {counts.recall:>6.3f}"
                f"  {counts.f1:>5.3f}  {counts.support:>7}  {counts.tp:>5}  {counts.fp:>5}"
                f"  {counts.fn:>5}"
            )

        lines = [
            f"messages: {self.messages}",
            f"message kind accuracy: {self.kind_accuracy:.3f}"
            f" ({self.kind_correct}/{self.messages})",
            "",
            header,
            "-" * len(header),
            *(row(name, counts) for name, counts in self.fields.items()),
            "-" * len(header),
            row("overall (micro)", self.overall_counts),
            "",
            f"overall micro F1: {self.overall:.3f}",
            f"exact-order rate: {self.exact_order_rate:.3f}"
            f" ({self.exact_orders}/{self.labelled_orders} labelled orders)",
            f"review precision: {self.review_precision:.3f}"
            f" (tp {self.review.tp}, fp {self.review.fp})",
            f"review recall: {self.review_recall:.3f} (tp {self.review.tp}, fn {self.review.fn})",
            f"wrong auto-keyed orders: {self.wrong_auto}",
            f"straight-through rate: {self.stp:.2f}"
            f" ({self.clean_auto}/{self.clean_orders} clean orders predicted review false)",
            f"errors: {len(self.errors)}",
            f"overall_f1={self.overall:.3f} wrong_auto={self.wrong_auto} stp={self.stp:.2f}",
        ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "kind_correct": self.kind_correct,
            "kind_accuracy": self.kind_accuracy,
            "fields": {name: counts.to_json() for name, counts in self.fields.items()},
            "overall": self.overall_counts.to_json(),
            "overall_f1": self.overall,
            "labelled_orders": self.labelled_orders,
            "exact_orders": self.exact_orders,
            "exact_order_rate": self.exact_order_rate,
            "review": self.review.to_json(),
            "review_precision": self.review_precision,
            "review_recall": self.review_recall,
            "wrong_auto": self.wrong_auto,
            "clean_orders": self.clean_orders,
            "clean_auto": self.clean_auto,
            "stp": self.stp,
            "errors": [error.to_json() for error in self.errors],
        }


# --- typed view of the wire format ---------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A wire value and the key it compares by (None = null)."""

    raw: WireValue
    key: object

    @property
    def is_null(self) -> bool:
        return self.key is None


_NULL = _Value(None, None)


@dataclass(frozen=True)
class _Line:
    values: Mapping[str, _Value]  # LINE_FIELDS


@dataclass(frozen=True)
class _Order:
    values: Mapping[str, _Value]  # ORDER_FIELDS
    lines: tuple[_Line, ...]
    unreadable: bool

    @property
    def po_key(self) -> object:
        return self.values["po_number"].key

    @property
    def po_number(self) -> str | None:
        raw = self.values["po_number"].raw
        return raw if isinstance(raw, str) else None

    @property
    def review(self) -> bool | None:
        raw = self.values["review"].raw
        return raw if isinstance(raw, bool) else None


@dataclass(frozen=True)
class _Message:
    message_id: str | None
    kind: str | None
    orders: tuple[_Order, ...]


class _Shape(ValueError):
    """The wire object does not have the shape of FORMATS.md section 2."""


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _text(raw: object, where: str) -> _Value:
    if raw is None:
        return _NULL
    if not isinstance(raw, str):
        raise _Shape(f"{where}: expected a string or null, got {raw!r}")
    folded = _fold(raw)
    return _Value(raw, folded) if folded else _NULL


def _date(raw: object, where: str) -> _Value:
    if raw is None:
        return _NULL
    if not isinstance(raw, str):
        raise _Shape(f"{where}: expected a date string or null, got {raw!r}")
    stripped = raw.strip()
    return _Value(raw, stripped) if stripped else _NULL


def _decimal(raw: object, where: str) -> _Value:
    if raw is None:
        return _NULL
    if not isinstance(raw, str):
        raise _Shape(f"{where}: expected a decimal string or null, got {raw!r}")
    folded = _fold(raw)
    if not folded:
        return _NULL
    try:
        number = Decimal(folded)
    except InvalidOperation:
        return _Value(raw, ("text", folded))
    if not number.is_finite():
        return _Value(raw, ("text", folded))
    return _Value(raw, number)


def _bool(raw: object, where: str) -> _Value:
    if raw is None:
        return _NULL
    if not isinstance(raw, bool):
        raise _Shape(f"{where}: expected true, false or null, got {raw!r}")
    return _Value(raw, raw)


_ORDER_PARSERS: Mapping[str, Callable[[object, str], _Value]] = {
    "customer_id": _text,
    "po_number": _text,
    "order_date": _date,
    "delivery_date": _date,
    "currency": _text,
    "urgent": _bool,
    "review": _bool,
}
_LINE_PARSERS: Mapping[str, Callable[[object, str], _Value]] = {
    "line.sku": _text,
    "line.quantity": _decimal,
    "line.uom": _text,
    "line.unit_price": _decimal,
}


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _Shape(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _list(raw: object, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Shape(f"{where}: expected a list, got {type(raw).__name__}")
    return raw


def _parse_line(raw: object, where: str) -> _Line:
    obj = _mapping(raw, where)
    values = {}
    for name, parse in _LINE_PARSERS.items():
        key = name.removeprefix("line.")
        values[name] = parse(obj.get(key), f"{where}.{key}")
    return _Line(values)


def _parse_order(raw: object, where: str) -> _Order:
    obj = _mapping(raw, where)
    values = {
        name: parse(obj.get(name), f"{where}.{name}") for name, parse in _ORDER_PARSERS.items()
    }
    ship_to = obj.get("ship_to")
    ship_obj = {} if ship_to is None else _mapping(ship_to, f"{where}.ship_to")
    for key in _SHIP_TO_KEYS:
        values[f"ship_to.{key}"] = _text(ship_obj.get(key), f"{where}.ship_to.{key}")
    reasons = _list(obj.get("reasons"), f"{where}.reasons")
    lines = _list(obj.get("lines"), f"{where}.lines")
    return _Order(
        values={name: values[name] for name in ORDER_FIELDS},
        lines=tuple(_parse_line(line, f"{where}.lines[{i}]") for i, line in enumerate(lines)),
        unreadable=ReasonCode.UNREADABLE_DOCUMENT.value in reasons,
    )


def _parse_message(raw: object) -> _Message:
    obj = _mapping(raw, "message")
    message_id = obj.get("message_id")
    kind = obj.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise _Shape(f"kind: expected a string, got {kind!r}")
    orders = _list(obj.get("orders"), "orders")
    return _Message(
        message_id=message_id if isinstance(message_id, str) else None,
        kind=kind.strip().casefold() if kind is not None else None,
        orders=tuple(_parse_order(order, f"orders[{i}]") for i, order in enumerate(orders)),
    )


# --- matching and counting -----------------------------------------------------


def _pair_by_key(
    labels: Sequence[_Order], predictions: Sequence[_Order], key: Callable[[_Order], object]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair items with equal keys in position order; return pairs and leftovers."""
    free: dict[object, list[int]] = {}
    for j, item in enumerate(predictions):
        free.setdefault(key(item), []).append(j)
    pairs: list[tuple[int, int]] = []
    unmatched_labels: list[int] = []
    for i, item in enumerate(labels):
        candidates = free.get(key(item))
        if candidates:
            pairs.append((i, candidates.pop(0)))
        else:
            unmatched_labels.append(i)
    used = {j for _, j in pairs}
    return pairs, unmatched_labels, [j for j in range(len(predictions)) if j not in used]


def _match_lines(
    labels: Sequence[_Line], predictions: Sequence[_Line]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Lines by equal non-null sku first, then the rest by position."""
    free: dict[object, list[int]] = {}
    for j, line in enumerate(predictions):
        sku = line.values["line.sku"].key
        if sku is not None:
            free.setdefault(sku, []).append(j)
    pairs: dict[int, int] = {}
    for i, line in enumerate(labels):
        candidates = free.get(line.values["line.sku"].key)
        if line.values["line.sku"].key is not None and candidates:
            pairs[i] = candidates.pop(0)
    used = set(pairs.values())
    rest_labels = [i for i in range(len(labels)) if i not in pairs]
    rest_predictions = [j for j in range(len(predictions)) if j not in used]
    for i, j in zip(rest_labels, rest_predictions, strict=False):
        pairs[i] = j
    n = min(len(rest_labels), len(rest_predictions))
    return sorted(pairs.items()), rest_labels[n:], rest_predictions[n:]


class _Tally:
    """Mutable accumulator used only inside ``score``."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {name: [0, 0, 0] for name in FIELDS}
        self.errors: list[FieldError] = []

    def compare(
        self,
        name: str,
        expected: _Value,
        got: _Value,
        where: tuple[int, str | None, str | None, int | None],
    ) -> bool:
        """Count one field; return True when it is right (or both null)."""
        tp_fp_fn = self.counts[name]
        if expected.key == got.key:
            if not expected.is_null:
                tp_fp_fn[0] += 1
            return True
        if not got.is_null:
            tp_fp_fn[1] += 1
        if not expected.is_null:
            tp_fp_fn[2] += 1
        index, message, po_number, line = where
        self.errors.append(
            FieldError(index, message, po_number, name, expected.raw, got.raw, line)
        )
        return False


def _compare_values(
    tally: _Tally,
    names: Iterable[str],
    label: Mapping[str, _Value] | None,
    prediction: Mapping[str, _Value] | None,
    where: tuple[int, str | None, str | None, int | None],
) -> bool:
    right = True
    for name in names:
        expected = label[name] if label is not None else _NULL
        got = prediction[name] if prediction is not None else _NULL
        right = tally.compare(name, expected, got, where) and right
    return right


def _compare_orders(
    tally: _Tally,
    label: _Order | None,
    prediction: _Order | None,
    restricted: bool,
    message: tuple[int, str | None],
) -> bool:
    """Score one order pair (either side may be missing); True when all right."""
    index, name = message
    shown = label if label is not None else prediction
    po_number = shown.po_number if shown is not None else None
    fields = RESTRICTED_FIELDS if restricted else ORDER_FIELDS
    right = _compare_values(
        tally,
        fields,
        label.values if label is not None else None,
        prediction.values if prediction is not None else None,
        (index, name, po_number, None),
    )
    if restricted:
        return right
    label_lines = label.lines if label is not None else ()
    predicted_lines = prediction.lines if prediction is not None else ()
    pairs, missing, extra = _match_lines(label_lines, predicted_lines)
    compared: list[tuple[_Line | None, _Line | None, int]] = [
        (label_lines[i], predicted_lines[j], i + 1) for i, j in pairs
    ]
    compared += [(label_lines[i], None, i + 1) for i in missing]
    compared += [(None, predicted_lines[j], j + 1) for j in extra]
    for label_line, predicted_line, position in compared:
        right = (
            _compare_values(
                tally,
                LINE_FIELDS,
                label_line.values if label_line is not None else None,
                predicted_line.values if predicted_line is not None else None,
                (index, name, po_number, position),
            )
            and right
        )
    return right and not missing and not extra


def score(
    pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    names: Sequence[str] | None = None,
) -> Scores:
    """Score (label, prediction) pairs, one per message, in corpus order.

    ``names`` (e.g. the label file stems from ``load_labels``) label the
    messages in ``Scores.errors``; without them the label's Message-ID is used.
    Raises ``UnreadableInput`` naming the message when either side does not have
    the shape of FORMATS.md section 2.
    """
    if names is not None and len(names) != len(pairs):
        raise ValueError(f"{len(names)} names for {len(pairs)} messages")
    tally = _Tally()
    kind_correct = labelled_orders = exact_orders = wrong_auto = 0
    clean_orders = clean_auto = 0
    review = [0, 0, 0]

    for index, (raw_label, raw_prediction) in enumerate(pairs):
        label = _read(raw_label, index, names, "label")
        prediction = _read(raw_prediction, index, names, "prediction")
        name = names[index] if names is not None else label.message_id
        if label.kind == prediction.kind:
            kind_correct += 1
        else:
            tally.errors.append(
                FieldError(index, name, None, "kind", label.kind, prediction.kind)
            )
        restricted_message = label.kind in _RESTRICTED_KINDS

        order_pairs, missing, extra = _pair_by_key(
            label.orders, prediction.orders, lambda order: order.po_key
        )
        compared: list[tuple[_Order | None, _Order | None]] = [
            (label.orders[i], prediction.orders[j]) for i, j in order_pairs
        ]
        compared += [(label.orders[i], None) for i in missing]
        compared += [(None, prediction.orders[j]) for j in extra]

        for label_order, predicted_order in compared:
            restricted = restricted_message or (label_order is not None and label_order.unreadable)
            right = _compare_orders(
                tally, label_order, predicted_order, restricted, (index, name)
            )
            label_review = label_order.review if label_order is not None else None
            predicted_review = predicted_order.review if predicted_order is not None else None
            if label_order is not None:
                labelled_orders += 1
                if right and predicted_order is not None:
                    exact_orders += 1
                if label_review is False:
                    clean_orders += 1
                    if predicted_review is False:
                        clean_auto += 1
            if predicted_review is False and (label_order is None or label_review or not right):
                wrong_auto += 1
            if label_review is True and predicted_review is True:
                review[0] += 1
            elif predicted_review is True:
                review[1] += 1
            elif label_review is True:
                review[2] += 1

    return Scores(
        messages=len(pairs),
        kind_correct=kind_correct,
        fields={name: FieldScore(*counts) for name, counts in tally.counts.items()},
        labelled_orders=labelled_orders,
        exact_orders=exact_orders,
        review=FieldScore(*review),
        wrong_auto=wrong_auto,
        clean_orders=clean_orders,
        clean_auto=clean_auto,
        errors=tuple(tally.errors),
    )


def _read(
    raw: Mapping[str, Any], index: int, names: Sequence[str] | None, side: str
) -> _Message:
    try:
        return _parse_message(raw)
    except _Shape as exc:
        which = names[index] if names is not None else f"message #{index}"
        raise UnreadableInput(f"{which} ({side})", str(exc)) from exc


# --- corpus files ----------------------------------------------------------------


def load_labels(corpus_dir: Path) -> list[tuple[str, Mapping[str, Any]]]:
    """Read ``labels/*.json`` in name order as (file stem, parsed object) pairs.

    Raises ``ConfigError`` when there is no label, ``UnreadableInput`` naming
    the file when one is not valid JSON or not a JSON object.
    """
    labels_dir = corpus_dir / "labels"
    if not labels_dir.is_dir():
        raise ConfigError("no labels folder", path=str(labels_dir))
    paths = sorted(labels_dir.glob("*.json"))
    if not paths:
        raise ConfigError("no *.json label files", path=str(labels_dir))
    labels: list[tuple[str, Mapping[str, Any]]] = []
    for path in paths:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UnreadableInput(
                str(path), f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise UnreadableInput(str(path), f"not UTF-8: {exc}") from exc
        if not isinstance(obj, dict):
            raise UnreadableInput(str(path), "a label must be a JSON object")
        labels.append((path.stem, obj))
    return labels


def message_paths(corpus_dir: Path) -> list[Path]:
    """``messages/*.eml`` in name order, after checking each has a label and vice versa."""
    messages_dir = corpus_dir / "messages"
    labels_dir = corpus_dir / "labels"
    if not messages_dir.is_dir():
        raise ConfigError("no messages folder", path=str(messages_dir))
    paths = sorted(messages_dir.glob("*.eml"))
    if not paths:
        raise ConfigError("no *.eml messages", path=str(messages_dir))
    label_stems = {path.stem for path in labels_dir.glob("*.json")}
    for path in paths:
        if path.stem not in label_stems:
            raise ConfigError(
                f"message {path.name} has no label", path=str(labels_dir / f"{path.stem}.json")
            )
    orphans = sorted(label_stems - {path.stem for path in paths})
    if orphans:
        raise ConfigError(
            f"label {orphans[0]}.json has no message", path=str(messages_dir / f"{orphans[0]}.eml")
        )
    return paths
