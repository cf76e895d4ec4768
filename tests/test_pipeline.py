"""The pipeline end to end on the embedded default: a folder source, a SQLite store,
real master data and the real extractors. The portal is the in-memory double
here; the real connector against the demo portal is tests/test_portal_connector.py
and tests/test_keying_e2e.py."""

from __future__ import annotations

import email.utils
import shutil
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.keying import KeyingPolicy, entry_for
from bot.model import MessageStatus, OrderState
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.folder import FolderSource
from connectors.outbox import OutboxMailer
from tests.portal_double import DoublePortal, PortalState

TODAY = date(2026, 11, 26)


def body_order(po: str, *, sender: str = "jana.becker@nordwind.de", qty: int = 4) -> bytes:
    """A plain-text order from a known customer, to a known site, for in-stock items at list price."""
    message = EmailMessage()
    message["From"] = f"Jana Becker <{sender}>"
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = f"Order {po}"
    message["Date"] = email.utils.format_datetime(email.utils.parsedate_to_datetime("Mon, 16 Nov 2026 09:00:00 +0100"))
    message["Message-ID"] = email.utils.make_msgid(domain="nordwind.de")
    message.set_content(
        "Hello,\n\nplease deliver the following:\n\n"
        f"{qty} pcs AX-1523 Hand dispenser for stretch film\n\n"
        "Delivery address: Nordwind Logistik GmbH, Hafenstrasse 12, 20457 Hamburg, Germany\n"
        f"Our order number: {po}\nRequested delivery: 14.12.2026\n\nRegards\nJana Becker\n"
    )
    return message.as_bytes()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def make_pipeline(store: Store, master, *folders: Path, portal: PortalState | None = None, mailer=None, **kwargs) -> Pipeline:
    """A pipeline on folders; ``portal`` is the state of an in-memory portal (tests/portal_double.py)."""
    sources = [FolderSource(f"src{i}", folder) for i, folder in enumerate(folders)]
    factory = (lambda: DoublePortal(portal)) if portal is not None else None
    return Pipeline(store=store, master=master, sources=sources, today=TODAY, portal=factory, mailer=mailer,
                    keying=KeyingPolicy(first_retry_seconds=0), **kwargs)


def test_malformed_input_is_kept_as_failed_and_the_run_goes_on(store, master, inbox):
    """Given an empty file, bytes that are no email, a PDF that is no PDF and a good order,
    when one run takes them, then the three bad ones are failed with a reason naming the
    file, their bytes are kept, and the good order is processed."""
    (inbox / "a-empty.eml").write_bytes(b"")
    (inbox / "b-garbage.eml").write_bytes(b"\x00\x01\x02\xff binary junk \x00" * 20)
    (inbox / "c-fake.pdf").write_bytes(b"%PDF-1.7\nthis is not a real pdf at all\n")
    (inbox / "d-good.eml").write_bytes(body_order("4500001"))

    summary = make_pipeline(store, master, inbox).run_once()

    assert summary.received == 4
    entries = {e.name: e for e in store.messages()}
    assert entries["a-empty.eml"].status == MessageStatus.FAILED
    assert "a-empty.eml" in entries["a-empty.eml"].reason and "empty" in entries["a-empty.eml"].reason
    assert entries["b-garbage.eml"].status == MessageStatus.FAILED
    assert "b-garbage.eml" in entries["b-garbage.eml"].reason
    # A broken PDF is an unreadable document: a person looks at it.
    assert entries["c-fake.pdf"].status == MessageStatus.NEEDS_REVIEW
    fake_pdf_orders = [o for o in store.orders() if o.ledger_id == entries["c-fake.pdf"].id]
    assert [o.order.reason_codes for o in fake_pdf_orders] == [("unreadable_document",)]
    assert entries["d-good.eml"].status in (MessageStatus.PROCESSED, MessageStatus.NEEDS_REVIEW)
    assert store.raw_bytes(entries["b-garbage.eml"].sha256) == (inbox / "b-garbage.eml").read_bytes()
    assert summary.failed == 2


