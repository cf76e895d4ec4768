"""The extraction result JSON of FORMATS.md section 2, to and from the typed records.

Key names and their order are the public contract; do not rename them.
Keys added beyond FORMATS.md appear only when they carry something: an order's
``warnings`` (reason codes recorded but not blocking; ``reasons`` lists only the
blocking ones, so ``review`` is true exactly when ``reasons`` is non-empty) and
a line's ``backorder`` (the split of an out-of-stock line).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.model import (
    MISSING,
    Address,
    Backorder,
    Extraction,
    Field,
    MessageKind,
    Order,
    OrderLine,
    Reason,
    ReasonCode,
)

JsonObject = dict[str, Any]  # the wire shape only; inside the bot we use the records


def decimal_str(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def _date_str(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _address_json(address: Address | None) -> JsonObject | None:
    if address is None:
        return None
    return {
        "name": address.name,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
    }


def line_to_json(line: OrderLine) -> JsonObject:
    obj: JsonObject = {
        "sku": line.sku.value,
        "customer_sku": line.customer_sku.value,
        "description": line.description.value,
        "quantity": decimal_str(line.quantity.value),
        "uom": line.uom.value,
        "unit_price": decimal_str(line.unit_price.value),
    }
    if line.backorder is not None:
        obj["backorder"] = {
            "ship_now": decimal_str(line.backorder.ship_now),
            "backorder": decimal_str(line.backorder.backorder),
            "uom": line.backorder.uom,
        }
    return obj


_CONFIDENCE_FIELDS = (
    "customer_id",
    "po_number",
    "order_date",
    "delivery_date",
    "currency",
    "ship_to",
    "urgent",
)


def order_to_json(order: Order) -> JsonObject:
    confidence = {
        name: round(getattr(order, name).confidence, 3)
        for name in _CONFIDENCE_FIELDS
        if getattr(order, name).present
    }
    if order.lines:
        confidence["lines"] = round(
            min(min(ln.quantity.confidence, ln.sku.confidence or 1.0) for ln in order.lines), 3
        )
    obj: JsonObject = {
        "source": order.source,
        "customer_id": order.customer_id.value,
        "po_number": order.po_number.value,
        "order_date": _date_str(order.order_date.value),
        "delivery_date": _date_str(order.delivery_date.value),
        "currency": order.currency.value,
        "ship_to": _address_json(order.ship_to.value),
        "lines": [line_to_json(line) for line in order.lines],
        "urgent": bool(order.urgent.value),
        "notes": order.notes.value,
        "review": order.review,
        "reasons": [str(code) for code in order.blocking_codes],
        "confidence": confidence,
    }
    if order.warning_codes:
        obj["warnings"] = [str(code) for code in order.warning_codes]
    return obj


def extraction_to_json(extraction: Extraction) -> JsonObject:
    return {
        "message_id": extraction.message_id,
        "kind": str(extraction.kind),
        "orders": [order_to_json(o) for o in extraction.orders],
    }


def dumps(extraction: Extraction) -> str:
    """One JSON Lines record."""
    return json.dumps(extraction_to_json(extraction), ensure_ascii=False, separators=(", ", ": "))


# --- reading ---------------------------------------------------------------


class ExtractionFormatError(ValueError):
    pass


def _field(obj: Mapping[str, Any], key: str, parse, confidence: Mapping[str, Any]) -> Field:
    raw = obj.get(key)
    if raw is None:
        return MISSING
    try:
        value = parse(raw)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ExtractionFormatError(f"{key}: cannot read {raw!r}: {exc}") from exc
    conf = confidence.get(key, 1.0)
    return Field(value, float(conf))


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, float):
        raise ValueError("decimals are strings, never floats")
    return Decimal(str(raw))


def _address(raw: Any) -> Address:
    if not isinstance(raw, Mapping):
        raise ValueError("ship_to must be an object")
    return Address(
        name=raw.get("name"),
        street=raw.get("street"),
        postal_code=raw.get("postal_code"),
        city=raw.get("city"),
        country=raw.get("country"),
    )


def _backorder(raw: Any) -> Backorder | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ExtractionFormatError("backorder must be an object")
    try:
        return Backorder(_decimal(raw["ship_now"]), _decimal(raw["backorder"]), str(raw["uom"]))
    except (KeyError, ValueError, InvalidOperation) as exc:
        raise ExtractionFormatError(f"backorder: cannot read {raw!r}") from exc


def line_from_json(obj: Mapping[str, Any]) -> OrderLine:
    return OrderLine(
        sku=_field(obj, "sku", str, {}),
        customer_sku=_field(obj, "customer_sku", str, {}),
        description=_field(obj, "description", str, {}),
        quantity=_field(obj, "quantity", _decimal, {}),
        uom=_field(obj, "uom", str, {}),
        unit_price=_field(obj, "unit_price", _decimal, {}),
        backorder=_backorder(obj.get("backorder")),
    )


def order_from_json(obj: Mapping[str, Any]) -> Order:
    conf = obj.get("confidence") or {}
    reasons = []
    for key, blocking in (("reasons", True), ("warnings", False)):
        for code in obj.get(key) or []:
            try:
                reasons.append(Reason(ReasonCode(code), blocking=blocking))
            except ValueError as exc:
                raise ExtractionFormatError(f"{key}: unknown reason code {code!r}") from exc
    if obj.get("review") and not any(r.blocking for r in reasons):
        reasons.append(Reason(ReasonCode.LOW_CONFIDENCE, "review without a stated reason"))
    return Order(
        source=obj.get("source") or "",
        customer_id=_field(obj, "customer_id", str, conf),
        po_number=_field(obj, "po_number", str, conf),
        order_date=_field(obj, "order_date", date.fromisoformat, conf),
        delivery_date=_field(obj, "delivery_date", date.fromisoformat, conf),
        currency=_field(obj, "currency", str, conf),
        ship_to=_field(obj, "ship_to", _address, conf),
        lines=tuple(line_from_json(ln) for ln in obj.get("lines") or []),
        urgent=Field(bool(obj.get("urgent")), float(conf.get("urgent", 1.0))),
        notes=_field(obj, "notes", str, conf),
        reasons=tuple(reasons),
    )


def extraction_from_json(obj: Mapping[str, Any]) -> Extraction:
    try:
        kind = MessageKind(obj["kind"])
        message_id = obj["message_id"]
    except KeyError as exc:
        raise ExtractionFormatError(f"missing key {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise ExtractionFormatError(f"kind: {exc}") from exc
    return Extraction(
        message_id=message_id,
        kind=kind,
        orders=tuple(order_from_json(o) for o in obj.get("orders") or []),
    )
