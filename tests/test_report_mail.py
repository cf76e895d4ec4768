"""The daily report mail (bot.report_mail) and its records in the store, on
SQLite and PostgreSQL (the fixtures of test_store_contract), sent through
``SmtpTransport`` to a real aiosmtpd server on a free loopback port.

The store holds the two days of tests/report_data.py (2026-11-02 and -03); the
report is sent on 2026-11-04 and covers three days up to yesterday.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from functools import partial

import pytest
from aiosmtpd.controller import Controller

from bot.config import SmtpSettings
from bot.model import ReasonCode
from bot.report_mail import DailyReport, ReportMailResult, report_message
from bot.reporting import (
    CHART_FILES,
    CustomerChange,
    ReasonRise,
    build_report,
    render_html,
)
from bot.store import Store
from bot.store.report_records import ReportStatus
from connectors.smtp import SmtpTransport
from tests.report_data import SCRIPT_NAME, two_days
from tests.test_smtp import SilentAfterData
from tests.test_store_contract import (  # noqa: F401 - fixtures used by name
    FakeClock,
    at_once,
    clock,
    store,
    store_url,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SENDER = "Order desk <orders@kestrel-supply.example>"
ALICE, BOB, CAROL = "alice@kestrel-supply.example", "bob@kestrel-supply.example", "carol@kestrel-supply.example"
RECIPIENTS = (ALICE, f"Bob Manager <{BOB}>")
TODAY = date(2026, 11, 4)
STALE = timedelta(minutes=30)


# --- an SMTP server ---------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts; ``rcpt_replies`` scripts
    the answers to RCPT TO per address, one per attempt (then 250)."""

    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        scripted = self.rcpt_replies.get(address)
        if scripted:
            return scripted.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[bytes]:
        return [r.data for r in self.received if r.rcpt_tos == [address]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(inbox: Inbox, port: int | None = None) -> Iterator[int]:
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def transport(port: int) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="plain", timeout=5))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def port(inbox: Inbox) -> Iterator[int]:
    with smtp_server(inbox) as serving:
        yield serving


@pytest.fixture
def seeded(store: Store, clock: FakeClock) -> Store:
    two_days(store, clock)
    return store


def daily(store: Store, port: int, *, recipients=RECIPIENTS, holder: str = "daemon-1", **kwargs) -> DailyReport:
    return DailyReport(
        store,
        transport(port),
        sender=SENDER,
        recipients=recipients,
        days=3,
        today=kwargs.pop("today", lambda: TODAY),
        holder=holder,
        **kwargs,
    )


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# --- the mail ------------------------------------------------------------------


def test_the_report_reaches_every_recipient_once_with_its_charts(seeded: Store, port: int, inbox: Inbox):
    """
    Given a store with two days of orders and two recipients
    When the daily report runs on 2026-11-04
    Then each recipient gets one envelope with the same MIME message: text and
         HTML alternatives, the three charts as image/png parts whose
         Content-IDs are the cid: references of the HTML, the numbers in the
         text, the customer's name from mail escaped in the HTML; the day is
         recorded as sent
    """
    result = daily(seeded, port).run()

    assert result == ReportMailResult(TODAY, sent_to=(ALICE, BOB))
    assert result.line() == "report 2026-11-04: sent to 2 recipient(s)"
    assert sorted(r.rcpt_tos[0] for r in inbox.received) == [ALICE, BOB]
    assert all(len(r.rcpt_tos) == 1 and r.mail_from == "orders@kestrel-supply.example" for r in inbox.received)
    assert inbox.received[0].data == inbox.received[1].data
    assert b"\r\n" in inbox.received[0].data and b"\n" not in inbox.received[0].data.replace(b"\r\n", b"")

    message = parse(inbox.received[0].data)
    assert message["Subject"] == "orderbot report 2026-11-01 to 2026-11-03"
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == [ALICE, BOB]
    assert message["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@kestrel-supply\.example>", message["Message-ID"])
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png"] * 3
    assert sorted(i.get_filename() for i in images) == sorted(CHART_FILES.values())

    html = html_part.get_content()
    references = re.findall(r'<img src="cid:([^"]+)"', html)
    content_ids = [i["Content-ID"].strip().removeprefix("<").removesuffix(">") for i in images]
    assert len(set(content_ids)) == 3 and sorted(references) == sorted(content_ids)
    assert all(i.get_content().startswith(PNG_MAGIC) for i in images)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert not any(f'src="{name}"' in html for name in CHART_FILES.values())

    text = plain.get_content()
    assert "Volume: 7 messages, 6 orders." in text
    assert "Straight through: 2 of 5 decided orders (40 %)." in text
    assert "Top reasons for review: unknown_sku (2 orders), price_mismatch (1 order)." in text
    assert "Unusual patterns: nothing unusual." in text

    record = seeded.report_mail(TODAY)
    assert record is not None
    assert (record.status, record.sent_to, record.holder) == (ReportStatus.SENT, (ALICE, BOB), "daemon-1")
    assert record.message_id == message["Message-ID"] and record.error is None