def test_nothing_is_processed_twice(store, master, inbox, tmp_path):
    """Given a processed folder, when the run repeats and the same message also turns up
    in a second folder with its own trace headers, then no new message or order appears."""
    (inbox / "one.eml").write_bytes(body_order("4500002"))
    (inbox / "two.eml").write_bytes(body_order("4500003"))
    pipeline = make_pipeline(store, master, inbox)
    first = pipeline.run_once()
    assert first.received == 2 and first.orders == 2

    other = tmp_path / "other-mailbox"
    other.mkdir()
    (other / "copy.eml").write_bytes(b"Received: from mx2 by other; Mon, 16 Nov 2026 09:01:00 +0100\r\n" + (inbox / "one.eml").read_bytes())
    second = make_pipeline(store, master, inbox, other).run_once()

    assert second.received == 0 and second.duplicates == 3
    assert len(store.messages()) == 2
    assert len(store.orders()) == 2
    (entry,) = [e for e in store.messages() if e.name == "one.eml"]
    assert len(store.locations(entry.id)) == 2, "the ledger remembers both places it was seen"


def test_message_left_received_by_a_crash_is_processed_on_the_next_run(store, master, inbox):
    """Given a message the ledger recorded but whose outcome was never committed (a crash),
    when the next run sees it, then it is processed once, not skipped and not doubled."""
    from bot.identity import identify

    data = body_order("4500004")
    (inbox / "crash.eml").write_bytes(data)
    identity = identify(data)
    store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="folder:x", name="crash.eml")

    summary = make_pipeline(store, master, inbox).run_once()

    assert summary.received == 1 and summary.orders == 1
    assert len(store.messages()) == 1
    assert store.messages()[0].status != MessageStatus.RECEIVED


def test_oversized_message_goes_to_review_unparsed(store, master, inbox):
    (inbox / "big.eml").write_bytes(body_order("4500005") + b"x" * 5000)
    summary = make_pipeline(store, master, inbox, max_message_bytes=1000).run_once()
    (entry,) = store.messages()
    assert entry.status == MessageStatus.NEEDS_REVIEW
    assert "over the limit of 1000" in entry.reason
    (order,) = store.orders()
    assert order.order.reason_codes == ("unreadable_document",) and order.state == OrderState.NEEDS_REVIEW
    assert summary.needs_review == 1


def test_a_source_leased_by_another_run_is_skipped(store, master, inbox):
    """Given another process holds the lease on a source, when a run starts, then it
    reads nothing from that source and says so; once the lease is released it reads."""
    (inbox / "a.eml").write_bytes(body_order("4500008"))
    pipeline = make_pipeline(store, master, inbox)
    assert store.acquire_lease("source:src0", "other-machine:1", 60)
    blocked = pipeline.run_once()
    assert blocked.received == 0 and any("another run" in e for e in blocked.errors)
    store.release_lease("source:src0", "other-machine:1")
    assert pipeline.run_once().received == 1
    assert store.acquire_lease("source:src0", "third", 60), "the run released its lease"


def test_duplicate_po_within_a_run_goes_to_review(store, master, inbox):
    (inbox / "1.eml").write_bytes(body_order("4500006"))
    (inbox / "2.eml").write_bytes(body_order("4500006", qty=5))
    make_pipeline(store, master, inbox).run_once()
    second = [o for o in store.orders() if o.order.po_number.value == "4500006"]
    assert len(second) == 2
    assert sum("duplicate_po" in o.order.reason_codes for o in second) == 1


