"""The spreadsheet extractor against golden files (tests/golden/sheet, made by tests/sheet_factory.py).

Each NAME.csv|xlsx has a NAME.json holding what a person would key from it;
the extraction must equal it field by field. A case the extractor is known to
get wrong is marked xfail(strict=True) in KNOWN_MISSES, with the miss.
"""

from __future__ import annotations

import pytest

from bot.model import Document
from extractors.context import ExtractionContext
from extractors.spreadsheet import orders_from_sheet
from tests import sheet_factory
from tests.test_pdf_extractor import mismatches

CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# case -> why the extractor gets it wrong (the golden file stays what a person would key).
KNOWN_MISSES: dict[str, str] = {}


def _param(case: str) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[case])] if case in KNOWN_MISSES else []
    return pytest.param(case, marks=marks, id=case)


def test_every_factory_case_has_a_golden_pair() -> None:
    assert sheet_factory.golden_cases() == sorted(sheet_factory.CASES)
    for case in sheet_factory.golden_cases():
        golden = sheet_factory.load_case(case)
        assert (sheet_factory.GOLDEN_DIR / golden["file"]).is_file()


@pytest.mark.parametrize("case", [_param(c) for c in sheet_factory.golden_cases()])
def test_sheet_matches_golden_file(case: str) -> None:
    """Given a golden sheet, when it is extracted with no hints about the
    sender, then it gives one order and every expected field equals the golden file."""
    golden = sheet_factory.load_case(case)
    path = sheet_factory.GOLDEN_DIR / golden["file"]
    kind = path.suffix.lstrip(".")
    doc = Document(path.name, CONTENT_TYPES[kind], path.read_bytes())
    orders = orders_from_sheet(doc, context=ExtractionContext())
    assert len(orders) == 1
    assert mismatches(orders[0], golden["expected"]) == []


@pytest.mark.parametrize("case", sorted(sheet_factory.CASES))
def test_factory_regenerates_the_committed_input(case: str) -> None:
    """The committed inputs are exactly what the factory makes: CSVs byte for
    byte, workbooks cell value for cell value (and the expectation unchanged)."""
    made = sheet_factory.CASES[case]()
    committed = (sheet_factory.GOLDEN_DIR / made.file_name).read_bytes()
    data = sheet_factory.render(made)
    if made.kind == "csv":
        assert data == committed
    else:
        assert sheet_factory.xlsx_values(data) == sheet_factory.xlsx_values(committed)
    assert sheet_factory.load_case(case)["expected"] == made.expected
