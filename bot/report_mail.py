"""The daily report mail to handlers and managers: the report of
``bot.reporting`` with its charts, sent by the daemon once a day.

``report_message`` builds the message: multipart/alternative with a short
text/plain summary and the HTML page as multipart/related, its charts image/png
parts referred to by ``cid:``. ``DailyReport.run`` sends the day's report (the
``days`` days up to yesterday, UTC) to every recipient, one envelope each.

Once a day, at least once. The day is recorded in the store
(``report_mails``), so a restart or a second daemon on the same store does not
send it again; but a missing report is worse than a second copy, so where the
two conflict the mail is sent again rather than lost:

- ``run`` claims the day (``sending``, holder, time; committed) before the
  first recipient is tried, and marks it ``sent`` after the last one. A run
  that finds the day sent, or claimed by someone else less than
  ``stale_after`` ago, sends nothing.
- A sender that dies mid-way leaves the claim in ``sending``; once it is
  ``stale_after`` old the next run takes it over and sends to everyone again
  (those who had it get a second copy).
- A transient failure (server down, 4xx) or a delivery whose fate is unknown
  (the connection dropped after the message went out) marks the day
  ``failed`` with the recipients who have it; the next run sends to the rest.
  A recipient the server refused for good (5xx) is noted and skipped.
- A claim taken over from a sender that was only slow means both send: two
  copies, never none.
"""

from __future__ import annotations

import email.policy
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from bot import holders
from bot.errors import DeliveryUncertain, MailRejected, TransientError
from bot.ports import Envelope, Mailer
from bot.reporting import (
    CHART_FILES,
    Report,
    build_report,
    reasons_chart,
    render_html,
    stp_chart,
    volume_chart,
)
from bot.store import Store
from bot.store.report_records import ReportStatus

log = logging.getLogger("orderbot.report")

CHARTS: Mapping[str, Callable[[Report], bytes]] = {
    "volume": volume_chart,
    "stp": stp_chart,
    "reasons": reasons_chart,
}
DEFAULT_STALE_AFTER = timedelta(minutes=30)
TOP_REASONS = 3


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- the message -------------------------------------------------------------------


def subject(report: Report) -> str:
    return f"orderbot report {report.since} to {report.until}"


def summary_text(report: Report) -> str:
    """The report in a few lines: volume, straight-through rate, top review
    reasons, unusual patterns."""
    overall = report.overall
    rate = f" ({overall.rate * 100:.0f} %)" if overall.rate is not None else ""
    by_code: Counter[str] = Counter()
    for r in report.reasons:
        by_code[str(r.code)] += r.orders
    top = ", ".join(f"{code} ({_orders(n)})" for code, n in by_code.most_common(TOP_REASONS))
    unusual = [
        f"- customer {c.customer_id}{f' ({_one_line(c.customer_name)})' if c.customer_name else ''}: "
        f"{c.measure} {c.recent:.1f} in the last window, usually {c.usual:.1f} ({c.ratio:.1f}x)"
        for c in report.customer_changes
    ] + [
        f"- review reason {r.code}: {r.recent_share * 100:.0f} % of reviewed orders, "
        f"earlier {r.earlier_share * 100:.0f} %"
        for r in report.reason_rises
    ]
    lines = [
        f"{subject(report)} (UTC days)",
        "",
        f"Volume: {sum(d.messages for d in report.days)} messages, {sum(d.orders for d in report.days)} orders.",
        f"Straight through: {overall.straight_through} of {overall.decided} decided orders{rate}.",
        f"Top reasons for review: {top or 'none'}.",
        "Unusual patterns:" if unusual else "Unusual patterns: nothing unusual.",
        *unusual,
        "",
        "Charts and tables per day, customer and step are in the HTML version of this mail.",
    ]
    return "\n".join(lines) + "\n"


