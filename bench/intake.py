"""Intake benchmark: messages per second through receive..decide on the embedded default.

Copies the demo inbox N times (each copy a distinct message), runs the pipeline
once over all of them into a fresh SQLite store, then again (everything is a
duplicate), and prints throughput and the ratio of the two runs in one go.

    .venv/bin/python bench/intake.py [--copies 20]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import resource
from datetime import date
from pathlib import Path

from bot.pipeline import Pipeline
from bot.store import Store
from connectors.folder import FolderSource
from connectors.masterdata import CsvMasterData

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    samples = sorted((ROOT / "demo" / "inbox").glob("*.eml"))
    master = CsvMasterData.load(ROOT / "demo" / "masterdata")
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        for copy in range(args.copies):
            for sample in samples:
                data = sample.read_bytes()
                # A distinct Message-ID and PO per copy, so every file is a new order.
                data = re.sub(rb"Message-ID: <", b"Message-ID: <c%d." % copy, data, count=1)
                (inbox / f"{copy:04d}-{sample.name}").write_bytes(data)
        total = len(list(inbox.iterdir()))
        with Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
            pipeline = Pipeline(store=store, master=master, sources=[FolderSource("bench", inbox)], today=date(2026, 11, 26))
            started = time.perf_counter()
            first = pipeline.run_once()
            first_s = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
            started = time.perf_counter()
            second = pipeline.run_once()
            second_s = time.perf_counter() - started
    print(f"messages: {total}")
    print(f"first run:  {first.line()}")
    print(f"second run: {second.line()}")
    print(f"intake: {total / first_s:.1f} messages/s ({3600 * total / first_s:.0f}/hour on one process), peak RSS {peak_mb:.0f} MB")
    print(f"re-run over known messages: {total / second_s:.0f} messages/s")
    print(f"ratio first/second run time: {first_s / second_s:.1f}x (cost of processing vs recognising a known message)")


if __name__ == "__main__":
    main()
