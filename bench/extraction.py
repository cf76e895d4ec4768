"""Extraction benchmark: time per message by kind of source, over a labelled corpus.

Runs parse+extract+resolve+validate on every message of the corpus, groups the
times by what carried the order (PDF, spreadsheet, email body, none), and
prints each group's mean and its ratio to the email-body mean, measured in one run.

    .venv/bin/python bench/extraction.py [CORPUS_DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from bot.model import RawMessage
from bot.processing import MessageProcessor, parse
from connectors.masterdata import CsvMasterData

ROOT = Path(__file__).resolve().parents[1]


def kind_of(raw: RawMessage) -> str:
    message = parse(raw)
    types = {d.content_type for d in message.documents}
    if "application/pdf" in types:
        return "pdf"
    if types & {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}:
        return "sheet"
    return "body"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    master = CsvMasterData.load(args.corpus / "masterdata")
    raws = [RawMessage(data=p.read_bytes(), origin=str(p), name=p.name) for p in sorted((args.corpus / "messages").glob("*.eml"))]
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        processor = MessageProcessor(master, today=date(2026, 11, 26))
        for raw in raws:
            started = time.perf_counter()
            processor.process(raw)
            times[kind_of(raw)].append(time.perf_counter() - started)
    body = statistics.mean(times["body"])
    total = sum(sum(v) for v in times.values())
    count = sum(len(v) for v in times.values())
    print(f"{count} extractions in {total:.2f}s: {count / total:.1f} messages/s on one core")
    for kind, values in sorted(times.items()):
        print(f"{kind:6} n={len(values):4} mean={1000 * statistics.mean(values):7.1f} ms  p95={1000 * sorted(values)[int(0.95 * (len(values) - 1))]:7.1f} ms  ratio to body={statistics.mean(values) / body:5.1f}x")


if __name__ == "__main__":
    main()
