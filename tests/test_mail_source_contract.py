"""The contract of ``bot.ports.MailSource``, run against every source orderbot has:
an IMAP account on a private Dovecot (settling by move and by keyword) and a
folder of files.

The protocol lets a source repeat messages the ledger knows (a folder source
keeps its files); what every source must do is hand over each new message
once with its bytes intact, accept ``settle`` any number of times, and never
settle anything on its own.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.identity import identify
from bot.model import MessageStatus, RawMessage
from bot.pipeline import Pipeline
from bot.ports import MailSource
from bot.store import Store
from connectors.folder import FolderSource
from connectors.imap import ImapSource
from tests.dovecot import Account, Dovecot, running_dovecot

TODAY = date(2026, 11, 26)


def message(n: int, *, extra: str = "") -> bytes:
    """A small CRLF email with a unique Message-ID (as it arrives over IMAP)."""
    return (
        f"From: Jana Becker <jana.becker@nordwind.de>\r\n"
        f"To: orders@kestrel-supply.example\r\n"
        f"Subject: Order test-{n}\r\n"
        f"Date: Mon, 16 Nov 2026 09:00:00 +0100\r\n"
        f"Message-ID: {email.utils.make_msgid(f'c{n}', domain='nordwind.de')}\r\n"
        f"{extra}"
        f"\r\n"
        f"Please deliver 4 pcs AX-1523. Our order number: T-{n}\r\n"
    ).encode()


BAD_BYTES = b"\xff\xfe this is not an email \x80\x81\x82 at all\r\nno headers; garbage \x9c\r\n"
BOGUS_CHARSET = (
    b"From: x@nordwind.de\r\nSubject: bogus\r\nMessage-ID: <bogus-charset@nordwind.de>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=bogus\r\n\r\nOrder \xe4\xf6\xfc 12 pcs\r\n"
)


class ImapHarness:
    settles_away = True  # a settled message is not handed over again

    def __init__(self, server: Dovecot, settle: str) -> None:
        self.server = server
        self.account: Account = server.new_account()
        self.settings = server.settings(self.account, settle=settle)
        self.source = ImapSource(self.settings, max_message_bytes=25_000_000)

    def deliver(self, *messages: bytes) -> None:
        self.server.append(self.account, "INBOX", *messages)

    def flags(self) -> list[tuple[bytes, ...]]:
        """Flags of every message left in the inbox and the settle folders."""
        folders = ["INBOX", self.settings.processed_folder, self.settings.review_folder, self.settings.failed_folder]
        return [flags for folder in folders for _, flags in self.server.folder_messages(self.account, folder).values()]

    def copies_settled(self, status: MessageStatus) -> int:
        if self.settings.settle == "keyword":
            keyword = (self.settings.keyword_prefix + {"processed": "processed", "needs_review": "review", "failed": "failed"}[status]).encode()
            return sum(keyword in flags for _, flags in self.server.folder_messages(self.account, "INBOX").values())
        folder = {
            MessageStatus.PROCESSED: self.settings.processed_folder,
            MessageStatus.NEEDS_REVIEW: self.settings.review_folder,
            MessageStatus.FAILED: self.settings.failed_folder,
        }[status]
        return len(self.server.folder_uids(self.account, folder))

    def close(self) -> None:
        self.source.close()


class FolderHarness:
    settles_away = False  # files stay; the ledger is the settlement

    def __init__(self, path: Path) -> None:
        path.mkdir()
        self.path = path
        self.source = FolderSource("contract-folder", path)
        self._n = 0

    def deliver(self, *messages: bytes) -> None:
        for data in messages:
            self._n += 1
            (self.path / f"{self._n:04d}.eml").write_bytes(data)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(params=["imap-move", "imap-keyword", "folder"])
def harness(request, tmp_path):
    if request.param == "folder":
        made = FolderHarness(tmp_path / "inbox")
    else:
        made = ImapHarness(request.getfixturevalue("dovecot"), request.param.removeprefix("imap-"))
    yield made
    made.close()


def fetch_all(source: MailSource) -> list[RawMessage]:
    return list(source.fetch_new())


def test_each_new_message_is_yielded_once_with_its_bytes_intact(harness):
    """Given three new messages, When the source is read, Then each comes once, byte for byte."""
    sent = [message(1), message(2), message(3)]
    harness.deliver(*sent)

    got = fetch_all(harness.source)

    assert sorted(raw.data for raw in got) == sorted(sent)
    assert all(raw.size in (None, len(raw.data)) and not raw.truncated for raw in got)
    assert len({raw.name for raw in got}) == 3


def test_a_settled_message_is_not_new_again(harness):
    """Given a message settled as processed, When the source is read again, Then it
    is not handed over; a source that keeps its files may repeat it, but only
    with the same ledger key, so the pipeline knows it."""
    first, second = message(1), message(2)
    harness.deliver(first, second)
    raw = next(r for r in fetch_all(harness.source) if r.data == first)

    harness.source.settle(raw, MessageStatus.PROCESSED)
    again = fetch_all(harness.source)

    keys = [identify(r.data).dedup_key for r in again]
    assert identify(second).dedup_key in keys
    if harness.settles_away:
        assert [r.data for r in again] == [second]
    else:
        assert keys.count(identify(first).dedup_key) <= 1


def test_settle_is_idempotent(harness):
    """Given a settled message, When it is settled again (a run that crashed after
    the move heals), Then nothing fails and there is still exactly one copy settled."""
    harness.deliver(message(1))
    (raw,) = fetch_all(harness.source)

    harness.source.settle(raw, MessageStatus.PROCESSED)
    harness.source.settle(raw, MessageStatus.PROCESSED)

    if harness.settles_away:
        assert harness.copies_settled(MessageStatus.PROCESSED) == 1
        assert fetch_all(harness.source) == []


def test_every_outcome_can_be_settled(harness):
    """Given three messages, When settled as processed, needs review and failed,
    Then none of them is new again."""
    harness.deliver(message(1), message(2), message(3))
    raws = fetch_all(harness.source)

    for raw, status in zip(raws, (MessageStatus.PROCESSED, MessageStatus.NEEDS_REVIEW, MessageStatus.FAILED), strict=True):
        harness.source.settle(raw, status)

    if harness.settles_away:
        assert fetch_all(harness.source) == []
        assert [harness.copies_settled(s) for s in (MessageStatus.PROCESSED, MessageStatus.NEEDS_REVIEW, MessageStatus.FAILED)] == [1, 1, 1]


def test_nothing_is_marked_seen_before_it_is_settled(harness):
    """Given new messages, When they are read (and one settled), Then no message carries \\Seen."""
    if not isinstance(harness, ImapHarness):
        pytest.skip("only a mailbox has a \\Seen flag")
    harness.deliver(message(1), message(2))
    raws = fetch_all(harness.source)
    harness.source.settle(raws[0], MessageStatus.PROCESSED)

    flags = harness.flags()

    assert len(flags) == 2
    assert not any(b"\\Seen" in f for f in flags)


def test_bad_bytes_are_still_handed_over(harness):
    """Given a message that is not an email and one with an unknown charset, When read,
    Then both come as they are: the pipeline, not the source, decides what they are."""
    harness.deliver(BAD_BYTES, BOGUS_CHARSET)

    got = sorted(raw.data for raw in fetch_all(harness.source))

    assert got == sorted([BAD_BYTES, BOGUS_CHARSET])


def test_an_interrupted_fetch_settles_nothing(harness):
    """Given five messages, When the reader stops after two without settling,
    Then all five are still new on the next read."""
    sent = [message(n) for n in range(5)]
    harness.deliver(*sent)

    reading = iter(harness.source.fetch_new())
    next(reading)
    next(reading)
    reading.close()

    assert sorted(r.data for r in fetch_all(harness.source)) == sorted(sent)


def test_through_the_pipeline_each_message_is_received_once(harness, tmp_path, master):
    """Given four messages (one of them bad bytes), When intake runs twice,
    Then the first run receives all four and the second receives none."""
    harness.deliver(message(1), message(2), message(3), BAD_BYTES)
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        pipeline = Pipeline(store=store, master=master, sources=[harness.source], today=TODAY)

        first = pipeline.receive()
        second = pipeline.receive()

        assert (first.received, first.errors) == (4, [])
        assert second.received == 0
        assert len(store.messages()) == 4
        assert store.message_counts()[MessageStatus.RECEIVED] == 0
