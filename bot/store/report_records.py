"""The store's side of the daily report mail: one row per day it is sent on.
Mixed into ``Store``; every public method is one transaction.

Protocol (``bot.report_mail``): ``claim_report`` takes the day for a holder
(status ``sending``) unless it is sent, or claimed by someone else less than
``stale_after`` ago; ``finish_report`` records who has the mail and sets
``sent`` or ``failed`` (tried again by the next claim), only while the holder
still holds the claim.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.schema import report_mails

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection


class ReportStatus(enum.StrEnum):
    SENDING = "sending"  # claimed by ``holder`` at ``claimed_at``
    SENT = "sent"  # done for the day
    FAILED = "failed"  # a transient failure: the next run tries the rest


@dataclass(frozen=True, slots=True)
class ReportMail:
    day: date
    status: ReportStatus
    holder: str
    claimed_at: datetime
    attempts: int
    message_id: str | None
    sent_to: tuple[str, ...]
    rejected: Mapping[str, str] = field(default_factory=dict)  # address -> the server's reply
    error: str | None = None
    finished_at: datetime | None = None


def _report_mail(row: Row[Any]) -> ReportMail:
    return ReportMail(
        day=row.day,
        status=ReportStatus(row.status),
        holder=row.holder,
        claimed_at=row.claimed_at,
        attempts=row.attempts,
        message_id=row.message_id,
        sent_to=tuple(json.loads(row.sent_to_json)),
        rejected=dict(json.loads(row.rejected_json)),
        error=row.error,
        finished_at=row.finished_at,
    )


class ReportRecords:
    """Report-mail methods of ``Store`` (see ``bot.store.store``)."""

    if TYPE_CHECKING:
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _now(self) -> datetime: ...

    def claim_report(self, day: date, holder: str, stale_after: timedelta) -> ReportMail | None:
        """Take the day's report for ``holder``: the new row, or the existing
        one if it ``failed`` or is ``sending`` since at least ``stale_after``
        (its sender died). None when it is sent or someone else holds it."""
        if stale_after <= timedelta(0):
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        now = self._now()
        with self._writing() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(report_mails).values(
                day=day,
                status=ReportStatus.SENDING,
                holder=holder,
                claimed_at=now,
                attempts=1,
                sent_to_json="[]",
                rejected_json="{}",
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[report_mails.c.day],
                set_={
                    "status": stmt.excluded.status,
                    "holder": stmt.excluded.holder,
                    "claimed_at": stmt.excluded.claimed_at,
                    "attempts": report_mails.c.attempts + 1,
                    "finished_at": None,
                },
                where=or_(
                    report_mails.c.status == ReportStatus.FAILED,
                    and_(
                        report_mails.c.status == ReportStatus.SENDING,
                        report_mails.c.claimed_at <= now - stale_after,
                    ),
                ),
            )
            # A row comes back if it was inserted or taken over, none if the WHERE said no.
            row = conn.execute(stmt.returning(*report_mails.c)).one_or_none()
            return _report_mail(row) if row is not None else None

    def finish_report(
        self,
        day: date,
        holder: str,
        status: ReportStatus,
        *,
        sent_to: Sequence[str],
        rejected: Mapping[str, str] | None = None,
        message_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome of ``holder``'s claim: ``sent``, or ``failed``
        for the next run to go on from ``sent_to``. False (nothing written)
        when ``holder`` no longer holds the claim: it was taken over."""
        if status is ReportStatus.SENDING:
            raise ValueError("a report is finished as sent or failed")
        now = self._now()
        with self._writing() as conn:
            result = conn.execute(
                update(report_mails)
                .where(
                    report_mails.c.day == day,
                    report_mails.c.holder == holder,
                    report_mails.c.status == ReportStatus.SENDING,
                )
                .values(
                    status=status,
                    sent_to_json=json.dumps(list(dict.fromkeys(sent_to))),
                    rejected_json=json.dumps(dict(rejected or {})),
                    message_id=message_id,
                    error=error,
                    finished_at=now,
                )
            )
            return result.rowcount == 1

    def report_mail(self, day: date) -> ReportMail | None:
        with self._reading() as conn:
            row = conn.execute(select(report_mails).where(report_mails.c.day == day)).one_or_none()
            return _report_mail(row) if row is not None else None

    def report_mails(self, limit: int | None = None) -> list[ReportMail]:
        """The recorded report mails, newest day first."""
        query = select(report_mails).order_by(report_mails.c.day.desc()).limit(limit)
        with self._reading() as conn:
            return [_report_mail(r) for r in conn.execute(query)]
