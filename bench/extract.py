"""Extraction benchmark: messages per second per core, peak memory, and what
orderbot's own work costs on top of the PDF parser.

Runs parse+extract+resolve+validate on every message of a corpus (default: the
development corpus; any folder in the corpus layout works, e.g. one made by
bench/gen_corpus.py), groups the times by what carried the order (PDF,
spreadsheet, email body), and prints each group's mean and its ratio to the
email-body mean. Beside it, the time pdfplumber alone needs to open the same
PDFs and read their words and tables, and the ratio of orderbot's PDF time to
it, all measured in one run.

    .venv/bin/python bench/extract.py [CORPUS_DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import resource
from collections import defaultdict
from datetime import date
from pathlib import Path

import pdfplumber

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
    pdfs = [d.data for raw in raws for d in parse(raw).documents if d.content_type == "application/pdf"]
    plumber: list[float] = []
    for _ in range(args.repeat):
        for data in pdfs:
            started = time.perf_counter()
            with pdfplumber.open(io.BytesIO(data)) as pdf:
                for page in pdf.pages:
                    page.extract_words()
                    page.find_tables()
            plumber.append(time.perf_counter() - started)
    for _ in range(args.repeat):
        processor = MessageProcessor(master, today=date(2026, 11, 26))
        for raw in raws:
            started = time.perf_counter()
            processor.process(raw)
            times[kind_of(raw)].append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    body = statistics.mean(times["body"])
    total = sum(sum(v) for v in times.values())
    count = sum(len(v) for v in times.values())
    print(f"{count} extractions in {total:.2f}s: {count / total:.1f} messages/s on one core; peak RSS of the process {peak_mb:.0f} MB")
    for kind, values in sorted(times.items()):
        print(f"{kind:6} n={len(values):4} mean={1000 * statistics.mean(values):7.1f} ms  p95={1000 * sorted(values)[int(0.95 * (len(values) - 1))]:7.1f} ms  ratio to body={statistics.mean(values) / body:5.1f}x")

    if plumber and times.get("pdf"):
        pdf_mean = statistics.mean(times["pdf"])
        alone = statistics.mean(plumber)
        print(f"pdfplumber alone (open, words, tables) per PDF: {1000 * alone:.1f} ms; orderbot's whole PDF message: {1000 * pdf_mean:.1f} ms = {pdf_mean / alone:.2f}x the parser alone")


if __name__ == "__main__":
    main()
