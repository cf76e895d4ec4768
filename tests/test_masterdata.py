"""Master data loads once, indexes what the pipeline looks up, and names bad input precisely."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import MasterDataError
from connectors.masterdata import CsvMasterData
from tests.conftest import DEMO_MASTER_DATA


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "md"
    shutil.copytree(DEMO_MASTER_DATA, target)
    return target


def test_indexes_customers_products_and_cross_references(master):
    nordwind = master.customer_by_domain("nordwind.de")
    assert nordwind is not None and nordwind.customer_id == "C1001"
    assert master.customer_by_domain("mail.nordwind-logistik.com") is nordwind, "subdomains belong to the domain"
    assert master.customer_by_domain("example.com") is None
    assert master.product("ax-1410").description.startswith("Pallet cover")
    assert master.product("AX-1410").pack_size == Decimal("250")
    assert master.cross_reference("C1001", "NW-33933") == "AX-1410"
    assert master.cross_reference("C1002", "NW-33933") is None, "a part number belongs to one customer"
    assert {a.address_id for a in master.addresses("C1001")} >= {"C1001-01", "C1001-02"}


def test_missing_column_names_file_and_columns(folder: Path):
    path = folder / "products.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    keep = [i for i, h in enumerate(header) if h != "unit_price"]
    path.write_text("\n".join(",".join(c for i, c in enumerate(l.split(",")) if i in keep) for l in lines) + "\n", encoding="utf-8")
    with pytest.raises(MasterDataError) as caught:
        CsvMasterData.load(folder)
    assert "products.csv" in str(caught.value) and "unit_price" in str(caught.value)


def test_bad_value_names_file_line_and_column(folder: Path):
    path = folder / "customers.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace(",ok,", ",maybe,")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(MasterDataError) as caught:
        CsvMasterData.load(folder)
    message = str(caught.value)
    assert "customers.csv" in message and "line 4" in message and "credit_status" in message and "maybe" in message


def test_decimal_comma_price_is_rejected_with_a_hint(folder: Path):
    path = folder / "products.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append('ZZ-1,"Test item",EA,,"1,50",EUR,10')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MasterDataError, match=r"line %d.*unit_price.*'1,50'" % len(lines)):
        CsvMasterData.load(folder)


def test_missing_file_and_folder(folder: Path, tmp_path: Path):
    (folder / "customer_items.csv").unlink()
    with pytest.raises(MasterDataError, match="customer_items.csv: file is missing"):
        CsvMasterData.load(folder)
    with pytest.raises(MasterDataError, match="does not exist"):
        CsvMasterData.load(tmp_path / "nowhere")


def test_extra_columns_and_column_order_do_not_matter(folder: Path):
    path = folder / "addresses.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    import csv, io

    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([*reversed(row), "extra" if row is rows[0] else "x"])
    path.write_text(out.getvalue(), encoding="utf-8")
    loaded = CsvMasterData.load(folder)
    assert loaded.addresses("C1001")[0].street == "Hafenstrasse 12"
