"""Build the pipeline and its connectors from validated settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.config import FolderSourceSettings, OAuth2Auth, Settings
from bot.keying import KeyingPolicy, PortalFactory
from bot.outgoing import MailQueue, RetryPolicy
from bot.pipeline import Pipeline
from bot.ports import Mailer, MailSource
from bot.replies import DEFAULT_TEMPLATES, ReplyWriter, Templates
from bot.report_mail import DailyReport
from bot.rule_config import load_rule_settings
from bot.store import Store
from connectors.folder import FolderSource
from connectors.imap_auth import token_provider
from connectors.masterdata import CsvMasterData, MasterData
from connectors.outbox import OutboxMailer
from connectors.smtp import SmtpTransport
from extractors.templates import TemplateSet, load_templates


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


def build_mail_queue(settings: Settings, store: Store, master: MasterData, *, holder: str | None = None) -> MailQueue:
    """Customer email: SMTP when ``smtp`` is configured, else the outbox folder,
    both through the at-most-once queue. The reply templates are checked here,
    so a broken one stops the bot at start."""
    transport: Mailer
    if settings.smtp is not None:
        tokens = None
        if isinstance(settings.smtp.auth, OAuth2Auth):
            tokens = token_provider(settings.smtp.auth, account="smtp")
        transport = SmtpTransport(settings.smtp, tokens=tokens)
    else:
        transport = OutboxMailer(settings.outbox_path)
    templates = Templates.load(settings.outbox.templates_dir or DEFAULT_TEMPLATES)
    writer = ReplyWriter(templates, sender=settings.outbox.sender, master=master)
    outbox = settings.outbox
    retry = RetryPolicy(outbox.retry_first_seconds, outbox.retry_max_seconds, outbox.max_attempts)
    return MailQueue(store, transport, writer, retry=retry, lease_seconds=settings.schedule.lease_seconds, holder=holder)


def build_templates(settings: Settings) -> TemplateSet:
    """The per-customer extraction templates, validated: a bad one stops the bot here."""
    return load_templates(settings.extraction.templates_dir)


def build_keying(settings: Settings) -> tuple[PortalFactory, KeyingPolicy] | None:
    """The portal sessions keying uses, and how: the recipe is checked here, so a
    bad recipe stops the bot at start. None when no portal is configured."""
    portal = settings.portal
    if portal is None:
        return None
    from connectors.portal.playwright_portal import PlaywrightPortal, PortalSession
    from connectors.portal.recipe import load_recipe

    recipe = load_recipe(portal.recipe)
    session = PortalSession(
        base_url=portal.base_url,
        username=portal.username,
        password=portal.password.get_secret_value(),
        timeout_ms=portal.timeout_seconds * 1000,
        trace_on_failure=portal.trace_on_failure,
        headless=portal.headless,
    )
    policy = KeyingPolicy(
        workers=portal.workers,
        first_retry_seconds=portal.retry_first_seconds,
        max_retry_seconds=portal.retry_max_seconds,
        max_attempts=portal.max_attempts,
        stale_after_seconds=portal.stale_after_seconds,
        artifacts_keep_days=portal.artifacts_keep_days,
    )
    return (lambda: PlaywrightPortal(recipe, session).open()), policy


def build_pipeline(settings: Settings, *, today: date) -> Pipeline:
    master = CsvMasterData.load(settings.master_data.path)
    templates = build_templates(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.store_url)
    keying = build_keying(settings)
    return _assemble(settings, store, master, templates, today=today, sources=build_sources(settings, store=store),
                     outgoing=build_mail_queue(settings, store, master), keying=keying)


def build_worker_pipeline(settings: Settings, store: Store, master: MasterData, templates: TemplateSet, *,
                          holder: str, today: date) -> Pipeline:
    """One ``orderbot worker`` thread's pipeline: it decides recorded messages
    and acknowledges the orders its thread keyed; the daemon keeps the sources
    and the portal sessions live in the worker's runtime."""
    pipeline = _assemble(settings, store, master, templates, today=today, sources=(),
                         outgoing=build_mail_queue(settings, store, master, holder=holder), keying=None, holder=holder)
    pipeline.credit_across_processes = True  # other workers decide messages at the same time
    return pipeline


def _assemble(settings: Settings, store: Store, master: MasterData, templates: TemplateSet, *, today: date,
              sources: Sequence[MailSource], outgoing: MailQueue, keying: tuple[PortalFactory, KeyingPolicy] | None,
              holder: str | None = None) -> Pipeline:
    return Pipeline(
        store=store,
        master=master,
        sources=sources,
        today=today,
        portal=keying[0] if keying else None,
        keying=keying[1] if keying else KeyingPolicy(),
        mailer=outgoing.transport,
        ack_sender=settings.outbox.sender,
        outgoing=outgoing,
        max_message_bytes=settings.max_message_bytes,
        max_decide_attempts=settings.max_decide_attempts,
        lease_seconds=settings.schedule.lease_seconds,
        templates=templates,
        rule_settings=load_rule_settings(settings.rules.path),
        holder=holder,
    )


def build_daily_report(settings: Settings, pipeline: Pipeline) -> DailyReport | None:
    """The daily report mail through the pipeline's mail transport, or None
    when no one is to get it."""
    if not settings.report.recipients or pipeline.outgoing is None:
        return None
    return DailyReport(
        pipeline.store,
        pipeline.outgoing.transport,
        sender=settings.outbox.sender,
        recipients=settings.report.recipients,
        days=settings.report.days,
        holder=pipeline.holder,
    )