def test_credit_limit_counts_orders_of_this_run_and_of_the_store(store, master, inbox, tmp_path):
    """Given a customer with a 250,000 limit and two orders of 132,300 each in one run,
    when processed, then the first is ready and the second goes to review for credit;
    a third order in a later run is measured against the stored ready order too."""
    limit = master.customer("C1001").credit_limit
    assert limit == 250000
    (inbox / "1.eml").write_bytes(body_order("CRED-1001", qty=7000))
    (inbox / "2.eml").write_bytes(body_order("CRED-1002", qty=7000))
    make_pipeline(store, master, inbox).run_once()
    states = {o.order.po_number.value: (o.state, o.order.reason_codes) for o in store.orders()}
    assert states["CRED-1001"] == (OrderState.READY, ())
    assert states["CRED-1002"] == (OrderState.NEEDS_REVIEW, ("credit_limit",))

    later = tmp_path / "later"
    later.mkdir()
    (later / "3.eml").write_bytes(body_order("CRED-1003", qty=7000))
    make_pipeline(store, master, later).run_once()
    (third,) = [o for o in store.orders() if o.order.po_number.value == "CRED-1003"]
    assert third.order.reason_codes == ("credit_limit",)


def _ready_order(store: Store, po: str) -> int:
    from bot.identity import identify

    data = body_order(po)
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="test", name=f"{po}.eml")
    from bot.extraction_json import order_from_json

    order = order_from_json(
        {
            "source": "body",
            "customer_id": "C1001",
            "po_number": po,
            "lines": [{"sku": "AX-1523", "quantity": "4", "uom": "EA"}],
            "ship_to": {"name": "Nordwind Logistik GmbH", "street": "Hafenstrasse 12", "postal_code": "20457", "city": "Hamburg", "country": "DE"},
        }
    )
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED)
    return stored.id


def test_keying_is_exactly_once_and_acknowledged(store, master, tmp_path):
    """Given two ready orders, when keying meets one transient portal failure and runs
    again, then each order is submitted exactly once, keyed with the portal's number,
    and acknowledged by an email threaded to the customer's message."""
    first, second = _ready_order(store, "PO-A1"), _ready_order(store, "PO-A2")
    portal = PortalState(before_save=1)
    outbox = tmp_path / "outbox"
    pipeline = make_pipeline(store, master, portal=portal, mailer=OutboxMailer(outbox))

    run1 = pipeline.run_once()
    assert run1.keyed == 1 and any("HTTP 500 before save" in e for e in run1.errors)
    run2 = pipeline.run_once()
    run3 = pipeline.run_once()

    assert run2.keyed == 1 and run3.keyed == 0
    assert portal.submits == 3 and len(portal.orders) == 2  # one failed before saving
    states = {store.get_order(i).state for i in (first, second)}
    assert states == {OrderState.ACKNOWLEDGED}
    numbers = {store.get_order(i).portal_order_number for i in (first, second)}
    assert numbers == {"SO-000001", "SO-000002"}
    acks = sorted(outbox.glob("*.eml"))
    assert len(acks) == 2
    text = acks[0].read_text()
    assert "In-Reply-To: <" in text and "To: jana.becker@nordwind.de" in text and "SO-00000" in text


def test_an_order_the_portal_already_has_is_not_submitted_again(store, master):
    """Given a crash after the portal saved an order but before the store recorded it,
    when keying runs again, then search-before-submit finds it and nothing is submitted."""
    order_id = _ready_order(store, "PO-B1")
    portal = PortalState()
    DoublePortal(portal).submit(entry_for(store.get_order(order_id).order, master))
    make_pipeline(store, master, portal=portal).key()
    assert portal.submits == 1 and len(portal.orders) == 1
    assert store.get_order(order_id).portal_order_number == "SO-000001"
    assert store.get_order(order_id).state == OrderState.KEYED


def test_second_keyed_order_for_same_po_goes_to_review(store, master):
    first, second = _ready_order(store, "PO-C1"), _ready_order(store, "PO-C1")
    portal = PortalState()
    summary = make_pipeline(store, master, portal=portal).key()
    assert summary.keyed == 1 and summary.needs_review == 1
    assert portal.submits == 1
    assert {store.get_order(first).state, store.get_order(second).state} == {OrderState.KEYED, OrderState.NEEDS_REVIEW}