def test_a_second_run_the_same_day_sends_nothing_and_the_next_day_sends_again(
    seeded: Store, port: int, inbox: Inbox, store_url: str, clock: FakeClock
):
    """
    Given the report of 2026-11-04 was sent
    When the daemon runs again that day, and a second daemon (another store
         object, another holder) runs too
    Then neither sends anything; on 2026-11-05 the next report goes out
    """
    daily(seeded, port).run()
    again = daily(seeded, port).run()
    with Store.open(store_url, clock=clock) as other:
        elsewhere = daily(other, port, holder="daemon-2").run()
    assert again.line() == elsewhere.line() == "report 2026-11-04: already sent"
    assert len(inbox.received) == 2

    tomorrow = daily(seeded, port, today=lambda: TODAY + timedelta(days=1)).run()
    assert tomorrow.sent_to == (ALICE, BOB) and len(inbox.received) == 4
    assert parse(inbox.received[-1].data)["Subject"] == "orderbot report 2026-11-02 to 2026-11-04"
    assert [r.day for r in seeded.report_mails()] == [TODAY + timedelta(days=1), TODAY]


def test_two_daemons_at_once_send_the_report_once(seeded: Store, port: int, inbox: Inbox, store_url: str, clock: FakeClock):
    """
    Given two daemons (two store objects) on one database
    When both run the daily report at the same moment
    Then one sends it to both recipients, the other sends nothing
    """
    with Store.open(store_url, clock=clock) as other:
        results = at_once(daily(seeded, port, holder="daemon-1").run, daily(other, port, holder="daemon-2").run)
    assert all(isinstance(r, ReportMailResult) for r in results), results
    assert sorted(len(r.sent_to) for r in results) == [0, 2]
    assert next(r for r in results if not r.sent_to).skipped is not None
    assert sorted(r.rcpt_tos[0] for r in inbox.received) == [ALICE, BOB]


def test_a_dead_senders_claim_is_taken_over_once_stale(seeded: Store, port: int, inbox: Inbox, clock: FakeClock):
    """
    Given a sender claimed the day and died before marking it sent
    When the daemon runs while the claim is fresh, and again 31 minutes later
    Then the first run leaves it (the sender may be alive); the second takes
         it over and sends to everyone
    """
    assert seeded.claim_report(TODAY, "dead-host:4242", STALE) is not None
    claimed_at = clock.now

    fresh = daily(seeded, port).run()
    assert fresh.line() == f"report 2026-11-04: being sent by dead-host:4242 since {claimed_at:%H:%M:%S} UTC"
    assert inbox.received == []

    clock.advance(31 * 60)
    taken_over = daily(seeded, port).run()
    assert taken_over.sent_to == (ALICE, BOB)
    assert sorted(r.rcpt_tos[0] for r in inbox.received) == [ALICE, BOB]
    record = seeded.report_mail(TODAY)
    assert record is not None
    assert (record.status, record.holder, record.attempts) == (ReportStatus.SENT, "daemon-1", 2)


def test_the_mail_server_down_leaves_the_day_for_the_next_run(seeded: Store, inbox: Inbox):
    """
    Given the mail server is down
    When the daily report runs
    Then nothing is sent and the day is marked failed with the reason; the
         next run, with the server back, sends it to everyone
    """
    port = free_port()  # nothing listens there yet
    down = daily(seeded, port).run()
    assert down.sent_to == () and down.skipped is None
    assert down.error is not None and down.error.startswith("MailUnavailable")
    assert "not finished, the next run goes on" in down.line()
    record = seeded.report_mail(TODAY)
    assert record is not None and record.status is ReportStatus.FAILED and record.sent_to == ()

    with smtp_server(inbox, port):
        back = daily(seeded, port).run()
    assert back == ReportMailResult(TODAY, sent_to=(ALICE, BOB))
    assert sorted(r.rcpt_tos[0] for r in inbox.received) == [ALICE, BOB]
    record = seeded.report_mail(TODAY)
    assert record is not None and (record.status, record.attempts, record.error) == (ReportStatus.SENT, 2, None)


