"""Shared fixtures: the development corpus and its master data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ORDERBOT_CORPUS", ROOT.parent / "shared" / "corpus"))
DEMO_MASTER_DATA = ROOT / "demo" / "masterdata"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "messages").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the development corpus is missing at {CORPUS}")
        pytest.skip(f"no development corpus at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def master():
    from connectors.masterdata import CsvMasterData

    return CsvMasterData.load(DEMO_MASTER_DATA)
