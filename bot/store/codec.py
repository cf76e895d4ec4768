"""A lossless JSON form of an ``Order``, for the ``orders.fields_json`` column.

The order is also stored as the extraction JSON of FORMATS.md (``order_json``),
the public contract that reports and other tools read. That form keeps values
and a confidence per top-level field only. This one keeps everything needed to
give the review UI back the very record the pipeline stored: every ``Field``'s
value, confidence and provenance, the reasons with their evidence, and what
FORMATS leaves out (customer name, document total, line totals, candidate
codes, line text).

    {"v": 1, "source": ..., "fields": {"po_number": {"value": "4500012345",
     "confidence": 0.99, "provenance": {"source": "attachment:PO.pdf", "page": 1,
     "bbox": [...]}}, ...}, "lines": [{"fields": {...}, "codes": [...], ...}],
     "reasons": [{"code": "unknown_sku", "message": ..., "field": ...}]}

A field that is ``MISSING`` is left out. Adding a ``Field`` to ``Order`` or
``OrderLine`` means adding it to ``ORDER_FIELDS`` / ``LINE_FIELDS`` below; a
contract test fails until then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.extraction_json import decimal_str
from bot.model import (
    MISSING,
    Address,
    Backorder,
    Field,
    Order,
    OrderLine,
    Provenance,
    Reason,
    ReasonCode,
)

FORMAT_VERSION = 1

JsonObject = dict[str, Any]  # the stored shape only; callers get records


@dataclass(frozen=True, slots=True)
class _ValueKind:
    """How one type of field value becomes JSON and back."""

    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


def _dump_address(address: Address) -> JsonObject:
    return {
        "name": address.name,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
        "address_id": address.address_id,
    }


def _load_address(obj: Mapping[str, Any]) -> Address:
    return Address(**{key: obj.get(key) for key in _dump_address(Address())})


_STR = _ValueKind(str, str)
_BOOL = _ValueKind(bool, bool)
_DATE = _ValueKind(date.isoformat, date.fromisoformat)
_DECIMAL = _ValueKind(decimal_str, Decimal)
_ADDRESS = _ValueKind(_dump_address, _load_address)

ORDER_FIELDS: dict[str, _ValueKind] = {
    "customer_id": _STR,
    "customer_name": _STR,
    "po_number": _STR,
    "order_date": _DATE,
    "delivery_date": _DATE,
    "currency": _STR,
    "ship_to": _ADDRESS,
    "urgent": _BOOL,
    "notes": _STR,
    "document_total": _DECIMAL,
}
# Attributes of Order that are not a Field; written out by hand below.
ORDER_PLAIN = frozenset({"source", "lines", "reasons", "linked_order_id"})

LINE_FIELDS: dict[str, _ValueKind] = {
    "sku": _STR,
    "customer_sku": _STR,
    "description": _STR,
    "quantity": _DECIMAL,
    "uom": _STR,
    "unit_price": _DECIMAL,
    "line_total": _DECIMAL,
}
LINE_PLAIN = frozenset({"quantity_text", "codes", "text", "backorder"})


class StoredOrderFormatError(ValueError):
    """``fields_json`` of a row cannot be read (written by a newer orderbot?)."""


# --- writing ----------------------------------------------------------------


def _dump_provenance(provenance: Provenance) -> JsonObject:
    obj: JsonObject = {"source": provenance.source}
    if provenance.page is not None:
        obj["page"] = provenance.page
    if provenance.bbox is not None:
        obj["bbox"] = list(provenance.bbox)
    if provenance.span is not None:
        obj["span"] = list(provenance.span)
    if provenance.rule is not None:
        obj["rule"] = provenance.rule
    return obj


def _dump_fields(record: Order | OrderLine, kinds: Mapping[str, _ValueKind]) -> JsonObject:
    out: JsonObject = {}
    for name, kind in kinds.items():
        fld: Field[Any] = getattr(record, name)
        if fld == MISSING:
            continue
        obj: JsonObject = {
            "value": None if fld.value is None else kind.dump(fld.value),
            "confidence": fld.confidence,
        }
        if fld.provenance is not None:
            obj["provenance"] = _dump_provenance(fld.provenance)
        out[name] = obj
    return out


def _dump_line(line: OrderLine) -> JsonObject:
    return {
        "fields": _dump_fields(line, LINE_FIELDS),
        "quantity_text": line.quantity_text,
        "codes": list(line.codes),
        "text": line.text,
        "backorder": _dump_backorder(line.backorder),
    }


def _dump_backorder(backorder: Backorder | None) -> JsonObject | None:
    if backorder is None:
        return None
    return {"ship_now": decimal_str(backorder.ship_now), "backorder": decimal_str(backorder.backorder), "uom": backorder.uom}


def _dump_reason(reason: Reason) -> JsonObject:
    return {
        "code": str(reason.code),
        "message": reason.message,
        "field": reason.field,
        "expected": reason.expected,
        "found": reason.found,
        "blocking": reason.blocking,
    }


def dump_order(order: Order) -> str:
    """The order as the text of ``fields_json``."""
    return json.dumps(
        {
            "v": FORMAT_VERSION,
            "source": order.source,
            "fields": _dump_fields(order, ORDER_FIELDS),
            "lines": [_dump_line(line) for line in order.lines],
            "reasons": [_dump_reason(reason) for reason in order.reasons],
            "linked_order_id": order.linked_order_id,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


# --- reading ----------------------------------------------------------------


def _load_provenance(obj: Mapping[str, Any]) -> Provenance:
    bbox = obj.get("bbox")
    span = obj.get("span")
    return Provenance(
        source=obj["source"],
        page=obj.get("page"),
        bbox=tuple(bbox) if bbox is not None else None,
        span=tuple(span) if span is not None else None,
        rule=obj.get("rule"),
    )


def _load_fields(obj: Mapping[str, Any], kinds: Mapping[str, _ValueKind]) -> dict[str, Field[Any]]:
    unknown = set(obj) - set(kinds)
    if unknown:
        raise StoredOrderFormatError(f"unknown fields {sorted(unknown)}")
    loaded: dict[str, Field[Any]] = {}
    for name, kind in kinds.items():
        if name not in obj:
            loaded[name] = MISSING
            continue
        item = obj[name]
        raw = item.get("value")
        provenance = item.get("provenance")
        loaded[name] = Field(
            None if raw is None else kind.load(raw),
            float(item.get("confidence", 0.0)),
            _load_provenance(provenance) if provenance is not None else None,
        )
    return loaded


def _load_line(obj: Mapping[str, Any]) -> OrderLine:
    return OrderLine(
        **_load_fields(obj.get("fields") or {}, LINE_FIELDS),
        quantity_text=obj.get("quantity_text"),
        codes=tuple(obj.get("codes") or ()),
        text=obj.get("text"),
        backorder=_load_backorder(obj.get("backorder")),
    )


def _load_backorder(obj: Mapping[str, Any] | None) -> Backorder | None:
    if obj is None:
        return None
    return Backorder(Decimal(obj["ship_now"]), Decimal(obj["backorder"]), obj["uom"])


def _load_reason(obj: Mapping[str, Any]) -> Reason:
    return Reason(
        code=ReasonCode(obj["code"]),
        message=obj.get("message") or "",
        field=obj.get("field"),
        expected=obj.get("expected"),
        found=obj.get("found"),
        blocking=bool(obj.get("blocking", True)),  # rows written before warnings existed block
    )


def load_order(text: str) -> Order:
    """The order written by ``dump_order``, equal to the one given to it."""
    try:
        obj = json.loads(text)
        if obj.get("v") != FORMAT_VERSION:
            raise StoredOrderFormatError(f"unknown format version {obj.get('v')!r}")
        return Order(
            source=obj["source"],
            **_load_fields(obj.get("fields") or {}, ORDER_FIELDS),
            lines=tuple(_load_line(line) for line in obj.get("lines") or ()),
            reasons=tuple(_load_reason(reason) for reason in obj.get("reasons") or ()),
            linked_order_id=obj.get("linked_order_id"),
        )
    except StoredOrderFormatError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoredOrderFormatError(f"cannot read stored order: {exc!r}") from exc
