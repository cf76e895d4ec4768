"""Customer email over SMTP against real servers on free loopback ports.

aiosmtpd plays the mail server (plain, STARTTLS and implicit TLS with a
self-signed certificate made by the openssl CLI, AUTH PLAIN, XOAUTH2); a tiny
socket server plays the one that takes the message and then never answers.
Nothing in smtplib is mocked. Every test ends with what the server received:
a mail goes out at most once.
"""

from __future__ import annotations

import base64
import email
import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.config import OAuth2Auth, PasswordAuth, SmtpSettings
from bot.errors import ConfigError, DeliveryUncertain, MailRejected
from bot.extraction_json import order_from_json
from bot.identity import identify
from bot.model import MessageStatus, OrderState, Reason, ReasonCode
from bot.outgoing import MailQueue, RetryPolicy
from bot.pipeline import Pipeline
from bot.ports import Envelope
from bot.replies import ReplyWriter, Templates
from bot.store import MAIL_ATTENTION, Entity, MailKind, MailStatus, Store
from connectors.imap_auth import token_provider
from connectors.smtp import SmtpTransport
from tests.test_pipeline import body_order

SENDER = "Order desk <orders@kestrel-supply.example>"
CUSTOMER = "jana.becker@nordwind.de"
CANARY = "canary-SMTP-pass-77"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


# --- servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: bytes | None
    tls: bool


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts. ``rcpt_replies`` and
    ``data_replies`` script answers other than 250, one per attempt."""

    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    data_attempts: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # XOAUTH2 user -> token

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, getattr(session.auth_data, "login", None), _over_tls(server, session))
        )
        return "250 2.0.0 queued as 4711"

    async def auth_XOAUTH2(self, server, args):  # noqa: ANN001 - aiosmtpd's hook for AUTH XOAUTH2
        fields = dict(part.split("=", 1) for part in base64.b64decode(args[1]).decode().split("\x01") if "=" in part)
        user, bearer = fields.get("user"), fields.get("auth", "").removeprefix("Bearer ")
        ok = self.tokens.get(user) == bearer
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user.encode(), b"") if ok else None)


def _over_tls(server, session) -> bool:  # noqa: ANN001
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


def password_check(logins: dict[str, str]):
    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = isinstance(auth_data, LoginPassword) and logins.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticator


@contextmanager
def smtp_server(handler: Recorder, **kwargs: object) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class SilentAfterData:
    """Speaks just enough SMTP to take one message, then, instead of the final
    reply, closes the connection (``hang=False``) or stays silent (``hang=True``)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.messages: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SilentAfterData:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        self._listener.settimeout(0.1)  # so that __exit__ is seen promptly
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            with conn:
                self._session(conn)
                conn.shutdown(socket.SHUT_RDWR)  # a drop, even with the makefile() reader still open

    def _session(self, conn: socket.socket) -> None:
        stream = conn.makefile("rb")
        conn.sendall(b"220 silent.test ESMTP\r\n")
        for line in stream:
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-silent.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                for content in stream:
                    if content == b".\r\n":
                        break
                    data += content
                self.messages.append(data)
                if self.hang:
                    self._stop.wait(10)
                return  # the connection closes without the final reply
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 OK\r\n")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_tls(certificate: tuple[Path, Path]):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


# --- store, orders, queue ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}", clock=clock) as opened:
        yield opened


def keyed_order(store: Store, po: str, *, raw: bytes | None = None) -> int:
    """A keyed order of customer C1001 whose email came from Jana Becker."""
    data = raw or body_order(po)
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="test", name=f"{po}.eml")
    order = order_from_json(
        {"source": "body", "customer_id": "C1001", "po_number": po, "delivery_date": "2026-12-14",
         "lines": [{"sku": "AX-1523", "quantity": "4", "uom": "EA"}]}
    )  # fmt: skip
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED)
    store.transition(stored.id, OrderState.KEYING, actor="bot")
    store.transition(stored.id, OrderState.KEYED, actor="bot", portal_order_number=f"SO-{po}")
    return stored.id


def plain(port: int, **kwargs: object) -> SmtpSettings:
    return SmtpSettings(**{"host": "127.0.0.1", "port": port, "security": "plain", "timeout": 5, **kwargs})