def report_message(
    report: Report,
    *,
    sender: str,
    recipients: Sequence[str],
    day: date,
    message_id_domain: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The report mail: From ``sender``, To every recipient, Date ``now``
    (default: the current time), a Message-ID in ``message_id_domain`` (default:
    the sender's domain). ``as_bytes(policy=email.policy.SMTP)`` is what goes
    on the wire."""
    if not recipients:
        raise ValueError("a report mail needs at least one recipient")
    domain = message_id_domain or _address(sender).rpartition("@")[2]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject(report)
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["X-Orderbot-Report"] = day.isoformat()
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message.set_content(summary_text(report))
    cids = {key: f"<{key}.{uuid.uuid4().hex[:16]}@{domain}>" for key in CHARTS}
    html = render_html(report, chart_src={key: f"cid:{cid[1:-1]}" for key, cid in cids.items()})
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    assert isinstance(html_part, EmailMessage)
    for key, draw in CHARTS.items():
        html_part.add_related(
            draw(report), "image", "png", cid=cids[key], filename=CHART_FILES[key], disposition="inline"
        )
    return message


def _address(mailbox: str) -> str:
    """The bare address of ``Name <address>``."""
    address = parseaddr(mailbox)[1]
    if "@" not in address:
        raise ValueError(f"{mailbox!r} is not an email address")
    return address


def _orders(n: int) -> str:
    return f"{n} order" if n == 1 else f"{n} orders"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- the daily run -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportMailResult:
    """What one run did: ``sent_to`` (this run), ``skipped`` (why nothing was
    tried), ``rejected`` (``address: reply``, refused for good), ``error``
    (the day is not finished, the next run goes on)."""

    day: date
    sent_to: tuple[str, ...] = ()
    skipped: str | None = None
    rejected: tuple[str, ...] = ()
    error: str | None = None

    def line(self) -> str:
        if self.skipped is not None:
            return f"report {self.day}: {self.skipped}"
        parts = [f"sent to {len(self.sent_to)} recipient(s)"]
        if self.rejected:
            parts.append(f"refused for {len(self.rejected)}: {'; '.join(self.rejected)}")
        if self.error is not None:
            parts.append(f"not finished, the next run goes on: {self.error}")
        return f"report {self.day}: " + ", ".join(parts)


class DailyReport:
    """Sends the report of the ``days`` days up to yesterday once per day
    (``today``, UTC by default); see the module docstring for the guarantees."""

    def __init__(
        self,
        store: Store,
        transport: Mailer,
        *,
        sender: str,
        recipients: Sequence[str],
        days: int = 14,
        today: Callable[[], date] = utc_today,
        holder: str | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        self.store = store
        self.transport = transport
        self.sender = sender
        self.recipients = tuple(recipients)
        self.days = days
        self.today = today
        self.holder = holder or holders.holder()
        self.stale_after = stale_after
        self.now = now or (lambda: datetime.now(UTC))
        self._envelope_sender = _address(sender)
        self._addresses = tuple(dict.fromkeys(_address(r) for r in self.recipients))

    def done(self) -> bool:
        """Whether today's report is sent (or there is no one to send it to)."""
        if not self.recipients:
            return True
        record = self.store.report_mail(self.today())
        return record is not None and record.status is ReportStatus.SENT

    def run(self) -> ReportMailResult:
        day = self.today()
        if not self.recipients:
            return ReportMailResult(day, skipped="no recipients")
        record = self.store.report_mail(day)
        # A sender of this host that was killed mid-way needs no waiting for.
        dead = record is not None and record.status is ReportStatus.SENDING and holders.is_dead(record.holder)
        claim = self.store.claim_report(day, self.holder, timedelta.resolution if dead else self.stale_after)
        if claim is None:
            return ReportMailResult(day, skipped=self._why_not(day))
        sent, rejected = list(claim.sent_to), dict(claim.rejected)
        pending = [a for a in self._addresses if a not in sent and a not in rejected]
        message_id: str | None = claim.message_id
        error: str | None = None
        try:
            if pending:
                message_id, error = self._send(day, pending, sent, rejected)
        except Exception as exc:
            self._finish(day, ReportStatus.FAILED, sent, rejected, message_id, f"{type(exc).__name__}: {exc}")
            raise
        status = ReportStatus.FAILED if error is not None else ReportStatus.SENT
        self._finish(day, status, sent, rejected, message_id, error)
        return ReportMailResult(
            day,
            sent_to=tuple(a for a in sent if a not in claim.sent_to),
            rejected=tuple(f"{a}: {why}" for a, why in rejected.items() if a not in claim.rejected),
            error=error,
        )

    def _send(
        self, day: date, pending: Sequence[str], sent: list[str], rejected: dict[str, str]
    ) -> tuple[str, str | None]:
        """Send the day's report to ``pending`` in turn, adding each to ``sent``
        or ``rejected``; the Message-ID, and the error that stopped the run."""
        message = self._message(day)
        message_id = str(message["Message-ID"])
        data = message.as_bytes(policy=email.policy.SMTP)
        for address in pending:
            try:
                self.transport.send(Envelope(self._envelope_sender, address, data, message_id))
            except MailRejected as exc:
                rejected[address] = str(exc)
                continue
            except (TransientError, DeliveryUncertain) as exc:
                return message_id, f"{type(exc).__name__}: {exc}"
            sent.append(address)
        return message_id, None

    def _message(self, day: date) -> EmailMessage:
        report = build_report(self.store, day - timedelta(days=self.days), day - timedelta(days=1))
        return report_message(report, sender=self.sender, recipients=self.recipients, day=day, now=self.now())

    def _finish(
        self,
        day: date,
        status: ReportStatus,
        sent: Sequence[str],
        rejected: Mapping[str, str],
        message_id: str | None,
        error: str | None,
    ) -> None:
        held = self.store.finish_report(
            day, self.holder, status, sent_to=sent, rejected=rejected, message_id=message_id, error=error
        )
        if not held:
            log.warning("report %s: the claim was taken over meanwhile; this run's outcome is not recorded", day)

    def _why_not(self, day: date) -> str:
        record = self.store.report_mail(day)
        if record is None or record.status is ReportStatus.FAILED:
            return "claimed by another run just now"
        if record.status is ReportStatus.SENT:
            return "already sent"
        return f"being sent by {record.holder} since {record.claimed_at:%H:%M:%S} UTC"
