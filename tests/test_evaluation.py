"""The corpus scorer: matching, counting and the order-level metrics, with exact numbers."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError, UnreadableInput
from bot.evaluation import FIELDS, FieldScore, load_labels, message_paths, score

CORPUS = Path(os.environ.get("ORDERBOT_CORPUS", Path(__file__).parents[2] / "shared" / "corpus"))

needs_corpus = pytest.mark.skipif(
    not (CORPUS / "labels").is_dir(), reason=f"no labelled corpus at {CORPUS} (set ORDERBOT_CORPUS)"
)


# --- hand-made wire objects ----------------------------------------------------


def line(sku: str | None = "AX-1", quantity: str | None = "4", uom: str | None = "EA",
         unit_price: str | None = "2.50") -> dict[str, Any]:
    return {"sku": sku, "customer_sku": None, "quantity": quantity, "uom": uom,
            "unit_price": unit_price}


def ship_to(name: str = "Nordwind Lager Nord") -> dict[str, Any]:
    return {"name": name, "street": "Hafenstrasse 12", "postal_code": "20457",
            "city": "Hamburg", "country": "DE"}


def order(po: str | None = "PO-1", *, review: bool = False, lines: list | None = None,
          **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "customer_id": "C1001",
        "po_number": po,
        "order_date": "2026-11-20",
        "delivery_date": "2026-12-01",
        "currency": "EUR",
        "ship_to": ship_to(),
        "lines": [line()] if lines is None else lines,
        "urgent": False,
        "notes": None,
        "review": review,
        "reasons": ["price_mismatch"] if review else [],
    }
    obj.update(fields)
    return obj


def message(*orders: dict[str, Any], kind: str = "order") -> dict[str, Any]:
    return {"message_id": "<m@example.com>", "kind": kind, "orders": list(orders)}


# An order of message(order()) has 10 non-null order fields (customer_id, po_number,
# two dates, currency, five ship_to subfields) plus urgent and review = 12, and one
# line with 4 non-null fields.
ORDER_VALUES = 12
LINE_VALUES = 4


def counts(scores, name: str) -> tuple[int, int, int]:
    field = scores.fields[name]
    return field.tp, field.fp, field.fn


# --- the real corpus -------------------------------------------------------------


@needs_corpus
def test_perfect_prediction_of_real_labels_scores_perfectly():
    """Given every label of the corpus
    When each is predicted exactly (as its own prediction)
    Then f1, exact-order rate, straight-through rate and kind accuracy are 1 and nothing
    is wrongly auto-keyed."""
    labels = load_labels(CORPUS)

    scores = score([(label, copy.deepcopy(label)) for _, label in labels],
                   names=[name for name, _ in labels])

    assert scores.messages == len(labels)
    assert scores.overall == 1.0
    assert scores.overall_counts.fp == scores.overall_counts.fn == 0
    assert scores.wrong_auto == 0
    assert scores.stp == 1.0
    assert scores.exact_order_rate == 1.0
    assert scores.kind_accuracy == 1.0
    assert scores.errors == ()


@needs_corpus
def test_one_wrong_quantity_in_a_real_clean_order():
    """Given a real clean (review false) one-order label
    When the prediction has the second line's quantity wrong
    Then line.quantity has exactly one fp and one fn, the order is no longer exact and it
    counts as wrongly auto-keyed, while stp is unaffected."""
    labels = dict(load_labels(CORPUS))
    label = labels["0002"]
    assert label["orders"][0]["review"] is False
    n_lines = len(label["orders"][0]["lines"])
    prediction = copy.deepcopy(label)
    prediction["orders"][0]["lines"][1]["quantity"] = "999"

    scores = score([(label, prediction)], names=["0002"])

    assert counts(scores, "line.quantity") == (n_lines - 1, 1, 1)
    assert scores.wrong_auto == 1
    assert scores.exact_order_rate == 0.0
    assert scores.stp == 1.0
    [error] = scores.errors
    assert (error.message, error.po_number, error.field, error.line) == (
        "0002", label["orders"][0]["po_number"], "line.quantity", 2)
    assert (error.expected, error.got) == (label["orders"][0]["lines"][1]["quantity"], "999")


@needs_corpus
def test_loads_labels_and_messages_in_name_order():
    """Given the corpus
    When labels and message paths are listed
    Then both are in name order and pair up one to one."""
    labels = load_labels(CORPUS)
    paths = message_paths(CORPUS)

    assert [name for name, _ in labels] == [path.stem for path in paths]
    assert [name for name, _ in labels] == sorted(name for name, _ in labels)


# --- order-level metrics -----------------------------------------------------------


def test_review_true_label_predicted_review_false_is_wrong_auto_and_not_in_stp():
    """Given one label that must go to review and one clean label
    When both are predicted review false with every other field right
    Then one order is wrongly auto-keyed, stp (over the clean label only) stays 1, and
    review recall is 0."""
    labels = message(order("PO-1", review=True), order("PO-2"))
    prediction = message(order("PO-1", review=False), order("PO-2"))

    scores = score([(labels, prediction)])

    assert scores.wrong_auto == 1
    assert scores.stp == 1.0
    assert (scores.clean_orders, scores.clean_auto) == (1, 1)
    assert counts(scores, "review") == (1, 1, 1)
    assert scores.review == FieldScore(tp=0, fp=0, fn=1)
    assert scores.review_recall == 0.0
    assert scores.review_precision == 1.0
    assert scores.exact_order_rate == 0.5


def test_clean_label_predicted_review_true_lowers_stp_but_is_not_wrong_auto():
    """Given a clean label
    When it is predicted review true
    Then stp is 0, review precision 0, and nothing is wrongly auto-keyed."""
    scores = score([(message(order()), message(order(review=True)))])

    assert scores.stp == 0.0
    assert scores.review == FieldScore(tp=0, fp=1, fn=0)
    assert scores.review_precision == 0.0
    assert scores.wrong_auto == 0


def test_extra_predicted_order_counts_fp_and_wrong_auto():
    """Given a message with one labelled order
    When the prediction has that order plus an extra auto-keyed order
    Then every non-null field of the extra order is a false positive, it is wrongly
    auto-keyed, and the labelled order stays exact."""
    scores = score([(message(order("PO-1")), message(order("PO-1"), order("PO-9")))])

    assert scores.overall_counts == FieldScore(
        tp=ORDER_VALUES + LINE_VALUES, fp=ORDER_VALUES + LINE_VALUES, fn=0)
    assert counts(scores, "po_number") == (1, 1, 0)
    assert counts(scores, "line.sku") == (1, 1, 0)
    assert scores.wrong_auto == 1
    assert scores.exact_order_rate == 1.0


def test_extra_predicted_order_sent_to_review_is_not_wrong_auto():
    """Given a message with no orders (an inquiry)
    When the prediction invents an order but sends it to review
    Then it is all false positives and a review false positive, but not wrongly keyed."""
    scores = score([(message(kind="inquiry"), message(order(review=True), kind="order"))])

    assert scores.overall_counts == FieldScore(tp=0, fp=ORDER_VALUES + LINE_VALUES, fn=0)
    assert scores.wrong_auto == 0
    assert scores.review == FieldScore(tp=0, fp=1, fn=0)
    assert scores.kind_accuracy == 0.0


def test_missing_order_counts_fn():
    """Given a message with two labelled clean orders
    When the prediction has only the second
    Then every non-null field of the first is a false negative, exact-order rate and stp
    are one half, and nothing is wrongly auto-keyed."""
    scores = score([(message(order("PO-1"), order("PO-2")), message(order("PO-2")))])

    assert scores.overall_counts == FieldScore(
        tp=ORDER_VALUES + LINE_VALUES, fp=0, fn=ORDER_VALUES + LINE_VALUES)
    assert counts(scores, "customer_id") == (1, 0, 1)
    assert scores.exact_order_rate == 0.5
    assert scores.stp == 0.5
    assert scores.wrong_auto == 0
    assert {error.po_number for error in scores.errors} == {"PO-1"}


def test_orders_match_by_po_number_not_position():
    """Given two labelled orders
    When they are predicted in the other order
    Then everything matches."""
    labels = message(order("PO-1"), order("PO-2", currency="USD"))
    prediction = message(order("PO-2", currency="USD"), order("PO-1"))

    scores = score([(labels, prediction)])

    assert scores.overall == 1.0
    assert scores.exact_order_rate == 1.0


# --- lines ---------------------------------------------------------------------------


def test_lines_match_by_sku_regardless_of_order():
    """Given an order with three lines
    When the prediction lists them in reverse order
    Then every line field is a true positive."""
    lines = [line("AX-1", "1"), line("AX-2", "2"), line("AX-3", "3")]
    scores = score([(message(order(lines=lines)), message(order(lines=lines[::-1])))])

    for name in ("line.sku", "line.quantity", "line.uom", "line.unit_price"):
        assert counts(scores, name) == (3, 0, 0)
    assert scores.exact_order_rate == 1.0


def test_lines_without_sku_match_by_position_after_sku_matches():
    """Given label lines [AX-1, AX-2, unknown sku]
    When the prediction lists [unresolved sku, AX-2, AX-1] and misreads the unknown line's
    quantity
    Then AX-1 and AX-2 pair by sku, the two sku-less lines pair by position, and only that
    quantity is wrong."""
    labels = [line("AX-1", "1"), line("AX-2", "2"), line(None, "7")]
    predicted = [line(None, "8"), line("AX-2", "2"), line("AX-1", "1")]

    scores = score([(message(order(lines=labels)), message(order(lines=predicted)))])

    assert counts(scores, "line.sku") == (2, 0, 0)
    assert counts(scores, "line.quantity") == (2, 1, 1)
    assert counts(scores, "line.uom") == (3, 0, 0)
    [error] = scores.errors
    assert (error.field, error.line, error.expected, error.got) == ("line.quantity", 3, "7", "8")


def test_extra_and_missing_lines():
    """Given a label with one line
    When the prediction has a different sku and an extra line
    Then sku and other fields are compared by position and the extra line is all fp;
    the order is neither exact nor correctly auto-keyed."""
    labels = [line("AX-1")]
    predicted = [line("AX-9"), line("AX-5")]

    scores = score([(message(order(lines=labels)), message(order(lines=predicted)))])

    assert counts(scores, "line.sku") == (0, 2, 1)
    assert counts(scores, "line.quantity") == (1, 1, 0)
    assert scores.exact_order_rate == 0.0
    assert scores.wrong_auto == 1


def test_extra_line_alone_makes_the_order_inexact():
    """Given a label with one line
    When the prediction has that line right plus an extra one
    Then the extra line is 4 fp and the order is not exact."""
    scores = score([(message(order(lines=[line("AX-1")])),
                     message(order(lines=[line("AX-1"), line("AX-2")])))])

    assert scores.overall_counts == FieldScore(tp=ORDER_VALUES + LINE_VALUES, fp=LINE_VALUES, fn=0)
    assert scores.exact_order_rate == 0.0
    assert scores.wrong_auto == 1


# --- value comparison -------------------------------------------------------------------


def test_decimals_compare_numerically():
    """Given quantity "4" and price "2.5"
    When predicted as "4.00" and "2.50"
    Then both are right; "4,00" (not a decimal) is wrong."""
    labels = message(order(lines=[line("AX-1", "4", unit_price="2.5")]))
    right = message(order(lines=[line("AX-1", "4.00", unit_price="2.50")]))
    wrong = message(order(lines=[line("AX-1", "4,00", unit_price="2.50")]))

    assert counts(score([(labels, right)]), "line.quantity") == (1, 0, 0)
    assert counts(score([(labels, right)]), "line.unit_price") == (1, 0, 0)
    assert counts(score([(labels, wrong)]), "line.quantity") == (0, 1, 1)


def test_text_compares_case_insensitively_with_white_space_folded():
    """Given a label
    When the prediction differs only in case and white space (PO number, sku, ship_to name)
    Then everything matches."""
    labels = message(order("VDB26-01074", lines=[line("ax-2291", uom="EA")]))
    prediction = message(order("  vdb26-01074 ",
                               lines=[line("AX-2291", uom="ea")],
                               ship_to=ship_to("NORDWIND\tLager   Nord ")))

    scores = score([(labels, prediction)])

    assert scores.overall == 1.0
    assert scores.errors == ()


def test_dates_compare_as_strings():
    """Given delivery date 2026-12-01
    When predicted as 2026-12-1
    Then it is one fp and one fn."""
    scores = score([(message(order()), message(order(delivery_date="2026-12-1")))])

    assert counts(scores, "delivery_date") == (0, 1, 1)


def test_null_ship_to_counts_as_five_null_subfields():
    """Given a label without ship-to
    When the prediction has a full ship-to
    Then each of the five ship_to subfields is one false positive."""
    scores = score([(message(order(ship_to=None)), message(order()))])

    for key in ("name", "street", "postal_code", "city", "country"):
        assert counts(scores, f"ship_to.{key}") == (0, 1, 0)


def test_false_is_a_value_for_booleans():
    """Given urgent false in the label
    When predicted false, true, or left out
    Then it is a tp, an fp plus fn, or an fn."""
    label = message(order())
    as_false = message(order())
    as_true = message(order(urgent=True))
    left_out = message(order())
    del left_out["orders"][0]["urgent"]

    assert counts(score([(label, as_false)]), "urgent") == (1, 0, 0)
    assert counts(score([(label, as_true)]), "urgent") == (0, 1, 1)
    assert counts(score([(label, left_out)]), "urgent") == (0, 0, 1)


def test_blank_string_counts_as_null():
    """Given a label with no order date
    When the prediction says "  "
    Then nothing is counted for order_date."""
    scores = score([(message(order(order_date=None)), message(order(order_date="  ")))])

    assert counts(scores, "order_date") == (0, 0, 0)


# --- kinds and restricted orders ------------------------------------------------------------


def test_kind_accuracy():
    """Given four messages
    When three kinds are predicted right
    Then kind accuracy is 0.75 and the wrong kind is listed as an error."""
    pairs = [
        (message(kind="inquiry"), message(kind="inquiry")),
        (message(kind="other"), message(kind="other")),
        (message(order()), message(order())),
        (message(kind="other"), message(kind="inquiry")),
    ]

    scores = score(pairs, names=["a", "b", "c", "d"])

    assert scores.kind_accuracy == 0.75
    assert scores.kind_correct == 3
    [error] = scores.errors
    assert (error.index, error.message, error.field, error.expected, error.got) == (
        3, "d", "kind", "other", "inquiry")


def restricted(po: str | None, reason: str, **fields: Any) -> dict[str, Any]:
    return order(po, review=True, lines=[], order_date=None, delivery_date=None, currency=None,
                 ship_to=None, reasons=[reason], **fields)


def test_change_message_scores_only_customer_po_and_review():
    """Given a change label (only customer, PO and review are stated)
    When the prediction also fills dates, ship-to and lines, and gets the customer wrong
    Then only customer_id, po_number and review are counted."""
    label = message(restricted("345106", "change_request"), kind="change")
    prediction = message(order("345106", review=True, customer_id="C9999"), kind="change")

    scores = score([(label, prediction)])

    assert counts(scores, "customer_id") == (0, 1, 1)
    assert counts(scores, "po_number") == (1, 0, 0)
    assert counts(scores, "review") == (1, 0, 0)
    assert scores.overall_counts == FieldScore(tp=2, fp=1, fn=1)
    assert scores.exact_order_rate == 0.0
    assert scores.wrong_auto == 0
    assert scores.review == FieldScore(tp=1, fp=0, fn=0)


def test_change_message_predicted_as_clean_order_is_wrong_auto():
    """Given a cancellation label
    When it is predicted as a new order keyed automatically
    Then the kind is wrong, review is one fp and fn, and the order is wrongly auto-keyed."""
    label = message(restricted("CG91318667", "cancellation_request"), kind="cancellation")
    prediction = message(order("CG91318667"), kind="order")

    scores = score([(label, prediction)])

    assert scores.kind_accuracy == 0.0
    assert counts(scores, "review") == (0, 1, 1)
    assert scores.overall_counts == FieldScore(tp=2, fp=1, fn=1)
    assert scores.wrong_auto == 1


def test_unreadable_document_order_with_null_po_is_restricted_and_matched():
    """Given an unreadable-document order with no PO number
    When predicted with no PO number and some guessed order fields
    Then the two null-PO orders are matched and only customer, PO and review count."""
    label = message(restricted(None, "unreadable_document"))
    prediction = message(order(None, review=True))

    scores = score([(label, prediction)])

    assert scores.overall_counts == FieldScore(tp=2, fp=0, fn=0)
    assert counts(scores, "po_number") == (0, 0, 0)
    assert scores.exact_order_rate == 1.0


# --- output -------------------------------------------------------------------------------


def test_report_ends_with_the_summary_line():
    """Given a scored run with one wrong quantity in a clean order and one clean order
    predicted for review
    When the report is rendered
    Then it names every field and its last line is the machine-readable summary."""
    pairs = [
        (message(order("PO-1")), message(order("PO-1", lines=[line(quantity="5")]))),
        (message(order("PO-2")), message(order("PO-2", review=True))),
        (message(order("PO-3")), message(order("PO-3"))),
    ]

    scores = score(pairs)
    report = scores.report()

    last = report.splitlines()[-1]
    assert re.fullmatch(r"overall_f1=\d\.\d{3} wrong_auto=\d+ stp=\d\.\d{2}", last)
    assert last == f"overall_f1={scores.overall:.3f} wrong_auto=1 stp=0.67"
    for name in FIELDS:
        assert name in report
    assert "straight-through rate" in report


def test_to_json_holds_numbers_and_errors():
    """Given a run with one wrong field
    When exported as JSON
    Then it round-trips through json and carries counts, rates and the error."""
    scores = score([(message(order()), message(order(currency="USD")))], names=["0001"])

    data = json.loads(json.dumps(scores.to_json()))

    assert data["fields"]["currency"] == {
        "tp": 0, "fp": 1, "fn": 1, "support": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert data["wrong_auto"] == 1
    assert data["stp"] == 1.0
    assert data["errors"] == [{"index": 0, "message": "0001", "po_number": "PO-1", "line": None,
                               "field": "currency", "expected": "EUR", "got": "USD"}]


def test_empty_denominators_are_vacuously_perfect():
    """Given no messages
    When scored
    Then every rate is 1.0 and nothing is wrong."""
    scores = score([])

    assert (scores.overall, scores.stp, scores.exact_order_rate, scores.kind_accuracy) == (
        1.0, 1.0, 1.0, 1.0)
    assert scores.report().splitlines()[-1] == "overall_f1=1.000 wrong_auto=0 stp=1.00"


def test_malformed_prediction_names_the_message():
    """Given a prediction with a float quantity (FORMATS: never floats)
    When scored
    Then UnreadableInput names the message and the key."""
    prediction = message(order(lines=[line(quantity=4.0)]))  # type: ignore[arg-type]

    with pytest.raises(UnreadableInput, match=r"0007 \(prediction\).*quantity"):
        score([(message(order()), prediction)], names=["0007"])


# --- corpus files ----------------------------------------------------------------------------


def make_corpus(root: Path, labels: dict[str, str], messages: list[str]) -> Path:
    (root / "labels").mkdir()
    (root / "messages").mkdir()
    for name, text in labels.items():
        (root / "labels" / f"{name}.json").write_text(text, encoding="utf-8")
    for name in messages:
        (root / "messages" / f"{name}.eml").write_text("Subject: x\n\nbody\n", encoding="utf-8")
    return root


def test_load_labels_names_the_file_with_bad_json(tmp_path):
    """Given a corpus whose second label is broken JSON
    When labels are loaded
    Then the error names that file."""
    corpus = make_corpus(tmp_path, {"0001": json.dumps(message()), "0002": "{oops"}, [])

    with pytest.raises(UnreadableInput, match=r"0002\.json.*not valid JSON"):
        load_labels(corpus)


def test_load_labels_returns_stems_in_name_order(tmp_path):
    """Given labels written out of order
    When loaded
    Then they come back in name order with their stems."""
    corpus = make_corpus(tmp_path, {"0002": json.dumps(message(kind="other")),
                                    "0001": json.dumps(message())}, [])

    assert [(name, label["kind"]) for name, label in load_labels(corpus)] == [
        ("0001", "order"), ("0002", "other")]


def test_message_without_label_is_named(tmp_path):
    """Given a message with no label
    When message paths are listed
    Then the error names the missing label file."""
    corpus = make_corpus(tmp_path, {"0001": "{}"}, ["0001", "0002"])

    with pytest.raises(ConfigError, match=r"0002\.json.*0002\.eml has no label"):
        message_paths(corpus)


def test_label_without_message_is_named(tmp_path):
    """Given a label with no message
    When message paths are listed
    Then the error names the missing message file."""
    corpus = make_corpus(tmp_path, {"0001": "{}", "0003": "{}"}, ["0001"])

    with pytest.raises(ConfigError, match=r"0003\.eml.*0003\.json has no message"):
        message_paths(corpus)