def mail_queue(store: Store, master, transport, **kwargs: object) -> MailQueue:  # noqa: ANN001
    writer = ReplyWriter(Templates.load(), sender=SENDER, master=master)
    return MailQueue(store, transport, writer, **kwargs)


def order_events(store: Store, order_id: int) -> list[str]:
    return [e.reason or "" for e in store.events(Entity.ORDER, order_id)]


# --- delivery ------------------------------------------------------------------------


def test_an_acknowledgement_is_delivered_once(store, master):
    """
    Given a keyed order and an SMTP server
    When its acknowledgement is queued twice and delivery runs twice
    Then the server got exactly one message, byte for byte the one recorded,
         from our address to the customer, and the mail is sent
    """
    order_id = keyed_order(store, "4500001")
    handler = Recorder()
    with smtp_server(handler) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port)))
        mail = queue.queue_acknowledgement(order_id)
        assert queue.queue_acknowledgement(order_id) == mail
        first = queue.deliver()
        second = queue.deliver()

    assert [m.id for m in first.sent] == [mail.id] and second.sent == [] and first.errors == []
    (got,) = handler.received
    assert got.mail_from == "orders@kestrel-supply.example" and got.rcpt_tos == [CUSTOMER]
    assert got.data == mail.raw
    sent = store.outgoing_mail(mail.id)
    assert sent.status is MailStatus.SENT and sent.attempts == 1 and sent.sent_at == T0
    message = email.message_from_bytes(got.data)
    assert message["Message-ID"] == mail.message_id and message["Auto-Submitted"] == "auto-replied"
    assert "SO-4500001" in message.get_payload(decode=True).decode()


def test_a_deferred_mail_is_retried_later_and_sent_once(store, master, clock):
    """
    Given a server that answers the first RCPT with 451 (greylisting) and then 250
    When delivery runs, runs again at once, and runs after the backoff
    Then the first run defers it with the reply, the second sends nothing, the
         third sends it: one message received, two attempts counted
    """
    order_id = keyed_order(store, "4500002")
    handler = Recorder(rcpt_replies=["451 4.7.1 Greylisted, try again later"])
    with smtp_server(handler) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port)), retry=RetryPolicy(first_delay_seconds=300))
        mail = queue.queue_acknowledgement(order_id)
        first = queue.deliver()
        deferred = store.outgoing_mail(mail.id)
        assert deferred.status is MailStatus.QUEUED and deferred.attempts == 1
        assert "451 4.7.1 Greylisted" in deferred.last_error and deferred.next_attempt_at == T0 + timedelta(seconds=300)
        assert queue.deliver().sent == []
        clock.now += timedelta(seconds=300)
        third = queue.deliver()

    assert [m.id for m in first.deferred] == [mail.id] and [m.id for m in third.sent] == [mail.id]
    assert len(handler.received) == 1 and handler.data_attempts == 1
    assert store.outgoing_mail(mail.id).attempts == 2
    assert any("deferred" in e and "451" in e for e in order_events(store, order_id))


def test_a_rejected_mail_fails_with_the_reply_and_is_not_retried(store, master, clock):
    """
    Given a server that answers the message with 550
    When delivery runs, and runs again much later
    Then the mail is failed with the server's reply, listed for a person, and
         the server saw a single attempt
    """
    order_id = keyed_order(store, "4500003")
    handler = Recorder(data_replies=["550 5.7.1 Message refused by policy"])
    with smtp_server(handler) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port)))
        mail = queue.queue_acknowledgement(order_id)
        report = queue.deliver()
        clock.now += timedelta(days=1)
        queue.deliver()

    failed = store.outgoing_mail(mail.id)
    assert failed.status is MailStatus.FAILED and "550 5.7.1 Message refused by policy" in failed.last_error
    assert handler.data_attempts == 1 and handler.received == []
    assert [m.id for m in store.outgoing_mails(MAIL_ATTENTION)] == [mail.id]
    assert any("a person must look" in e for e in report.errors)


