"""IMAP intake benchmark: messages per second from a private Dovecot on loopback.

Appends N copies of the demo inbox (each copy with its own Message-ID, so every
message is new) to a fresh mailbox of a private Dovecot (tests/dovecot.py),
then measures in one run:

- fetch only: the IMAP source alone reads every message (``BODY.PEEK[]`` in
  batches) and settles it into the processed folder, with no store and no
  parsing: the cost of the mailbox side;
- full intake: the same messages appended again (new Message-IDs) and taken
  through the pipeline (receive .. decide) into a fresh SQLite store, settled
  by the pipeline after each commit.

It prints both rates and their ratio (how much of intake time IMAP is).

    .venv/bin/python bench/imap_intake.py [--copies 20] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.model import MessageStatus  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from connectors.imap import ImapSource  # noqa: E402
from connectors.masterdata import CsvMasterData  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402

CAP = 25_000_000


def copies_of_demo(copies: int, tag: str) -> list[bytes]:
    samples = [p.read_bytes() for p in sorted((ROOT / "demo" / "inbox").glob("*.eml"))]
    out = []
    for copy in range(copies):
        for data in samples:
            out.append(re.sub(rb"Message-ID: <", b"Message-ID: <%s%d." % (tag.encode(), copy), data, count=1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20, help="copies of the 14 demo messages (default 20: 280 messages)")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    master = CsvMasterData.load(ROOT / "demo" / "masterdata")

    with Dovecot.start() as server, tempfile.TemporaryDirectory() as tmp:
        print(f"Dovecot {'.'.join(map(str, server.version))} on 127.0.0.1:{server.port}")

        # Fetch only: the source reads and settles, nothing else.
        account = server.new_account()
        messages = copies_of_demo(args.copies, "f")
        server.append(account, "INBOX", *messages)
        source = ImapSource(server.settings(account, batch_size=args.batch_size), max_message_bytes=CAP)
        started = time.perf_counter()
        fetched = 0
        for raw in source.fetch_new():
            source.settle(raw, MessageStatus.PROCESSED)
            fetched += 1
        fetch_s = time.perf_counter() - started
        source.close()
        assert fetched == len(messages), (fetched, len(messages))
        megabytes = sum(len(m) for m in messages) / 1e6

        # Full intake through the pipeline into SQLite.
        account = server.new_account()
        messages = copies_of_demo(args.copies, "p")
        server.append(account, "INBOX", *messages)
        with Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
            source = ImapSource(server.settings(account, batch_size=args.batch_size), store=store, max_message_bytes=CAP)
            pipeline = Pipeline(store=store, master=master, sources=[source], today=date(2026, 11, 26), max_message_bytes=CAP)
            started = time.perf_counter()
            summary = pipeline.receive()
            intake_s = time.perf_counter() - started
            source.close()
        assert summary.received == len(messages) and not summary.errors, summary

    fetch_rate = len(messages) / fetch_s
    intake_rate = len(messages) / intake_s
    print(f"messages: {len(messages)} per run ({megabytes:.1f} MB), batch size {args.batch_size}")
    print(f"fetch only (read + move, no store):  {fetch_rate:8.1f} messages/s  ({fetch_s:.2f} s)")
    print(f"full intake (pipeline into SQLite):  {intake_rate:8.1f} messages/s  ({intake_s:.2f} s)  {summary.line()}")
    print(f"ratio fetch-only / full intake: {fetch_rate / intake_rate:.1f}x (IMAP is {100 * intake_rate / fetch_rate:.0f}% of intake time)")


if __name__ == "__main__":
    main()
