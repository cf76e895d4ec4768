"""The outgoing-mail part of the ``Store`` contract, on SQLite and PostgreSQL.

Same fixtures as ``test_store_contract`` (a fresh database per test, a clock
moved by hand): what the at-most-once queue of ``bot.outgoing`` relies on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.errors import InvalidTransition
from bot.model import OrderState
from bot.store import MAIL_ATTENTION, Entity, MailKind, MailStatus, Store
from tests.test_store_contract import (  # noqa: F401 - fixtures used by name
    FakeClock,
    add,
    at_once,
    clock,
    raw_sql,
    store,
    store_url,
)

ACK = MailKind.ACKNOWLEDGEMENT
RAW = b"From: orders@example.com\r\nTo: jana@nordwind.de\r\nSubject: Re: PO\r\n\r\nThanks\r\n"


def queue(store: Store, order_id: int, kind: MailKind = ACK, **kwargs: object):
    values = dict(
        message_id="<ack-1@example.com>",
        sender="orders@example.com",
        recipient="jana@nordwind.de",
        subject="Re: PO 4711",
        language="en",
        raw=RAW,
    )
    values.update(kwargs)
    return store.queue_mail(order_id, kind, **values)


def mail_events(store: Store, order_id: int) -> list[str]:
    return [e.reason or "" for e in store.events(Entity.ORDER, order_id) if e.from_state == e.to_state]


def test_an_order_gets_one_mail_of_each_kind(store: Store):
    """
    Given a keyed order with a queued acknowledgement
    When the acknowledgement is queued again (a second run, another process)
    Then the first one is returned unchanged and no second one exists; a
         clarification of the same order is a mail of its own
    """
    order = add(store, OrderState.KEYED)
    first, created = queue(store, order.id)
    again, created_again = queue(store, order.id, message_id="<other@example.com>", recipient="x@y.z")
    clarification, _ = queue(store, order.id, MailKind.CLARIFICATION, message_id="<c@example.com>")

    assert created and not created_again
    assert again == first
    assert first.status is MailStatus.QUEUED and first.attempts == 0 and first.raw == RAW
    assert [m.id for m in store.outgoing_mails(order_id=order.id)] == [first.id, clarification.id]
    assert store.outgoing_mail_for(order.id, ACK) == first
    assert mail_events(store, order.id) == [
        "acknowledgement to jana@nordwind.de queued",
        "clarification to jana@nordwind.de queued",
    ]


def test_the_database_refuses_a_second_mail_of_a_kind(store: Store, raw_sql: sa.Engine):
    """
    Given an order with an acknowledgement
    When a second one is inserted behind the API's back
    Then the unique constraint refuses it
    """
    order = add(store, OrderState.KEYED)
    mail, _ = queue(store, order.id)
    with pytest.raises(sa.exc.IntegrityError), raw_sql.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outgoing_mail (order_id, kind, status, raw, attempts, created_at, updated_at) "
                "SELECT order_id, kind, 'queued', raw, 0, created_at, updated_at FROM outgoing_mail WHERE id = :id"
            ),
            {"id": mail.id},
        )


def test_a_mail_to_send_needs_its_bytes(store: Store, raw_sql: sa.Engine):
    """
    Given the API and the database
    When a queued mail without raw bytes is recorded
    Then both refuse it; a suppressed one needs none and is never due
    """
    order = add(store, OrderState.KEYED)
    with pytest.raises(ValueError, match="raw bytes"):
        store.queue_mail(order.id, ACK, sender="a@b.c", recipient="d@e.f")
    suppressed, _ = store.queue_mail(order.id, ACK, status=MailStatus.SUPPRESSED, note="the customer's message is an auto-reply")
    assert suppressed.raw is None and suppressed.next_attempt_at is None
    assert store.due_mails() == []
    with pytest.raises(sa.exc.IntegrityError), raw_sql.begin() as conn:
        conn.execute(sa.text("UPDATE outgoing_mail SET status = 'queued' WHERE id = :id"), {"id": suppressed.id})
    assert mail_events(store, order.id) == ["acknowledgement not sent: the customer's message is an auto-reply"]


def test_mail_is_counted_by_status(store: Store):
    order = add(store, OrderState.KEYED)
    queue(store, order.id)
    failed, _ = queue(store, order.id, MailKind.CLARIFICATION)
    store.claim_mail(failed.id)
    store.finish_mail(failed.id, MailStatus.FAILED, error="550 no such user")
    counts = store.mail_counts()
    assert counts[MailStatus.QUEUED] == 1 and counts[MailStatus.FAILED] == 1
    assert set(counts) == set(MailStatus) and sum(counts.values()) == 2


def test_sending_is_recorded_before_and_sent_after(store: Store, clock: FakeClock):
    """
    Given a queued mail
    When it is claimed and the send succeeds
    Then it is 'sending' with the attempt counted before anything goes out,
         'sent' with the time afterwards, and no longer due
    """
    order = add(store, OrderState.KEYED)
    mail, _ = queue(store, order.id)
    assert store.due_mails() == [mail]

    claimed = store.claim_mail(mail.id)
    assert claimed is not None and claimed.status is MailStatus.SENDING and claimed.attempts == 1
    assert store.due_mails() == []
    assert store.claim_mail(mail.id) is None, "a mail being sent cannot be claimed again"

    clock.advance(2)
    sent = store.finish_mail(mail.id, MailStatus.SENT)
    assert sent.status is MailStatus.SENT and sent.sent_at == clock.now and sent.last_error is None
    assert "acknowledgement sent to jana@nordwind.de" in mail_events(store, order.id)
    with pytest.raises(InvalidTransition):
        store.finish_mail(mail.id, MailStatus.FAILED, error="too late")


def test_two_runs_claiming_one_mail_have_one_winner(store: Store):
    order = add(store, OrderState.KEYED)
    mail, _ = queue(store, order.id)
    results = at_once(lambda: store.claim_mail(mail.id), lambda: store.claim_mail(mail.id))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    assert store.outgoing_mail(mail.id).attempts == 1


def test_a_deferred_mail_waits_for_its_time(store: Store, clock: FakeClock):
    """
    Given a mail whose attempt was deferred (4xx) to ten minutes later
    When the queue is asked for due mail before and after that time
    Then it is due only afterwards, with the error and the attempt kept
    """
    order = add(store, OrderState.KEYED)
    mail, _ = queue(store, order.id)
    store.claim_mail(mail.id)
    retry_at = clock.now + timedelta(minutes=10)
    deferred = store.finish_mail(mail.id, MailStatus.QUEUED, error="451 4.7.1 greylisted", retry_after=timedelta(minutes=10))

    assert deferred.status is MailStatus.QUEUED and deferred.attempts == 1
    assert deferred.last_error == "451 4.7.1 greylisted" and deferred.next_attempt_at == retry_at
    clock.advance(9 * 60)
    assert store.due_mails() == [] and store.claim_mail(mail.id) is None
    clock.advance(60)
    assert [m.id for m in store.due_mails()] == [mail.id]
    assert store.claim_mail(mail.id).attempts == 2
    assert any("attempt 1 deferred" in e and "451 4.7.1 greylisted" in e for e in mail_events(store, order.id))


def test_a_mail_left_sending_becomes_uncertain_and_is_listed_for_a_person(store: Store):
    """
    Given a mail left 'sending' by a run that stopped mid-send, and a failed one
    When the next delivery run marks interrupted mails
    Then the first is 'uncertain', never due again; both are listed as needing
         a person, and the order's events say so
    """
    stuck_order, failed_order = add(store, OrderState.KEYED), add(store, OrderState.KEYED, po_number="4500099999")
    stuck, _ = queue(store, stuck_order.id)
    failed, _ = queue(store, failed_order.id, message_id="<f@example.com>")
    store.claim_mail(stuck.id)
    store.claim_mail(failed.id)
    store.finish_mail(failed.id, MailStatus.FAILED, error="550 5.1.1 no such user")

    (marked,) = store.mark_interrupted_mails()

    assert marked.id == stuck.id and marked.status is MailStatus.UNCERTAIN
    assert store.mark_interrupted_mails() == []
    assert store.due_mails() == [] and store.claim_mail(stuck.id) is None
    assert [(m.id, m.status) for m in store.outgoing_mails(MAIL_ATTENTION)] == [
        (stuck.id, MailStatus.UNCERTAIN),
        (failed.id, MailStatus.FAILED),
    ]
    assert any("delivery uncertain" in e for e in mail_events(store, stuck_order.id))
    assert any("failed: 550 5.1.1 no such user" in e for e in mail_events(store, failed_order.id))
    assert store.get_order(stuck_order.id).state is OrderState.KEYED


def test_only_a_person_moves_an_uncertain_or_failed_mail_on(store: Store, clock: FakeClock):
    """
    Given an uncertain mail and a failed one
    When a person settles them
    Then 'the customer has it' makes it sent, 'send again' queues it due now
         with a fresh count; a sent mail cannot be re-queued, and a reason is required
    """
    one, two = add(store, OrderState.KEYED), add(store, OrderState.KEYED, po_number="4500099999")
    uncertain, _ = queue(store, one.id)
    failed, _ = queue(store, two.id, message_id="<f@example.com>")
    for mail in (uncertain, failed):
        store.claim_mail(mail.id)
    store.finish_mail(uncertain.id, MailStatus.UNCERTAIN, error="connection dropped after the message")
    store.finish_mail(failed.id, MailStatus.FAILED, error="550 mailbox full")

    with pytest.raises(ValueError, match="reason"):
        store.settle_mail(uncertain.id, MailStatus.SENT, actor="handler:anna", reason=" ")
    sent = store.settle_mail(uncertain.id, MailStatus.SENT, actor="handler:anna", reason="customer confirmed by phone")
    again = store.settle_mail(failed.id, MailStatus.QUEUED, actor="handler:anna", reason="mailbox emptied")

    assert sent.status is MailStatus.SENT and sent.note == "customer confirmed by phone"
    assert again.status is MailStatus.QUEUED and again.attempts == 0 and again.next_attempt_at == clock.now
    assert [m.id for m in store.due_mails()] == [failed.id]
    with pytest.raises(InvalidTransition):
        store.settle_mail(uncertain.id, MailStatus.QUEUED, actor="handler:anna", reason="send it again")
    (event,) = [e for e in store.events(Entity.ORDER, one.id) if "confirmed by phone" in (e.reason or "")]
    assert event.actor == "handler:anna"


def test_unknown_mail_and_order_ids_are_key_errors(store: Store):
    with pytest.raises(KeyError):
        store.outgoing_mail(999)
    with pytest.raises(KeyError):
        queue(store, 999)
    assert store.outgoing_mail_for(999, ACK) is None


def test_a_mail_a_live_process_is_sending_is_not_taken_for_interrupted(store: Store, clock: FakeClock):
    """
    Given two mails 'sending': one claimed by a live worker, one by a dead one
    When a delivery run elsewhere marks interrupted mails, told who is gone
    Then only the dead one's is 'uncertain', and the live one's once the
         predicate says so (it is given the holder and the time of the claim)
    """
    live_order, dead_order = add(store, OrderState.KEYED), add(store, OrderState.KEYED, po_number="4500077777")
    live, _ = queue(store, live_order.id)
    dead, _ = queue(store, dead_order.id, message_id="<d@example.com>")
    store.claim_mail(live.id, "host-a:10:aaaa")
    store.claim_mail(dead.id, "host-b:20:bbbb")
    asked: list[tuple[str, object]] = []
    gone = {"host-b:20:bbbb"}

    def interrupted(holder: str, claimed_at) -> bool:  # noqa: ANN001
        asked.append((holder, claimed_at))
        return holder in gone

    (marked,) = store.mark_interrupted_mails(interrupted=interrupted)
    assert marked.id == dead.id and marked.status is MailStatus.UNCERTAIN
    assert store.outgoing_mail(live.id).status is MailStatus.SENDING
    assert sorted(asked) == [("host-a:10:aaaa", clock.now), ("host-b:20:bbbb", clock.now)]
    gone.add("host-a:10:aaaa")
    (late,) = store.mark_interrupted_mails(interrupted=interrupted)
    assert late.id == live.id and late.status is MailStatus.UNCERTAIN