@pytest.mark.parametrize("hang", [False, True], ids=["connection-dropped", "no-answer-timeout"])
def test_no_answer_after_the_message_is_uncertain_and_never_sent_again(store, master, clock, hang):
    """
    Given a server that takes the message and then drops the connection (or
    stays silent past the timeout) instead of answering
    When delivery runs, and runs again later
    Then the mail is uncertain (the customer may have it), listed for a person,
         and the server received exactly one copy
    """
    order_id = keyed_order(store, "4500004")
    with SilentAfterData(hang=hang) as server:
        queue = mail_queue(store, master, SmtpTransport(plain(server.port, timeout=0.5 if hang else 5)))
        mail = queue.queue_acknowledgement(order_id)
        report = queue.deliver()
        clock.now += timedelta(days=1)
        again = queue.deliver()

    assert [m.id for m in report.uncertain] == [mail.id] and again.sent == again.uncertain == []
    uncertain = store.outgoing_mail(mail.id)
    assert uncertain.status is MailStatus.UNCERTAIN and "may have accepted" in uncertain.last_error
    assert len(server.messages) == 1 and mail.message_id.encode() in server.messages[0]
    assert store.outgoing_mails(MAIL_ATTENTION) == [uncertain]
    assert any("delivery uncertain" in e for e in order_events(store, order_id))


def test_a_mail_left_sending_by_a_crash_becomes_uncertain_unsent(store, master):
    """
    Given a mail a crashed run had marked 'sending'
    When the next run delivers
    Then it is uncertain and the server receives nothing
    """
    order_id = keyed_order(store, "4500005")
    handler = Recorder()
    with smtp_server(handler) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port)))
        mail = queue.queue_acknowledgement(order_id)
        store.claim_mail(mail.id)  # ... and the process died here
        report = queue.deliver()

    assert [m.id for m in report.uncertain] == [mail.id] and report.sent == []
    assert handler.received == [] and handler.data_attempts == 0
    assert store.outgoing_mail(mail.id).status is MailStatus.UNCERTAIN


def test_an_unreachable_server_defers_and_holds_the_rest(store, master):
    """
    Given two queued mails and nothing listening on the server's port
    When delivery runs
    Then the first is deferred with an error naming the server, and the second
         is not tried in this run (attempts 0)
    """
    first, second = keyed_order(store, "4500006"), keyed_order(store, "4500007")
    queue = mail_queue(store, master, SmtpTransport(plain(free_port(), timeout=2)))
    one, two = queue.queue_acknowledgement(first), queue.queue_acknowledgement(second)
    report = queue.deliver()

    assert [m.id for m in report.deferred] == [one.id]
    assert "smtp 127.0.0.1:" in store.outgoing_mail(one.id).last_error
    assert "cannot connect" in store.outgoing_mail(one.id).last_error
    untouched = store.outgoing_mail(two.id)
    assert untouched.status is MailStatus.QUEUED and untouched.attempts == 0


def test_transport_errors_say_what_happened():
    """
    Given servers that refuse at DATA with 554, or go silent after the message
    When the transport sends to them directly
    Then it raises MailRejected with the code, and DeliveryUncertain
    """
    envelope = Envelope("orders@example.com", CUSTOMER, b"Subject: x\r\n\r\n.leading dot\r\n", "<t@example.com>")
    with smtp_server(Recorder(data_replies=["554 5.6.0 Bad content"])) as port, pytest.raises(MailRejected) as rejected:
        SmtpTransport(plain(port)).send(envelope)
    assert rejected.value.code == 554 and "554 5.6.0 Bad content" in str(rejected.value)
    with SilentAfterData() as server, pytest.raises(DeliveryUncertain):
        SmtpTransport(plain(server.port)).send(envelope)
    assert server.messages == [b"Subject: x\r\n\r\n..leading dot\r\n"], "dots are doubled on the wire"


# --- login and TLS ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_plain_over_loopback(store, master):
    """
    Given a server that wants AUTH (allowed without TLS on loopback)
    When a mail is delivered with the configured password
    Then the server saw our login and took the message
    """
    order_id = keyed_order(store, "4500008")
    handler = Recorder()
    auth = PasswordAuth(username="orders", password="s3cret")
    with smtp_server(handler, authenticator=password_check({"orders": "s3cret"}), auth_require_tls=False, auth_required=True) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port, auth=auth)))
        queue.queue_acknowledgement(order_id)
        assert len(queue.deliver().sent) == 1
    (got,) = handler.received
    assert got.login == b"orders"


