"""The extraction JSON of FORMATS.md section 2 round-trips through the typed records."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.extraction_json import ExtractionFormatError, dumps, extraction_from_json, extraction_to_json
from bot.model import Address, Extraction, Field, MessageKind, Order, OrderLine, Provenance, Reason, ReasonCode

LABEL_KEYS = ("customer_id", "po_number", "order_date", "delivery_date", "currency", "ship_to", "urgent", "notes", "review", "reasons")


def test_every_corpus_label_round_trips(corpus_dir: Path):
    """Given each labelled result of the corpus, when read into records and written back,
    then every key the label has comes back with the same value."""
    for path in sorted((corpus_dir / "labels").glob("*.json")):
        label = json.loads(path.read_text(encoding="utf-8"))
        again = extraction_to_json(extraction_from_json(label))
        assert again["message_id"] == label["message_id"] and again["kind"] == label["kind"], path.name
        for want, got in zip(label["orders"], again["orders"], strict=True):
            for key in LABEL_KEYS:
                assert got[key] == want[key], f"{path.name}: {key}"
            for want_line, got_line in zip(want["lines"], got["lines"], strict=True):
                for key in ("sku", "customer_sku", "quantity", "uom", "unit_price"):
                    assert got_line[key] == want_line[key], f"{path.name}: line {key}"


def test_written_json_uses_the_contract_key_order_and_decimal_strings():
    order = Order(
        source="attachment:po.pdf",
        customer_id=Field("C1001", 0.99),
        po_number=Field("4500012345", 0.97, Provenance("attachment:po.pdf", page=1, bbox=(10.0, 20.0, 80.0, 30.0))),
        delivery_date=Field(date(2026, 12, 1), 0.9),
        currency=Field("EUR", 0.9),
        ship_to=Field(Address("Nordwind", "Hafenstrasse 12", "20457", "Hamburg", "DE"), 0.93),
        lines=(OrderLine(sku=Field("AX-2291", 0.97), quantity=Field(Decimal("24"), 0.95), uom=Field("EA", 0.9), unit_price=Field(Decimal("3.40"), 0.9)),),
        reasons=(Reason(ReasonCode.PRICE_MISMATCH, "x"), Reason(ReasonCode.PRICE_MISMATCH, "y", field="lines[2]")),
    )
    obj = json.loads(dumps(Extraction("<m@x>", MessageKind.ORDER, (order,))))
    written = obj["orders"][0]
    assert list(written) == ["source", "customer_id", "po_number", "order_date", "delivery_date", "currency", "ship_to", "lines", "urgent", "notes", "review", "reasons", "confidence"]
    assert list(written["ship_to"]) == ["name", "street", "postal_code", "city", "country"]
    assert written["lines"][0] == {"sku": "AX-2291", "customer_sku": None, "description": None, "quantity": "24", "uom": "EA", "unit_price": "3.40"}
    assert written["review"] is True and written["reasons"] == ["price_mismatch"], "a code is listed once"
    assert written["order_date"] is None and written["delivery_date"] == "2026-12-01"
    assert written["confidence"]["po_number"] == 0.97


def test_floats_and_unknown_reasons_are_refused():
    base = {"message_id": "<m@x>", "kind": "order", "orders": [{"lines": [{"quantity": 2.5}]}]}
    with pytest.raises(ExtractionFormatError, match="quantity.*floats"):
        extraction_from_json(base)
    with pytest.raises(ExtractionFormatError, match="unknown reason code 'bogus'"):
        extraction_from_json({"message_id": "<m@x>", "kind": "order", "orders": [{"reasons": ["bogus"]}]})
    with pytest.raises(ExtractionFormatError, match="kind"):
        extraction_from_json({"message_id": "<m@x>", "kind": "purchase"})


def test_field_confidence_must_be_a_probability():
    with pytest.raises(ValueError, match="confidence"):
        Field("x", 1.5)
