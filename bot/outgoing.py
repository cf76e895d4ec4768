"""The outgoing-mail queue: every email to a customer goes out at most once.

    queue_acknowledgement(order)  ->  queued | suppressed | failed (could not compose)
    request_clarification(order)  ->  queued | suppressed | failed
    deliver():
        queued --claim (committed)--> sending --transport.send--> sent
                                                               -> queued  (4xx, server down: later, with backoff)
                                                               -> failed  (5xx, or too many attempts)
                                                               -> uncertain (no answer after the content went out)
        sending found at the start of a run (a crash mid-send) -> uncertain

``uncertain`` and ``failed`` wait for a person (``Store.settle_mail``); the bot
never sends them again on its own. One mail per order and kind (a unique
constraint in the store), so queueing twice, or two runs at once, never write
to a customer twice. Only the holder of the store lease ``outgoing-mail``
delivers, so a mail in ``sending`` at the start of a delivery is one whose
sender died, never one being sent right now.

The transport is a ``Mailer`` (``connectors.smtp.SmtpTransport`` or
``connectors.outbox.OutboxMailer``); composition is ``bot.replies.ReplyWriter``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import failpoints, holders
from bot.errors import (
    DeliveryUncertain,
    MailRejected,
    MailUnavailable,
    OrderbotError,
    PermanentError,
    TransientError,
    UnreadableInput,
)
from bot.model import Message, OrderState, RawMessage, Reason
from bot.ports import Envelope, Mailer
from bot.replies import Composed, ReplyWriter, Suppressed
from bot.store import MailKind, MailStatus, OutgoingMail, Store, StoredOrder
from extractors.mime import parse_message

log = logging.getLogger("orderbot.outgoing")

DELIVERY_LEASE = "outgoing-mail"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a deferred mail is tried again: ``first_delay`` doubled per attempt
    up to ``max_delay``; after ``max_attempts`` attempts it fails for good."""

    first_delay_seconds: float = 300.0
    max_delay_seconds: float = 6 * 3600.0
    max_attempts: int = 10

    def delay(self, attempts: int) -> timedelta:
        seconds = self.first_delay_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay_seconds))


@dataclass
class DeliveryReport:
    """What one ``deliver()`` did; ``errors`` are lines for the run summary."""

    sent: list[OutgoingMail] = field(default_factory=list)
    deferred: list[OutgoingMail] = field(default_factory=list)
    failed: list[OutgoingMail] = field(default_factory=list)
    uncertain: list[OutgoingMail] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: bool = False  # another process holds the delivery lease