def test_the_password_never_shows_in_logs_or_errors(store, master, caplog):
    """
    Given the password canary-SMTP-pass-77 and a server that rejects it
    When delivery runs with every log at DEBUG
    Then the mail is held back (queued, attempt not counted), the error says the
         login was refused, and neither the password nor its base64 appears in a
         log record, the error, or the exception chain
    """
    caplog.set_level(logging.DEBUG)
    order_id = keyed_order(store, "4500009")
    auth = PasswordAuth(username="orders", password=CANARY)
    encoded = [base64.b64encode(blob).decode() for blob in (CANARY.encode(), f"\0orders\0{CANARY}".encode())]
    handler = Recorder()
    with smtp_server(handler, authenticator=password_check({"orders": "other"}), auth_require_tls=False) as port:
        transport = SmtpTransport(plain(port, auth=auth))
        queue = mail_queue(store, master, transport)
        mail = queue.queue_acknowledgement(order_id)
        report = queue.deliver()
        with pytest.raises(ConfigError) as direct:
            transport.send(Envelope("orders@example.com", CUSTOMER, mail.raw, mail.message_id))

    held = store.outgoing_mail(mail.id)
    assert held.status is MailStatus.QUEUED and held.attempts == 0 and handler.received == []
    assert any("refused the login of orders" in e for e in report.errors)
    chain, exc = [], direct.value
    while exc is not None:
        chain += [str(exc), repr(exc), repr(getattr(exc, "args", ()))]
        exc = exc.__cause__ or exc.__context__
    texts = [r.getMessage() for r in caplog.records] + report.errors + [held.last_error or ""] + chain + [repr(transport)]
    texts += order_events(store, order_id)
    for secret in (CANARY, *encoded):
        assert not any(secret in text for text in texts), secret


def test_starttls_with_a_private_ca(store, master, certificate):
    """
    Given a server that requires STARTTLS with a self-signed certificate
    When delivering with that certificate as ca_file, and without it
    Then with it the message arrives over TLS; without it the certificate is
         refused as a settings error and nothing is sent
    """
    cert, _ = certificate
    handler = Recorder()
    with smtp_server(handler, tls_context=server_tls(certificate), require_starttls=True) as port:
        SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="starttls", ca_file=cert, timeout=5)).send(
            Envelope("orders@example.com", CUSTOMER, b"Subject: tls\r\n\r\nhello\r\n", "<tls@example.com>")
        )
        with pytest.raises(ConfigError, match="not trusted"):
            SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="starttls", timeout=5)).send(
                Envelope("orders@example.com", CUSTOMER, b"Subject: tls\r\n\r\nagain\r\n", "<tls2@example.com>")
            )
    (got,) = handler.received
    assert got.tls and got.data == b"Subject: tls\r\n\r\nhello\r\n"


def test_implicit_tls_and_xoauth2(store, master, certificate, tmp_path):
    """
    Given a server on implicit TLS that takes XOAUTH2, and a token file
    When a mail is delivered with security 'tls' and OAuth2
    Then the server saw the user with the file's token, over TLS
    """
    cert, _ = certificate
    token_file = tmp_path / "token"
    token_file.write_text("ya29.test-token\n")
    auth = OAuth2Auth(username="orders@kestrel-supply.example", token_file=token_file)
    handler = Recorder(tokens={"orders@kestrel-supply.example": "ya29.test-token"})
    with smtp_server(handler, ssl_context=server_tls(certificate), auth_require_tls=False) as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="tls", ca_file=cert, auth=auth, timeout=5)
        transport = SmtpTransport(settings, tokens=token_provider(auth, account="smtp"))
        transport.send(Envelope("orders@kestrel-supply.example", CUSTOMER, b"Subject: oauth\r\n\r\nhi\r\n", "<o@example.com>"))
    (got,) = handler.received
    assert got.tls and got.login == b"orders@kestrel-supply.example"


class StaleThenFresh:
    """A token provider whose cached token has expired at the server."""

    def __init__(self) -> None:
        self.refreshes = 0

    def token(self, *, refresh: bool = False) -> str:
        self.refreshes += refresh
        return "fresh-token" if refresh else "stale-token"


def test_xoauth2_fetches_a_fresh_token_once_when_the_server_refuses_it():
    """
    Given a cached OAuth2 token the server no longer takes
    When a mail is sent
    Then the transport asks for a fresh token once and the mail goes through
    """
    handler = Recorder(tokens={"orders@kestrel-supply.example": "fresh-token"})
    tokens = StaleThenFresh()
    auth = OAuth2Auth(username="orders@kestrel-supply.example", token_command="unused")
    with smtp_server(handler, auth_require_tls=False) as port:
        SmtpTransport(plain(port, auth=auth), tokens=tokens).send(
            Envelope("orders@kestrel-supply.example", CUSTOMER, b"Subject: t\r\n\r\nhi\r\n", "<x@example.com>")
        )
    assert tokens.refreshes == 1 and len(handler.received) == 1


