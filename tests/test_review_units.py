"""The review workbench's parts without a browser: sanitiser, sessions, locks,
audit, corrections and the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.model import Field, MessageStatus, Order, OrderLine, OrderState, Provenance
from bot.review.audit import Audit
from bot.review.auth import AccountError, Accounts
from bot.review.corrections import Corrections, EditError, apply_edits
from bot.review.locks import Locks
from bot.review.render import sanitize_html
from bot.review.store import ReviewDb
from bot.store import Store

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>@import 'http://evil.example/x.css';</style>",
    '<img src="http://evil.example/pixel.gif">',
    '<form action="http://evil.example"><input name=a></form>',
    '<meta http-equiv="refresh" content="0;url=http://evil.example">',
    '<base href="http://evil.example/">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "<<script>script>alert(1)<</script>/script>",
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock):
    """The workbench's tables on both databases the store supports."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        with Store.open(url, clock=clock) as opened:
            yield opened
        return
    from tests.test_store_contract import _fresh_postgres_database

    for url in _fresh_postgres_database():
        with Store.open(url, clock=clock) as opened:
            yield opened


@pytest.fixture
def db(store: Store, clock: Clock) -> ReviewDb:
    return ReviewDb.for_store(store, clock)


def stored_order(store: Store) -> int:
    entry = store.record_message(message_id="<m@x>", sha256=__import__("hashlib").sha256(b"m").hexdigest(), dedup_key="m", raw=b"m", origin="t", name="m.eml")
    order = Order(
        source="attachment:PO.pdf",
        customer_id=Field("C1001", 1.0),
        po_number=Field("4500001", 0.99, Provenance("attachment:PO.pdf", 1, (10, 20, 60, 30))),
        lines=(OrderLine(sku=Field("AX-1410", 0.9), quantity=Field(Decimal(5), 0.6, Provenance("attachment:PO.pdf", 1, (300, 200, 310, 210), rule="pdf:ruled:Qty"))),),
    )
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.NEEDS_REVIEW, None)], MessageStatus.NEEDS_REVIEW)
    return stored.id


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_sanitiser_leaves_nothing_that_runs_or_calls_out(payload: str):
    """Given a script payload, when sanitised, then no script, handler, javascript: URL, style or remote resource is left."""
    clean = sanitize_html(f"<p>before</p>{payload}<p>after</p>").lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<style", "<iframe", "<object", "<form", "<meta", "<base", "<svg", "evil.example/pixel", "@import", "style="):
        assert bad not in clean, (payload, clean)
    assert "before" in clean  # (a payload may swallow what follows it, never what precedes)


def test_sanitiser_keeps_formatting_and_inline_images():
    html = '<table><tr><td colspan="2"><b>Qty</b></td></tr></table><img src="data:image/png;base64,iVBORw0KGgo=">'
    clean = sanitize_html(html)
    assert "<b>Qty</b>" in clean and 'colspan="2"' in clean and "data:image/png" in clean


def test_a_session_ends_when_idle_or_logged_out(db: ReviewDb, clock: Clock):
    """Given a session, when it is unused longer than the idle time, or logged out, then its token opens nothing."""
    accounts = Accounts(db, idle=timedelta(minutes=30))
    user = accounts.add_user("hana", "handler", "a long password")
    assert accounts.authenticate("hana", "wrong password") is None
    assert accounts.authenticate("nobody", "a long password") is None
    token, _ = accounts.start_session(accounts.authenticate("hana", "a long password") or user)
    clock.now += timedelta(minutes=29)
    assert accounts.session(token) is not None  # used: the idle clock starts again
    clock.now += timedelta(minutes=29)
    assert accounts.session(token) is not None
    clock.now += timedelta(minutes=31)
    assert accounts.session(token) is None
    token, _ = accounts.start_session(user)
    accounts.end_session(token)
    assert accounts.session(token) is None
    with pytest.raises(AccountError):
        accounts.add_user("hana", "handler", "another long one")
    with pytest.raises(AccountError):
        accounts.add_user("short", "handler", "short")


def test_a_removed_account_and_its_sessions_open_nothing(db: ReviewDb, clock: Clock):
    accounts = Accounts(db, idle=timedelta(minutes=30))
    user = accounts.add_user("demo", "handler", "a long password")
    other = accounts.add_user("hana", "handler", "a long password")
    token, _ = accounts.start_session(user)
    kept, _ = accounts.start_session(other)
    assert accounts.remove_user("demo") and not accounts.remove_user("demo")
    assert accounts.session(token) is None and accounts.authenticate("demo", "a long password") is None
    assert accounts.session(kept) is not None
    accounts.add_user("demo", "handler", "another long password")  # the name is free again


def test_the_password_is_stored_as_an_argon2_hash(db: ReviewDb, store: Store):
    Accounts(db, idle=timedelta(minutes=5)).add_user("hana", "supervisor", "a long password")
    with db.reading() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM review_users")).scalar_one()
    assert stored.startswith("$argon2id$") and "a long password" not in stored