def test_a_deferred_recipient_is_retried_without_repeating_the_others(seeded: Store, port: int, inbox: Inbox):
    """
    Given three recipients, the second deferred (451) once
    When the daily report runs twice
    Then the first run reaches the first recipient and stops; the second run
         reaches the other two; everyone has exactly one copy
    """
    inbox.rcpt_replies[BOB] = ["451 4.3.0 try again later"]
    recipients = (ALICE, BOB, CAROL)

    first = daily(seeded, port, recipients=recipients).run()
    assert first.sent_to == (ALICE,) and first.error is not None and "451" in first.error
    second = daily(seeded, port, recipients=recipients).run()
    assert second.sent_to == (BOB, CAROL) and second.error is None
    assert [len(inbox.to(a)) for a in recipients] == [1, 1, 1]
    record = seeded.report_mail(TODAY)
    assert record is not None and record.status is ReportStatus.SENT and record.sent_to == recipients


def test_a_recipient_refused_for_good_is_noted_and_the_others_get_it(seeded: Store, port: int, inbox: Inbox):
    """
    Given a recipient the server refuses (550)
    When the daily report runs, and runs again
    Then the others get it, the refusal is in the result and the record, the
         day is sent; the second run sends nothing
    """
    inbox.rcpt_replies[BOB] = ["550 5.1.1 no such user"]
    result = daily(seeded, port, recipients=(BOB, ALICE)).run()
    assert result.sent_to == (ALICE,)
    assert len(result.rejected) == 1 and result.rejected[0].startswith(f"{BOB}: ") and "550" in result.rejected[0]
    assert "refused for 1" in result.line()
    record = seeded.report_mail(TODAY)
    assert record is not None and record.status is ReportStatus.SENT and set(record.rejected) == {BOB}
    assert daily(seeded, port, recipients=(BOB, ALICE)).run().skipped == "already sent"
    assert [r.rcpt_tos for r in inbox.received] == [[ALICE]]


def test_a_delivery_of_unknown_fate_is_sent_again_by_the_next_run(seeded: Store, port: int, inbox: Inbox):
    """
    Given a server that takes the message and drops the connection before its
         final reply (the report may have arrived)
    When the daily report runs, then runs again against a working server
    Then the day stays unsent after the first run and the second sends it:
         at least once, a second copy rather than none
    """
    with SilentAfterData() as silent:
        first = daily(seeded, silent.port).run()
        assert len(silent.messages) == 1
    assert first.error is not None and first.error.startswith("DeliveryUncertain")
    second = daily(seeded, port).run()
    assert second.sent_to == (ALICE, BOB)


def test_no_recipients_sends_nothing_and_leaves_the_store_alone(seeded: Store, port: int, inbox: Inbox):
    result = daily(seeded, port, recipients=()).run()
    assert result == ReportMailResult(TODAY, skipped="no recipients")
    assert result.line() == "report 2026-11-04: no recipients"
    assert inbox.received == [] and seeded.report_mails() == []


def test_an_unexpected_error_releases_the_day_and_is_raised(seeded: Store):
    """A transport that fails in a way no one declared: the error reaches the
    daemon, and the day is left for the next run instead of a stuck claim."""

    class Broken:
        def send(self, envelope) -> None:  # noqa: ANN001
            raise RuntimeError("bug in the transport")

    with pytest.raises(RuntimeError, match="bug in the transport"):
        DailyReport(seeded, Broken(), sender=SENDER, recipients=RECIPIENTS, days=3, today=lambda: TODAY).run()
    record = seeded.report_mail(TODAY)
    assert record is not None and record.status is ReportStatus.FAILED
    assert record.error == "RuntimeError: bug in the transport"


# --- composing ---------------------------------------------------------------------


