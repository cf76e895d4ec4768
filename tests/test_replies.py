"""Composing customer email (bot/replies.py) with the bundled templates.

Golden files in ``tests/golden/replies/`` hold the expected headers and body
of acknowledgements and clarification requests in several languages; the
other tests cover who gets a reply (Reply-To, auto-replies, bulk mail), the
language choice, threading, and templates that must stop the bot at start.
Set ``ORDERBOT_WRITE_GOLDEN=1`` to rewrite the golden files after a deliberate
template change, and read the diff.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.model import Field, Message, MessageStatus, Order, OrderLine, OrderState, RawMessage, Reason, ReasonCode
from bot.pipeline import Pipeline
from bot.replies import DEFAULT_TEMPLATES, Reply, ReplyWriter, Suppressed, Templates
from bot.store import Entity, MailKind, MailStatus, Store, StoredOrder
from connectors.outbox import OutboxMailer
from extractors.mime import parse_message

GOLDEN = Path(__file__).parent / "golden" / "replies"
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
SENDER = "Kestrel Supply order desk <orders@kestrel-supply.example>"
LANGUAGES = {"en", "de", "fr", "es", "it", "nl", "zh"}


def customer_mail(
    body: str,
    *,
    sender: str = "Jana Becker <jana.becker@nordwind.de>",
    subject: str = "Order 4500012345",
    message_id: str | None = "<po-4711@nordwind.de>",
    headers: dict[str, str] | None = None,
) -> Message:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return parse_message(RawMessage(message.as_bytes(), origin="test", name="test.eml"))


def stored(order: Order, *, number: str | None = "SO-000042", state: OrderState = OrderState.KEYED) -> StoredOrder:
    return StoredOrder(
        id=7, ledger_id=3, source=order.source, customer_id=order.customer_id.value, po_number=order.po_number.value,
        state=state, urgent=False, priority=0, order=order, portal_order_number=number,
        created_at=NOW, updated_at=NOW, version=1,
    )  # fmt: skip


def order(customer_id: str = "C1001", po: str | None = "4500012345", reasons: tuple[Reason, ...] = ()) -> Order:
    return Order(
        source="body",
        customer_id=Field.known(customer_id),
        po_number=Field(po, 0.99) if po else Field(),
        delivery_date=Field(date(2026, 12, 14), 0.9),
        lines=(
            OrderLine(sku=Field.known("AX-1523"), quantity=Field(Decimal("4"), 0.95), uom=Field("EA", 0.9),
                      description=Field("Hand dispenser for stretch film", 0.9), text="4 pcs AX-1523 Hand dispenser"),
            OrderLine(sku=Field.known("AX-2040"), customer_sku=Field("NW-33933", 0.9), quantity=Field(Decimal("2.5"), 0.9),
                      uom=Field("CS", 0.9), description=Field("Stretch film 500mm", 0.9)),
        ),
        reasons=reasons,
    )  # fmt: skip


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


@pytest.fixture
def writer(templates, master) -> ReplyWriter:
    return ReplyWriter(templates, sender=SENDER, master=master, clock=lambda: NOW)


def rendered(reply: Reply) -> str:
    """The stable headers and the decoded body, as the golden files hold them."""
    message = email.message_from_bytes(reply.data, policy=email.policy.default)
    names = ("From", "To", "Subject", "In-Reply-To", "References", "Auto-Submitted", "X-Auto-Response-Suppress", "Content-Language", "Date")
    head = "".join(f"{name}: {message[name]}\n" for name in names if message[name] is not None)
    return head + "\n" + message.get_content().replace("\r\n", "\n")


def check_golden(name: str, reply: Reply) -> None:
    path = GOLDEN / name
    text = rendered(reply)
    if os.environ.get("ORDERBOT_WRITE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


CLARIFY = (
    Reason(ReasonCode.MISSING_FIELD, "ship_to is not stated", field="ship_to"),
    Reason(ReasonCode.AMBIGUOUS_QUANTITY, "line 1: quantity 'a few' is not a number", field="lines[1].quantity", found="a few"),
    Reason(ReasonCode.PRICE_MISMATCH, "line 2 differs", field="lines[2].unit_price", expected="12.9", found="15.00"),
    Reason(ReasonCode.CREDIT_LIMIT, "over the limit", field="customer_id", expected="<= 250000", found="301000.00"),
)


# --- golden files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "customer", "sender", "body"),
    [
        # English text from a German customer: the language written in wins.
        ("acknowledgement.en.txt", "C1001", "Jana Becker <jana.becker@nordwind.de>", "Hello, please deliver the following to our warehouse. Regards"),
        ("acknowledgement.de.txt", "C1001", "Jana Becker <jana.becker@nordwind.de>", "Hallo, bitte liefern Sie uns die folgenden Artikel. Vielen Dank und Grüße"),
        ("acknowledgement.zh.txt", "C1018", "王磊 <wang.lei@huaxin-sh.com.cn>", "您好，请按以下清单发货，谢谢。交货地址：上海市浦东新区张江路88号"),
    ],
)
def test_acknowledgement_golden(writer, name, customer, sender, body):
    """
    Given a keyed order and the customer's message in a language
    When its acknowledgement is composed
    Then headers and body are those of the golden file: threaded to the
         customer's message, Auto-Submitted, Re: subject, to the sender, with
         the portal's order number and the lines as keyed
    """
    original = customer_mail(body, sender=sender, headers={"References": "<earlier@nordwind.de>"})
    reply = writer.acknowledgement(stored(order(customer)), original)
    assert isinstance(reply, Reply)
    check_golden(name, reply)
    message = email.message_from_bytes(reply.data, policy=email.policy.default)
    assert message["In-Reply-To"] == "<po-4711@nordwind.de>"
    assert message["References"] == "<earlier@nordwind.de> <po-4711@nordwind.de>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Subject"] == "Re: Order 4500012345"
    assert message["To"] == original.sender == reply.recipient
    assert message["Message-ID"] == reply.message_id and reply.message_id.endswith("@kestrel-supply.example>")
    assert "SO-000042" in message.get_content()


@pytest.mark.parametrize(
    ("name", "customer", "sender", "body"),
    [
        ("clarification.en.txt", "C1012", "Tom Walsh <tom.walsh@pennine-eng.co.uk>", "Please send us the items below. Thanks and regards"),
        ("clarification.fr.txt", "C1006", "Claire Martin <c.martin@lumiere-industrie.fr>", "Bonjour, merci de nous livrer la commande ci-dessous. Cordialement"),
        # Nothing in the text says which language: the customer's country (ES) decides.
        ("clarification.es.txt", "C1022", "<compras@ibarra-construcciones.es>", "PO 4500012345 - AX-1523 x 4"),
    ],
)
def test_clarification_golden(writer, name, customer, sender, body):
    """
    Given an order in review with a missing ship-to, an unclear quantity, a
    price mismatch and a credit-limit reason
    When a clarification request is composed
    Then it asks field by field with the evidence (golden file), in the
         customer's language, and never mentions the credit limit
    """
    original = customer_mail(body, sender=sender)
    reply = writer.clarification(stored(order(customer, reasons=CLARIFY), number=None, state=OrderState.NEEDS_REVIEW), original)
    assert isinstance(reply, Reply) and reply.kind is MailKind.CLARIFICATION
    check_golden(name, reply)
    text = email.message_from_bytes(reply.data, policy=email.policy.default).get_content()
    assert "301000" not in text and "250000" not in text
    assert "a few" in text and "15.00" in text and "12.9" in text


# --- who gets a reply -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "sender", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "Auto-Submitted"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y.z"}, None, "Auto-Submitted"),
        ({"Precedence": "bulk"}, None, "Precedence: bulk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"List-Id": "<buyers.nordwind.de>"}, None, "mailing list"),
        ({"List-Unsubscribe": "<mailto:leave@nordwind.de>"}, None, "mailing list"),
        ({"X-Auto-Response-Suppress": "All"}, None, "X-Auto-Response-Suppress"),
        ({"X-Auto-Response-Suppress": "DR, AutoReply"}, None, "X-Auto-Response-Suppress"),
        ({"Return-Path": "<>"}, None, "null sender"),
        ({}, "MAILER-DAEMON@mx.nordwind.de", "takes no replies"),
        ({}, "noreply@nordwind.de", "takes no replies"),
        ({}, "erp-no-reply@nordwind.de", "takes no replies"),
        ({}, "orders@kestrel-supply.example", "our own address"),
    ],
)
def test_no_reply_to_automatic_bulk_or_unanswerable_mail(writer, headers, sender, why):
    """
    Given a customer's message that is automatic, bulk or list mail, asks for no
    auto-replies, or comes from an address that takes no replies
    When its acknowledgement is composed
    Then it is suppressed with the reason, not composed
    """
    original = customer_mail("Bitte liefern Sie 4 Stück AX-1523.", headers=headers, **({"sender": sender} if sender else {}))
    result = writer.acknowledgement(stored(order()), original)
    assert isinstance(result, Suppressed) and why in result.reason


def test_ordinary_mail_marked_auto_submitted_no_gets_a_reply(writer):
    original = customer_mail("Please deliver.", headers={"Auto-Submitted": "no", "X-Auto-Response-Suppress": "OOF"})
    assert isinstance(writer.acknowledgement(stored(order()), original), Reply)


def test_an_order_that_did_not_come_by_email_gets_no_reply(writer):
    result = writer.acknowledgement(stored(order()), None)
    assert isinstance(result, Suppressed) and "not come by email" in result.reason


def test_reply_to_is_followed_only_within_the_senders_domain(writer):
    """
    Given one message whose Reply-To is a colleague at the customer, and one
    whose Reply-To is a foreign domain (a business-email-compromise pattern)
    When acknowledgements are composed
    Then the first goes to the colleague; the second goes to From, with a note
         naming the ignored Reply-To
    """
    colleague = customer_mail("Please deliver.", headers={"Reply-To": "Einkauf <einkauf@nordwind.de>"})
    foreign = customer_mail("Please deliver.", headers={"Reply-To": "jana.becker@nordwind-de.com"})
    to_colleague = writer.acknowledgement(stored(order()), colleague)
    to_sender = writer.acknowledgement(stored(order()), foreign)
    assert to_colleague.recipient == "einkauf@nordwind.de" and to_colleague.note is None
    assert to_sender.recipient == "jana.becker@nordwind.de"
    assert "jana.becker@nordwind-de.com" in to_sender.note
    assert b"nordwind-de.com" not in to_sender.data


def test_subject_and_threading_edge_cases(writer):
    """
    Given a message already titled 'RE: ...', one without subject, and one
    without Message-ID
    When replies are composed
    Then Re: is not doubled, the template's subject stands in, and a made-up
         Message-ID is never referenced
    """
    already = writer.acknowledgement(stored(order()), customer_mail("Please deliver.", subject="RE: PO 4500012345"))
    empty = writer.acknowledgement(stored(order()), customer_mail("Please deliver.", subject=""))
    no_id = writer.acknowledgement(stored(order()), customer_mail("Please deliver.", message_id=None))
    assert already.subject == "RE: PO 4500012345"
    assert empty.subject == "Re: Order confirmation SO-000042 for your PO 4500012345"
    message = email.message_from_bytes(no_id.data, policy=email.policy.default)
    assert message["In-Reply-To"] is None and message["References"] is None


@pytest.mark.parametrize(
    ("customer", "body", "language"),
    [
        ("C1001", "Bitte liefern Sie uns folgende Artikel, vielen Dank.", "de"),
        ("C1001", "AX-1523 4", "de"),  # no clear language: the country (DE)
        ("C1009", "AX-1523 4", "nl"),
        ("C1020", "AX-1523 4", "it"),
        ("C1012", "AX-1523 4", "en"),
        ("C9999", "AX-1523 4", "en"),  # unknown customer, no clear language: English
        ("C1018", "Please deliver the following, thank you and regards.", "en"),
    ],
)
def test_language_is_the_one_written_then_the_countrys_then_english(writer, customer, body, language):
    reply = writer.acknowledgement(stored(order(customer)), customer_mail(body))
    assert reply.language == language


def test_a_language_without_template_falls_back_to_english(tmp_path, master):
    folder = tmp_path / "templates"
    folder.mkdir()
    for name in ("acknowledgement.en.txt", "clarification.en.txt"):
        shutil.copy(DEFAULT_TEMPLATES / name, folder / name)
    writer = ReplyWriter(Templates.load(folder), sender=SENDER, master=master)
    reply = writer.acknowledgement(stored(order()), customer_mail("Bitte liefern Sie uns folgende Artikel, vielen Dank."))
    assert reply.language == "en"


def test_clarification_never_asks_internal_questions(writer):
    only_internal = order(reasons=(Reason(ReasonCode.CREDIT_HOLD, "on hold", field="customer_id"),))
    with pytest.raises(ValueError, match="nothing to ask"):
        writer.clarification(stored(only_internal, state=OrderState.NEEDS_REVIEW), customer_mail("x"))
    with pytest.raises(ValueError, match="credit_hold"):
        writer.clarification(stored(order(), state=OrderState.NEEDS_REVIEW), customer_mail("x"), only_internal.reasons)


# --- templates -------------------------------------------------------------------------


def test_bundled_templates_cover_both_kinds_in_seven_languages(templates):
    for kind in MailKind:
        assert templates.languages(kind) >= LANGUAGES


def _templates_with(tmp_path: Path, name: str, text: str | None) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES, folder)
    if text is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("acknowledgement.de.txt", "Subject: Bestellung {{ po_number }}\n\nHallo {{ contact }},\n", "'contact' is undefined"),
        ("clarification.fr.txt", "Subject: x\n\n{% for issue in issues %}{{ issue.severity }}{% endfor %}\n", "severity"),
        ("acknowledgement.it.txt", "Subject: x\n\n{% if po_number %}\n", "line 3"),
        ("acknowledgement.nl.txt", "Bestelling {{ order_number }}\n", "Subject"),
        ("acknowledgment.de.txt", "Subject: x\n\ny\n", "not a reply template name"),
        ("clarification.en.txt", None, "English template"),
    ],
    ids=["undefined-variable", "undefined-attribute", "syntax-error", "no-subject", "misspelt-kind", "no-english"],
)
def test_a_bad_template_stops_the_bot_at_start_naming_the_file(tmp_path, name, text, problem):
    """
    Given a templates folder with one broken template
    When the templates are loaded (at start, before any customer is written to)
    Then a ConfigError names the file and the problem
    """
    folder = _templates_with(tmp_path, name, text)
    with pytest.raises(ConfigError) as error:
        Templates.load(folder)
    message = str(error.value)
    assert problem in message
    assert (name if text is not None else str(folder)) in message


def test_a_bad_sender_is_a_config_error(templates):
    with pytest.raises(ConfigError, match="outbox.sender"):
        ReplyWriter(templates, sender="order desk")


# --- through the pipeline, on the outbox -----------------------------------------------------


def test_a_suppressed_acknowledgement_is_recorded_and_the_order_acknowledged(tmp_path, master):
    """
    Given a keyed order whose message is an auto-reply, and one ordinary
    When the acknowledge stage runs on the outbox folder
    Then only the ordinary one is written; both orders are acknowledged, the
         suppressed one with the reason in its mail and its events
    """
    from bot.identity import identify

    outbox = tmp_path / "outbox"
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        ids = []
        for po, headers in (("PO-S1", {"Auto-Submitted": "auto-generated"}), ("PO-S2", {})):
            message = EmailMessage()
            message["From"] = "Jana Becker <jana.becker@nordwind.de>"
            message["Subject"] = f"Order {po}"
            message["Message-ID"] = f"<{po}@nordwind.de>"
            for key, value in headers.items():
                message[key] = value
            message.set_content("Please deliver 4 pcs AX-1523.")
            data = message.as_bytes()
            identity = identify(data)
            entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="t", name=po)
            (row,) = store.save_outcome(entry.id, [(order(po=po), OrderState.READY, None)], MessageStatus.PROCESSED)
            store.transition(row.id, OrderState.KEYING, actor="bot")
            store.transition(row.id, OrderState.KEYED, actor="bot", portal_order_number=f"SO-{po}")
            ids.append(row.id)
        pipeline = Pipeline(store=store, master=master, sources=[], today=date(2026, 11, 26), mailer=OutboxMailer(outbox), ack_sender=SENDER)
        summary = pipeline.acknowledge()

        assert summary.acknowledged == 2
        assert {store.get_order(i).state for i in ids} == {OrderState.ACKNOWLEDGED}
        suppressed = store.outgoing_mail_for(ids[0], MailKind.ACKNOWLEDGEMENT)
        assert suppressed.status is MailStatus.SUPPRESSED and "Auto-Submitted: auto-generated" in suppressed.note
        assert any("not sent" in (e.reason or "") for e in store.events(Entity.ORDER, ids[0]))
        (written,) = outbox.glob("*.eml")
        assert b"In-Reply-To: <PO-S2@nordwind.de>" in written.read_bytes()