def test_without_a_portal_orders_stay_ready(store, master):
    order_id = _ready_order(store, "PO-D1")
    summary = make_pipeline(store, master).run_once()
    assert summary.keyed == 0
    assert store.get_order(order_id).state == OrderState.READY


def test_demo_inbox_runs(store, master, tmp_path):
    """The bundled demo inbox goes through without a failed message."""
    demo = Path(__file__).resolve().parents[1] / "demo" / "inbox"
    copy = tmp_path / "demo-inbox"
    shutil.copytree(demo, copy)
    summary = make_pipeline(store, master, copy).run_once()
    assert summary.received == len(list(copy.glob("*.eml")))
    assert summary.failed == 0
    assert summary.orders >= 10


class BrokenSource:
    """A source whose account is misconfigured (a rejected login)."""

    name = "broken"

    def fetch_new(self):
        from bot.errors import ConfigError

        raise ConfigError("login rejected for account broken")
        yield  # pragma: no cover

    def settle(self, raw, status):  # pragma: no cover
        raise AssertionError("nothing to settle")


def test_a_source_that_needs_a_person_does_not_stop_the_others(store, master, inbox):
    """Given a source whose login is rejected before a working folder source, when a run
    starts, then the error is reported and the folder's message is still processed."""
    (inbox / "a.eml").write_bytes(body_order("4500009"))
    pipeline = Pipeline(store=store, master=master, sources=[BrokenSource(), FolderSource("ok", inbox)], today=TODAY)
    summary = pipeline.run_once()
    assert summary.received == 1
    assert any("login rejected for account broken" in e for e in summary.errors)
    assert store.acquire_lease("source:broken", "someone-else", 60), "the broken source's lease was released"


def test_medical_goods_go_first_but_are_not_urgent(master):
    """A first-aid kit order ranks above an ordinary one in the queues; an order the
    customer calls urgent ranks above both; the category alone never sets urgent."""
    from bot.extraction_json import order_from_json
    from bot.processing import urgency_priority

    def with_sku(sku: str, urgent: bool = False):
        return order_from_json({"source": "body", "urgent": urgent, "lines": [{"sku": sku, "quantity": "1", "uom": "EA"}]})

    assert urgency_priority(with_sku("MQ-6630"), master) == 1  # First aid kit
    assert urgency_priority(with_sku("AX-1523"), master) == 0
    assert urgency_priority(with_sku("AX-1523", urgent=True), master) == 2
    assert with_sku("MQ-6630").urgent.value is False


def test_a_quantity_far_above_the_customers_usual_goes_to_review(store, master, inbox):
    """Given three earlier orders of 4 AX-1523 in the store, when an order for 100
    arrives, then it goes to review naming the usual quantity."""
    for po in ("H-1", "H-2", "H-3"):
        _ready_order(store, po)
    (inbox / "big.eml").write_bytes(body_order("4500077777", qty=100))
    make_pipeline(store, master, inbox).run_once()
    (stored,) = [o for o in store.orders() if o.order.po_number.value == "4500077777"]
    assert stored.state == OrderState.NEEDS_REVIEW
    assert any("usually orders 4" in r.message for r in stored.order.reasons)


def test_a_message_processed_again_after_a_crash_keeps_one_copy_of_each_document(store, master, inbox):
    """Given a message whose documents were stored but whose outcome was not (a crash
    between the two), when the next run processes it, then each attachment is stored once."""
    from bot.identity import identify

    message = EmailMessage()
    message["From"] = "Jana Becker <jana.becker@nordwind.de>"
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = "Order 4500088888"
    message["Message-ID"] = "<crash-docs@nordwind.de>"
    message.set_content("Order attached.\n")
    message.add_attachment(b"%PDF-1.4\n%broken", maintype="application", subtype="pdf", filename="PO-4500088888.pdf")
    data = message.as_bytes()
    (inbox / "docs.eml").write_bytes(data)
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="folder:x", name="docs.eml")
    store.add_document(entry.id, "PO-4500088888.pdf", "application/pdf", b"%PDF-1.4\n%broken")

    make_pipeline(store, master, inbox).run_once()

    assert [d.name for d in store.documents(entry.id)] == ["PO-4500088888.pdf"]
    assert store.message(entry.id).status != MessageStatus.RECEIVED