class MailQueue:
    def __init__(
        self,
        store: Store,
        transport: Mailer,
        writer: ReplyWriter,
        *,
        retry: RetryPolicy = RetryPolicy(),
        holder: str | None = None,
        lease_seconds: float = 900.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.writer = writer
        self.retry = retry
        self.holder = holder or holders.holder()
        self.lease_seconds = lease_seconds

    # --- queueing -----------------------------------------------------------------

    def queue_acknowledgement(self, order: StoredOrder | int) -> OutgoingMail:
        """Queue the acknowledgement of a keyed order, once: an order that
        already has one gets it back unchanged."""
        stored = order if isinstance(order, StoredOrder) else self.store.get_order(order)
        existing = self.store.outgoing_mail_for(stored.id, MailKind.ACKNOWLEDGEMENT)
        if existing is not None:
            return existing
        if stored.state is not OrderState.KEYED:
            # An order acknowledged without a mail row was acknowledged before
            # this queue existed: writing again could be a second acknowledgement.
            raise ValueError(f"order {stored.id} is {stored.state}: only a keyed order is acknowledged")
        return self._queue(MailKind.ACKNOWLEDGEMENT, stored, lambda original: self.writer.acknowledgement(stored, original))

    def request_clarification(
        self,
        order_id: int,
        reasons: Sequence[Reason] | None = None,
        *,
        actor: str,
    ) -> OutgoingMail:
        """Queue a clarification request for an order in review (the review UI
        calls this). ``reasons`` are the questions (default: the order's own,
        less those never put to a customer). An order gets one clarification
        request: a second call returns the first. ``deliver()`` sends it."""
        stored = self.store.get_order(order_id)
        existing = self.store.outgoing_mail_for(stored.id, MailKind.CLARIFICATION)
        if existing is not None:
            return existing
        if stored.state is not OrderState.NEEDS_REVIEW:
            raise ValueError(f"order {stored.id} is {stored.state}: clarification requests are for orders in review")
        return self._queue(
            MailKind.CLARIFICATION, stored, lambda original: self.writer.clarification(stored, original, reasons), actor=actor
        )

    def _queue(
        self, kind: MailKind, stored: StoredOrder, compose: Callable[[Message | None], Composed], *, actor: str = "bot"
    ) -> OutgoingMail:
        try:
            composed: Composed = compose(self._original(stored))
        except PermanentError as exc:
            # A template that fails on this order's data: recorded, visible, not retried.
            log.warning("order %s: cannot compose the %s: %s", stored.id, kind, exc)
            mail, _ = self.store.queue_mail(stored.id, kind, status=MailStatus.FAILED, note=f"cannot compose: {exc}", actor=actor)
            return mail
        if isinstance(composed, Suppressed):
            log.info("order %s: %s not sent: %s", stored.id, kind, composed.reason)
            mail, _ = self.store.queue_mail(stored.id, kind, status=MailStatus.SUPPRESSED, note=composed.reason, actor=actor)
            return mail
        if composed.note:
            log.warning("order %s: %s", stored.id, composed.note)
        mail, _ = self.store.queue_mail(
            stored.id,
            kind,
            message_id=composed.message_id,
            sender=composed.sender,
            recipient=composed.recipient,
            subject=composed.subject,
            language=composed.language,
            raw=composed.data,
            note=composed.note,
            actor=actor,
        )
        return mail

    def _original(self, stored: StoredOrder) -> Message | None:
        """The customer's message the order came in, or None if it was not an email."""
        entry = self.store.message(stored.ledger_id)
        raw = RawMessage(self.store.raw_bytes(entry.sha256), origin=entry.origin, name=entry.name)
        try:
            return parse_message(raw)
        except UnreadableInput:
            return None

    # --- delivering -----------------------------------------------------------------

    def deliver(self, limit: int | None = None, stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Send the queued mail that is due, each at most once; once ``stop()``
        is true, no further mail is started."""
        report = DeliveryReport()
        if not self.store.acquire_lease(DELIVERY_LEASE, self.holder, self.lease_seconds):
            report.skipped = True
            report.errors.append("outgoing mail: another run is delivering; skipped")
            return report
        try:
            for mail in self.store.mark_interrupted_mails(interrupted=self._interrupted):
                report.uncertain.append(mail)
                report.errors.append(_attention(mail))
            for mail in self.store.due_mails(limit):
                if stop and stop():
                    break
                if not self.store.acquire_lease(DELIVERY_LEASE, self.holder, self.lease_seconds):
                    report.errors.append("outgoing mail: delivery lease lost; stopping")
                    break
                if not self._deliver_one(mail, report):
                    break
        finally:
            self.store.release_lease(DELIVERY_LEASE, self.holder)
        return report

    def _interrupted(self, holder: str, claimed_at: datetime) -> bool:
        """Whether a mail ``holder`` set sending at ``claimed_at`` was left by a
        process that stopped (a claim older than the delivery lease, unless a
        live worker holds it)."""
        return holders.abandoned(self.store, holder, claimed_at, timedelta(seconds=self.lease_seconds))

    def deliver_one(self, mail_id: int) -> DeliveryReport:
        """Send this one mail now if it is queued and due (a worker sends the
        acknowledgement of the order it keyed), at most once; a mail another
        process is sending or has settled is left alone."""
        report = DeliveryReport()
        mail = self.store.outgoing_mail(mail_id)
        if mail.status is MailStatus.QUEUED:
            self._deliver_one(mail, report)
        return report

    def _deliver_one(self, queued: OutgoingMail, report: DeliveryReport) -> bool:
        """One attempt; False when the transport is down and the rest should wait."""
        mail = self.store.claim_mail(queued.id, self.holder)
        if mail is None:
            return True  # someone settled it meanwhile
        assert mail.raw is not None and mail.sender and mail.recipient
        envelope = Envelope(sender=mail.sender, recipient=mail.recipient, data=mail.raw, message_id=mail.message_id or "")
        try:
            self.transport.send(envelope)
        except DeliveryUncertain as exc:
            report.uncertain.append(self._finish(mail, MailStatus.UNCERTAIN, exc))
            report.errors.append(_attention(report.uncertain[-1]))
        except MailRejected as exc:
            report.failed.append(self._finish(mail, MailStatus.FAILED, exc))
            report.errors.append(_attention(report.failed[-1]))
        except TransientError as exc:
            self._defer(mail, exc, report)
            return not isinstance(exc, MailUnavailable)
        except PermanentError as exc:
            # The setup is wrong (login refused, certificate not trusted): nothing
            # was sent, and nothing else will go until it is fixed.
            self.store.finish_mail(mail.id, MailStatus.QUEUED, error=str(exc), retry_after=self.retry.delay(1), counted=False)
            report.errors.append(f"outgoing mail held back: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in a transport: assume the worst
            log.exception("mail %s: unexpected error while sending", mail.id)
            error = OrderbotError(f"unexpected {type(exc).__name__} while sending: {exc}")
            report.uncertain.append(self._finish(mail, MailStatus.UNCERTAIN, error))
            report.errors.append(_attention(report.uncertain[-1]))
        else:
            failpoints.reach("mail.after_send")
            report.sent.append(self.store.finish_mail(mail.id, MailStatus.SENT))
        return True

    def _defer(self, mail: OutgoingMail, exc: TransientError, report: DeliveryReport) -> None:
        if mail.attempts >= self.retry.max_attempts:
            failed = self._finish(mail, MailStatus.FAILED, f"gave up after {mail.attempts} attempts: {exc}")
            report.failed.append(failed)
            report.errors.append(_attention(failed))
            return
        delay = self.retry.delay(mail.attempts)
        report.deferred.append(self.store.finish_mail(mail.id, MailStatus.QUEUED, error=str(exc), retry_after=delay))
        report.errors.append(f"{mail.kind} of order {mail.order_id} deferred: {exc}")

    def _finish(self, mail: OutgoingMail, status: MailStatus, error: object) -> OutgoingMail:
        log.warning("mail %s (%s of order %s) %s: %s", mail.id, mail.kind, mail.order_id, status, error)
        return self.store.finish_mail(mail.id, status, error=str(error))


def _attention(mail: OutgoingMail) -> str:
    return f"{mail.kind} of order {mail.order_id} to {mail.recipient} is {mail.status}, a person must look: {mail.last_error}"