def test_compose_sets_date_domain_and_lists_unusual_patterns(seeded: Store):
    """Given a report with unusual patterns and a customer name with a line
    break, the text lists each on one line; Date and Message-ID follow the
    arguments."""
    report = dataclasses.replace(
        build_report(seeded, date(2026, 11, 1), date(2026, 11, 3)),
        customer_changes=(CustomerChange("C9", "Evil\r\nBcc: x@y", "orders", 9, 2),),
        reason_rises=(ReasonRise(ReasonCode.UNKNOWN_SKU, 0.1, 0.6),),
    )
    now = datetime(2026, 11, 4, 7, 0, 3, tzinfo=UTC)
    message = parse(
        report_message(
            report, sender=SENDER, recipients=[ALICE], day=TODAY, message_id_domain="mail.example", now=now
        ).as_bytes(policy=email.policy.SMTP)
    )
    assert message["Date"].datetime == now
    assert message["Message-ID"].endswith("@mail.example>")
    assert message["Bcc"] is None
    text = message.get_body(("plain",)).get_content()
    assert "- customer C9 (Evil Bcc: x@y): orders 9.0 in the last window, usually 2.0 (4.5x)" in text
    assert "- review reason unknown_sku: 60 % of reviewed orders, earlier 10 %" in text
    with pytest.raises(ValueError, match="recipient"):
        report_message(report, sender=SENDER, recipients=[], day=TODAY)


def test_render_html_takes_chart_sources_for_every_chart_only(seeded: Store):
    report = build_report(seeded, date(2026, 11, 2), date(2026, 11, 3))
    html = render_html(report, chart_src={key: f"cid:{key}@x" for key in CHART_FILES})
    assert all(f'src="cid:{key}@x"' in html for key in CHART_FILES)
    assert SCRIPT_NAME not in html
    with pytest.raises(ValueError, match="chart_src"):
        render_html(report, chart_src={"volume": "cid:v@x"})


# --- the store's records -------------------------------------------------------------


def test_a_day_is_claimed_by_one_holder_until_finished_or_stale(store: Store, clock: FakeClock):
    """
    Given a day claimed by one holder
    When another tries before and after the claim is stale, and the first
         finishes late
    Then only the stale claim is taken over, and the late finish of the
         first holder does not overwrite the second one's record
    """
    first = store.claim_report(TODAY, "a", STALE)
    assert first is not None
    assert (first.status, first.holder, first.attempts, first.sent_to) == (ReportStatus.SENDING, "a", 1, ())
    assert first.claimed_at == clock.now and first.finished_at is None
    assert store.claim_report(TODAY, "b", STALE) is None

    clock.advance(STALE.total_seconds())
    second = store.claim_report(TODAY, "b", STALE)
    assert second is not None and (second.holder, second.attempts) == ("b", 2)
    assert not store.finish_report(TODAY, "a", ReportStatus.SENT, sent_to=[ALICE])
    assert store.finish_report(TODAY, "b", ReportStatus.SENT, sent_to=[ALICE, BOB], message_id="<m@x>")
    record = store.report_mail(TODAY)
    assert record is not None
    assert (record.status, record.holder, record.sent_to, record.message_id) == (
        ReportStatus.SENT, "b", (ALICE, BOB), "<m@x>"
    )
    assert record.finished_at == clock.now

    clock.advance(24 * 3600)
    assert store.claim_report(TODAY, "c", STALE) is None  # sent: never again
    assert store.report_mail(TODAY + timedelta(days=1)) is None


def test_a_failed_day_is_claimed_again_at_once_with_its_progress(store: Store):
    assert store.claim_report(TODAY, "a", STALE) is not None
    assert store.finish_report(
        TODAY, "a", ReportStatus.FAILED, sent_to=[ALICE], rejected={BOB: "550 no"}, error="MailDeferred: 451"
    )
    again = store.claim_report(TODAY, "b", STALE)
    assert again is not None
    assert (again.status, again.sent_to, dict(again.rejected), again.error) == (
        ReportStatus.SENDING, (ALICE,), {BOB: "550 no"}, "MailDeferred: 451"
    )
    assert again.finished_at is None


def test_two_stores_claiming_one_day_at_once_get_one_claim(store_url: str, clock: FakeClock):
    with Store.open(store_url, clock=clock) as first, Store.open(store_url, clock=clock) as second:
        for n in range(5):
            day = TODAY + timedelta(days=n)
            results = at_once(partial(first.claim_report, day, "a", STALE), partial(second.claim_report, day, "b", STALE))
            assert sorted(type(r).__name__ for r in results) == ["NoneType", "ReportMail"], results


def test_claim_and_finish_refuse_nonsense(store: Store):
    with pytest.raises(ValueError, match="stale_after"):
        store.claim_report(TODAY, "a", timedelta(0))
    with pytest.raises(ValueError, match="sent or failed"):
        store.finish_report(TODAY, "a", ReportStatus.SENDING, sent_to=[])
    assert not store.finish_report(TODAY, "a", ReportStatus.SENT, sent_to=[])  # never claimed