def test_a_lock_is_one_handlers_until_it_expires(db: ReviewDb, store: Store, clock: Clock):
    order_id = stored_order(store)
    locks = Locks(db, ttl=timedelta(minutes=15))
    assert locks.acquire(order_id, "hana").holder == "hana"
    assert locks.acquire(order_id, "ole").holder == "hana"
    clock.now += timedelta(minutes=10)
    assert locks.acquire(order_id, "hana").holder == "hana"  # renewed
    clock.now += timedelta(minutes=10)
    assert locks.acquire(order_id, "ole").holder == "hana"
    clock.now += timedelta(minutes=6)
    assert locks.current(order_id) is None
    assert locks.acquire(order_id, "ole").holder == "ole"
    assert locks.acquire(order_id, "sue", force=True).holder == "sue"


def test_the_audit_is_append_only(db: ReviewDb, store: Store):
    Audit(db).record("hana", "view", None)
    with pytest.raises(sa.exc.IntegrityError), db.writing() as conn:
        conn.execute(sa.text("UPDATE audit SET \"user\" = 'mallory'"))
    with pytest.raises(sa.exc.IntegrityError), db.writing() as conn:
        conn.execute(sa.text("DELETE FROM audit"))
    assert [e.user for e in Audit(db).entries()] == ["hana"]


def test_edits_become_corrections_with_the_provenance_of_the_wrong_value(db: ReviewDb, store: Store, master):
    order_id = stored_order(store)
    stored = store.get_order(order_id)
    with pytest.raises(EditError):
        apply_edits(stored.order, {"line-0-quantity": "five"}, user="hana", master=master)
    with pytest.raises(EditError):
        apply_edits(stored.order, {"line-0-sku": "NO-SUCH"}, user="hana", master=master)
    order, changes = apply_edits(stored.order, {"line-0-quantity": "6", "po_number": "4500001", "line-0-sku": "ax-1410"}, user="hana", master=master)
    assert [c.field for c in changes] == ["lines[0].quantity"]
    assert order.lines[0].quantity == Field(Decimal(6), 1.0, Provenance("review", rule="handler:hana"))
    Corrections(db).record("hana", stored, changes)
    (example,) = Corrections(db).all()
    assert (example.document, example.field, example.wrong, example.right) == ("PO.pdf", "lines[0].quantity", "5", "6")
    assert example.provenance == {"source": "attachment:PO.pdf", "page": 1, "bbox": [300, 200, 310, 210], "span": None, "rule": "pdf:ruled:Qty"}


def test_a_handler_adds_a_line_the_bot_missed_and_removes_one_that_was_no_order_line(db: ReviewDb, store: Store, master):
    stored = store.get_order(stored_order(store))
    ax = master.product("AX-1523")
    order, changes = apply_edits(stored.order, {"line-0-remove": "on", "line-new-sku": "ax-1523", "line-new-quantity": "12"},
                                 user="hana", master=master)
    (line,) = order.lines
    by_hand = Provenance("review", rule="handler:hana")
    assert (line.sku, line.quantity, line.uom) == (Field("AX-1523", 1.0, by_hand), Field(Decimal(12), 1.0, by_hand),
                                                   Field(ax.uom, 1.0, by_hand))
    assert not line.unit_price.present and line.description.value == ax.description
    assert [c.field for c in changes] == ["lines[0]", "lines[1].sku", "lines[1].quantity", "lines[1].uom"]
    Corrections(db).record("hana", stored, changes)
    removed = Corrections(db).all()[0]
    assert (removed.field, removed.wrong, removed.right) == ("lines[0]", "AX-1410", None)
    assert apply_edits(stored.order, {"line-new-sku": " ", "line-new-quantity": ""}, user="hana", master=master)[1] == []
    for form, problem in (({"line-new-sku": "AX-1523"}, "a sku and a quantity"),
                          ({"line-new-quantity": "3"}, "a sku and a quantity"),
                          ({"line-new-sku": "NO-SUCH", "line-new-quantity": "3"}, "'NO-SUCH' is not one of our products"),
                          ({"line-new-sku": "AX-1523", "line-new-quantity": "0"}, "above 0")):
        with pytest.raises(EditError, match=problem):
            apply_edits(stored.order, form, user="hana", master=master)