def _recorded(store: Store, inbox: Path, name: str, data: bytes) -> int:
    from bot.identity import identify

    (inbox / name).write_bytes(data)
    identity = identify(data)
    return store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key,
                                raw=data, origin=f"folder:{inbox / name}", name=name).id


def test_a_message_the_process_died_deciding_three_times_is_failed_and_the_run_goes_on(store, master, inbox):
    """Given a message three processes began to decide and died in (a poison message:
    the OOM killer, a crash in a native parser), when the next run sees it, then it is
    failed with a reason that says so, without being parsed again, and the order
    behind it in the inbox is processed."""
    poison = _recorded(store, inbox, "a-poison.eml", body_order("4500091"))
    for _ in range(3):
        store.begin_deciding(poison)
    (inbox / "b-next.eml").write_bytes(body_order("4500092"))

    summary = make_pipeline(store, master, inbox).run_once()

    failed = store.message(poison)
    assert failed.status is MessageStatus.FAILED and summary.failed == 1
    assert "a-poison.eml" in failed.reason and "died 3 time(s)" in failed.reason
    assert [o.po_number for o in store.orders()] == ["4500092"]  # none from the poison message


def test_fewer_deaths_than_the_limit_still_decide_the_message(store, master, inbox):
    entry = _recorded(store, inbox, "twice.eml", body_order("4500093"))
    store.begin_deciding(entry)
    store.begin_deciding(entry)

    make_pipeline(store, master, inbox, max_decide_attempts=3).run_once()

    assert store.message(entry).status is MessageStatus.PROCESSED and store.message(entry).attempts == 3


def test_a_transient_error_while_deciding_is_no_try_against_the_message(store, master, inbox):
    """Given a message whose deciding meets a transient error (master data unreachable)
    five times, more than max_decide_attempts, then it is still received and its count
    is 0; once the error is gone it is decided."""
    from bot.errors import TransientError

    (inbox / "t.eml").write_bytes(body_order("4500094"))
    pipeline = make_pipeline(store, master, inbox)
    decide = pipeline.processor.process

    def unreachable(raw):
        raise TransientError("master data: connection refused")

    pipeline.processor.process = unreachable
    for _ in range(5):
        assert "connection refused" in " ".join(pipeline.run_once().errors)
    (entry,) = store.messages()
    assert entry.status is MessageStatus.RECEIVED and entry.attempts == 0
    pipeline.processor.process = decide
    pipeline.run_once()
    assert store.message(entry.id).status is MessageStatus.PROCESSED


def test_two_orders_of_one_message_count_against_the_credit_limit_together(master):
    """Given one email carrying two orders of 132,300 for a customer with a 250,000 limit
    (two POs in one batch print), when it is validated, then the first passes and the
    second goes to review for credit: it is counted with the first, not alone."""
    from dataclasses import replace

    from bot.model import Field, MessageKind, RawMessage
    from bot.processing import MessageProcessor, parse

    processor = MessageProcessor(master, today=TODAY)
    message = parse(RawMessage(body_order("CRED-6001", qty=7000), origin="test", name="two.eml"))
    (order, match), = processor.resolve(message, processor.extract(message))
    second = replace(order, po_number=Field("CRED-6002", order.po_number.confidence, order.po_number.provenance))
    first, other = processor.validate(MessageKind.ORDER, ((order, match), (second, match)), message.body, message)
    assert first.reason_codes == () and other.reason_codes == ("credit_limit",)
    alone, = MessageProcessor(master, today=TODAY).validate(MessageKind.ORDER, ((second, match),), message.body, message)
    assert alone.reason_codes == ()