# --- clarification requests and the pipeline ---------------------------------------------


def test_a_clarification_request_for_an_order_in_review(store, master):
    """
    Given an order in review with a missing PO number, a price mismatch and a
    credit hold
    When the review UI requests a clarification (twice) and delivery runs
    Then one email arrives listing the two questions for the customer with the
         evidence, and nothing about credit; a keyed order cannot get one
    """
    data = body_order("4500010")
    identity = identify(data)
    entry = store.record_message(message_id=identity.message_id, sha256=identity.sha256, dedup_key=identity.dedup_key, raw=data, origin="test", name="q.eml")
    order = order_from_json({"source": "body", "customer_id": "C1001", "lines": [{"sku": "AX-1523", "quantity": "4", "uom": "EA", "unit_price": "21.00", "description": "Hand dispenser"}]})
    order = order.with_reason(Reason(ReasonCode.MISSING_FIELD, "po_number is not stated", field="po_number"))
    order = order.with_reason(Reason(ReasonCode.PRICE_MISMATCH, "line 1: 21.00 differs", field="lines[1].unit_price", expected="18.9", found="21.00"))
    order = order.with_reason(Reason(ReasonCode.CREDIT_HOLD, "Nordwind is on credit hold", field="customer_id"))
    (stored,) = store.save_outcome(entry.id, [(order, OrderState.NEEDS_REVIEW, "review")], MessageStatus.NEEDS_REVIEW)
    handler = Recorder()
    with smtp_server(handler) as port:
        queue = mail_queue(store, master, SmtpTransport(plain(port)))
        mail = queue.request_clarification(stored.id, actor="handler:anna")
        assert queue.request_clarification(stored.id, actor="handler:anna") == mail
        queue.deliver()
        with pytest.raises(ValueError, match="in review"):
            queue.request_clarification(keyed_order(store, "4500011"), actor="handler:anna")
        with pytest.raises(ValueError, match="only a keyed order"):
            queue.queue_acknowledgement(stored.id)

    (got,) = handler.received
    text = email.message_from_bytes(got.data).get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "\n1. We are missing your PO number. Please let us know.\n" in text
    assert '\n2. Line 1 ("Hand dispenser"): the price of 21.00 differs from our price list (18.9). Please confirm the price.\n' in text
    assert "\n3." not in text
    assert "credit" not in text.lower()
    assert store.outgoing_mail(mail.id).kind is MailKind.CLARIFICATION
    (queued,) = [e for e in store.events(Entity.ORDER, stored.id) if "clarification" in (e.reason or "") and "queued" in e.reason]
    assert queued.actor == "handler:anna" and store.get_order(stored.id).state is OrderState.NEEDS_REVIEW


def test_the_pipeline_acknowledges_sent_orders_and_leaves_uncertain_ones_keyed(store, master):
    """
    Given a keyed order and a working server, then another keyed order and a
    server that goes silent after the message
    When the acknowledge stage runs (twice for the second)
    Then the first is acknowledged; the second stays keyed with its uncertain
         acknowledgement in the events and the run's errors, sent once
    """
    good = keyed_order(store, "4500012")
    handler = Recorder()
    with smtp_server(handler) as port:
        pipeline = Pipeline(store=store, master=master, sources=[], today=date(2026, 11, 26), outgoing=mail_queue(store, master, SmtpTransport(plain(port))))
        done = pipeline.acknowledge()
    silent = keyed_order(store, "4500013")
    with SilentAfterData() as server:
        pipeline.outgoing.transport = SmtpTransport(plain(server.port))
        stuck = pipeline.acknowledge()
        again = pipeline.acknowledge()

    assert done.acknowledged == 1 and store.get_order(good).state is OrderState.ACKNOWLEDGED
    assert stuck.acknowledged == 0 and again.acknowledged == 0
    assert store.get_order(silent).state is OrderState.KEYED
    assert any("uncertain" in e for e in stuck.errors)
    assert any("delivery uncertain" in e for e in order_events(store, silent))
    assert len(handler.received) == 1 and len(server.messages) == 1