def test_the_command_line_adds_users_and_exports_corrections(tmp_path: Path, monkeypatch, master):
    """Given a config file, when a user is added with the password in the environment and
    corrections are exported, then the password is never printed and the export is JSON Lines."""
    config = tmp_path / "orderbot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nmaster_data:\n  path: {Path(__file__).resolve().parents[1] / 'demo' / 'masterdata'}\n")
    runner = CliRunner()
    monkeypatch.setenv("ORDERBOT_NEW_PASSWORD", "secret-canary-1234")
    result = runner.invoke(app, ["users", "add", "hana", "--role", "supervisor", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "secret-canary-1234" not in result.output
    assert runner.invoke(app, ["users", "add", "hana", "--config", str(config)]).exit_code == 2
    assert runner.invoke(app, ["users", "add", "x", "--role", "boss", "--config", str(config)]).exit_code == 2
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
        order_id = stored_order(store)
        stored = store.get_order(order_id)
        _, changes = apply_edits(stored.order, {"line-0-quantity": "7"}, user="hana", master=master)
        Corrections(ReviewDb.for_store(store)).record("hana", stored, changes)
    out = tmp_path / "corrections.jsonl"
    result = runner.invoke(app, ["corrections", "export", "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["right"] == "7"
    assert runner.invoke(app, ["review", "serve", "--help"]).exit_code == 0


def test_a_failed_message_from_an_unknown_sender_goes_to_review_without_a_customer(db: ReviewDb, store: Store, master):
    """Bytes that are no email (no From) become an order with no customer to fill in;
    a message that is not failed, or not there, is refused and nothing is stored."""
    import hashlib

    from bot.model import ReasonCode
    from bot.review.actions import Refused, Workbench
    from bot.review.auth import User

    raw = b"\x00\x01 not an email at all \xff"
    entry = store.record_message(message_id="<x@x>", sha256=hashlib.sha256(raw).hexdigest(), dedup_key="x", raw=raw,
                                 origin="folder:x", name="junk.eml")
    bench = Workbench(store, master, Locks(db, ttl=timedelta(minutes=15)), Audit(db), Corrections(db))
    hana = User(1, "hana", "handler", False)
    with pytest.raises(Refused, match="message 1 is received"):
        bench.review_message(hana, entry.id)
    store.set_message_status(entry.id, MessageStatus.FAILED, reason="junk.eml: not an email (no headers)")
    stored = bench.review_message(hana, entry.id)
    assert not stored.order.customer_id.present and stored.state is OrderState.NEEDS_REVIEW
    assert [r.code for r in stored.order.reasons] == [ReasonCode.UNREADABLE_DOCUMENT]
    assert "junk.eml: not an email" in stored.order.reasons[0].message
    with pytest.raises(Refused) as missing:
        bench.review_message(hana, entry.id + 100)
    assert missing.value.status == 404 and len(store.orders()) == 1


def test_the_unreadable_list_shows_the_newest_hundred_and_counts_them_all(store: Store, monkeypatch):
    import hashlib

    import bot.review.queries
    from bot.review.queries import unreadable_messages

    monkeypatch.setattr(bot.review.queries, "SHOWN", 3)
    for n in range(5):
        raw = f"junk {n}".encode()
        entry = store.record_message(message_id=f"<{n}@x>", sha256=hashlib.sha256(raw).hexdigest(), dedup_key=f"j{n}",
                                     raw=raw, origin="folder:x", name=f"junk-{n}.eml")
        store.set_message_status(entry.id, MessageStatus.FAILED, reason="not an email")
    shown, total = unreadable_messages(store)
    assert [m.name for m in shown] == ["junk-4.eml", "junk-3.eml", "junk-2.eml"] and total == 5


def test_settling_a_mail_needs_a_known_way_a_reason_and_a_mail_that_waits_for_a_person(db: ReviewDb, store: Store, master):
    from bot.errors import InvalidTransition
    from bot.review.actions import Refused, Workbench
    from bot.review.auth import User
    from bot.store import MailKind, MailStatus
    from tests.test_smtp import keyed_order

    order_id = keyed_order(store, "4500063")
    mail, _ = store.queue_mail(order_id, MailKind.ACKNOWLEDGEMENT, sender="orders@kestrel-supply.example",
                               recipient="jana.becker@nordwind.de", raw=b"Subject: x\r\n\r\nx\r\n")
    bench = Workbench(store, master, Locks(db, ttl=timedelta(minutes=15)), Audit(db), Corrections(db))
    hana = User(1, "hana", "handler", False)
    with pytest.raises(InvalidTransition):  # queued: the bot's to send, not a person's to settle
        bench.settle_mail(hana, mail.id, "sent", "I think so")
    store.claim_mail(mail.id)
    store.finish_mail(mail.id, MailStatus.FAILED, error="550 mailbox unavailable")
    for status, reason, code in (("posted", "by hand", 400), ("queued", "  ", 400)):
        with pytest.raises(Refused) as refused:
            bench.settle_mail(hana, mail.id, status, reason)
        assert refused.value.status == code
    with pytest.raises(Refused) as missing:
        bench.settle_mail(hana, mail.id + 50, "queued", "again")
    assert missing.value.status == 404
    again = bench.settle_mail(hana, mail.id, "queued", "the customer fixed their mailbox")
    assert again.status is MailStatus.QUEUED and again.note == "the customer fixed their mailbox"  # no mail transport here
