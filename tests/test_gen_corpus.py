"""The generalisation-benchmark corpus generator (bench/gen_corpus.py).

These tests prove the generator's output is a well-formed labelled corpus; they
do not assert extraction accuracy on it (that is a benchmark, printed by
``orderbot eval``).
"""

from __future__ import annotations

import csv
import email
import importlib.util
import json
import sys
from datetime import date
from email import policy
from pathlib import Path

import pytest

from bot.evaluation import load_labels, message_paths, score
from connectors.masterdata import CsvMasterData

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 26)


def _module():
    spec = importlib.util.spec_from_file_location("gen_corpus", ROOT / "bench" / "gen_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_corpus", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _module()


@pytest.fixture(scope="module")
def corpus(gen, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "corpus"
    gen.generate(out, seed=3, n=60, today=TODAY)
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_the_same_bytes(gen, corpus, tmp_path):
    """Given the same seed, n and today, when generated twice, then every file is byte-identical."""
    again = tmp_path / "again"
    gen.generate(again, seed=3, n=60, today=TODAY)
    assert _tree(again) == _tree(corpus)


def test_another_seed_writes_another_corpus(gen, corpus, tmp_path):
    other = tmp_path / "other"
    gen.generate(other, seed=4, n=60, today=TODAY)
    assert _tree(other) != _tree(corpus)


def test_layout_is_formats_section_3(corpus):
    """Then the scorer's own loaders pair every message with its label."""
    for name in ("customers.csv", "addresses.csv", "products.csv", "customer_items.csv"):
        assert (corpus / "masterdata" / name).is_file()
    assert (corpus / "README.md").is_file()
    paths = message_paths(corpus)
    labels = load_labels(corpus)
    assert [p.stem for p in paths] == [stem for stem, _ in labels]
    assert len(paths) == 60


def test_master_data_loads_and_is_big_enough(corpus):
    master = CsvMasterData.load(corpus / "masterdata")
    assert master is not None
    products = (corpus / "masterdata" / "products.csv").read_text(encoding="utf-8").splitlines()
    assert len(products) - 1 >= 100
    with (corpus / "masterdata" / "addresses.csv").open(encoding="utf-8", newline="") as handle:
        countries = {row["country"] for row in csv.DictReader(handle)}
    assert countries == {"DE", "FR", "GB", "US", "NL", "ES", "IT", "CN"}


def test_labels_are_well_formed(corpus):
    """Given the labels as predictions, when scored, then every field is perfect (f1 = 1.0)."""
    labels = load_labels(corpus)
    scores = score([(label, label) for _, label in labels], names=[n for n, _ in labels])
    assert scores.overall == 1.0
    assert scores.kind_accuracy == 1.0
    assert scores.wrong_auto == 0
    assert scores.stp == 1.0
    assert not scores.errors


def test_labels_follow_the_conventions(corpus):
    """Reasons only on review orders, known ship-tos exactly as in addresses.csv, Message-IDs agree."""
    with (corpus / "masterdata" / "addresses.csv").open(encoding="utf-8", newline="") as handle:
        addresses = {
            (row["name"], row["street"], row["postal_code"], row["city"], row["country"])
            for row in csv.DictReader(handle)
        }
    kinds = set()
    for stem, label in load_labels(corpus):
        kinds.add(label["kind"])
        raw = (corpus / "messages" / f"{stem}.eml").read_bytes()
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert msg["Message-ID"] == label["message_id"]
        if label["kind"] in ("inquiry", "other"):
            assert label["orders"] == []
        for order in label["orders"]:
            assert order["review"] == bool(order["reasons"])
            ship = order["ship_to"]
            if ship is not None and order["customer_id"] is not None:
                assert tuple(ship[k] for k in ("name", "street", "postal_code", "city", "country")) in addresses
            for line in order["lines"]:
                assert set(line) == {"sku", "customer_sku", "quantity", "uom", "unit_price"}
    assert "order" in kinds
    assert kinds <= {"order", "change", "cancellation", "inquiry", "other"}
    json.dumps([label for _, label in load_labels(corpus)])
