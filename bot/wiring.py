"""Build the pipeline and its connectors from validated settings."""

from __future__ import annotations

from datetime import date

from bot.config import FolderSourceSettings, Settings
from bot.pipeline import Pipeline
from bot.ports import MailSource
from bot.store import Store
from connectors.folder import FolderSource
from connectors.masterdata import CsvMasterData
from connectors.outbox import OutboxMailer


def build_sources(settings: Settings, *, store: Store | None = None) -> list[MailSource]:
    """One source per configured folder or mailbox. Given the ``store``, an IMAP
    source settles messages the ledger already settled at the same location
    without downloading them again."""
    from bot.config import ImapSourceSettings
    from connectors.imap import ImapSource  # imapclient only when a mailbox is configured

    sources: list[MailSource] = []
    for source in settings.sources:
        if isinstance(source, FolderSourceSettings):
            sources.append(FolderSource(source.name, source.path, source.patterns))
        elif isinstance(source, ImapSourceSettings):
            sources.append(ImapSource(source, store=store, max_message_bytes=settings.max_message_bytes))
    return sources


def build_pipeline(settings: Settings, *, today: date) -> Pipeline:
    master = CsvMasterData.load(settings.master_data.path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.store_url)
    return Pipeline(
        store=store,
        master=master,
        sources=build_sources(settings),
        today=today,
        portal=None,
        mailer=OutboxMailer(settings.outbox_path),
        ack_sender=settings.outbox.sender,
        max_message_bytes=settings.max_message_bytes,
    )
