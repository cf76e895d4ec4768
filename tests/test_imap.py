"""The IMAP source against a real Dovecot: security, login, reading, settling,
IDLE, and intake faults through the real pipeline.

Every fault test ends with the same check (``assert_exactly_once``): each
message appended ends with exactly one ledger entry, the orders are exactly
those the folder source makes from the same messages, and each message is
settled once, into the folder of its outcome, never marked \\Seen.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import logging
import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bot.config import ImapSourceSettings, OAuth2Auth, PasswordAuth, Settings
from bot.errors import ConfigError, SourceUnavailable
from bot.identity import identify
from bot.model import MessageStatus, RawMessage, ReasonCode
from bot.pipeline import Pipeline, RunSummary
from bot.store import Store
from bot.wiring import build_sources
from connectors.folder import FolderSource
from connectors.imap import ImapSource
from connectors.imap_auth import CachedToken, CommandToken
from tests.dovecot import HOST, Account, Dovecot, free_port, running_dovecot

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 26)
CAP = 25_000_000
STATUS_FOLDER = {
    MessageStatus.PROCESSED: "orderbot/processed",
    MessageStatus.NEEDS_REVIEW: "orderbot/review",
    MessageStatus.FAILED: "orderbot/failed",
}


# --- servers, proxy, messages --------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A Dovecot of the test's own, for tests that restart it."""
    with running_dovecot() as server:
        yield server


@pytest.fixture
def account(dovecot) -> Account:
    return dovecot.new_account()


class Proxy:
    """A TCP proxy to Dovecot, in threads. Counts the bytes the server sends,
    can cut the stream after ``cut_after`` of them (once), and can freeze the
    connections open at that moment (they stay open, nothing passes)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.down = 0  # bytes from the server to the client
        self.cut_after: int | None = None
        self.cuts = 0
        self.accepted = 0
        self._links: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.upstream_port))
            frozen = threading.Event()
            with self.lock:
                self._links.append((client, upstream, frozen))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, False, frozen), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, frozen), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool, frozen: threading.Event) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    return
                while frozen.is_set():
                    time.sleep(0.01)
                if downstream:
                    with self.lock:
                        cut = self.cut_after is not None and self.down + len(data) >= self.cut_after
                        if cut:
                            data = data[: self.cut_after - self.down]
                            self.cut_after = None
                            self.cuts += 1
                        self.down += len(data)
                    if cut:
                        dst.sendall(data)
                        return
                dst.sendall(data)
        except OSError:
            return
        finally:
            _close(src)
            _close(dst)

    def freeze(self) -> None:
        with self.lock:
            for _, _, frozen in self._links:
                frozen.set()

    def close(self) -> None:
        _close(self.listener)
        with self.lock:
            for client, upstream, frozen in self._links:
                frozen.clear()
                _close(client)
                _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def proxy(dovecot) -> Iterator[Proxy]:
    made = Proxy(dovecot.port)
    yield made
    made.close()


def demo_messages() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "demo" / "inbox").glob("*.eml"))]


def mail(subject: str, body: str = "Please call me.", *, extra_headers: str = "", sender: str = "jana.becker@nordwind.de") -> bytes:
    return (
        f"From: Jana Becker <{sender}>\r\nTo: orders@kestrel-supply.example\r\n"
        f"Subject: {subject}\r\nDate: Mon, 16 Nov 2026 09:00:00 +0100\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='nordwind.de')}\r\n{extra_headers}\r\n{body}\r\n"
    ).encode()


def with_attachments(subject: str, attachments: Sequence[tuple[str, str, bytes]], body: str = "Order attached.") -> bytes:
    """A multipart message built by hand (fast for 30 MB): (name, content type, bytes) each."""
    boundary = "=_orderbot_test_boundary"
    parts = [
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n".encode(),
    ]
    for name, content_type, data in attachments:
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        parts.append(
            f"--{boundary}\r\nContent-Type: {content_type}; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
            + encoded
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return mail(subject, "", extra_headers=f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n").rstrip(b"\r\n") + b"\r\n" + b"".join(parts)


def message_id(data: bytes) -> str:
    return identify(data).message_id


# --- the exactly-once check ---------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What intake of some messages must end with: the ledger status per
    Message-ID and the orders (customer, PO, state), as the folder source makes them."""

    statuses: dict[str, MessageStatus]
    orders: list[tuple[str | None, str | None, str]]


def sorted_orders(orders) -> list[tuple[str | None, str | None, str]]:
    return sorted(orders, key=lambda o: tuple(v or "" for v in o))


def orders_of(store: Store) -> list[tuple[str | None, str | None, str]]:
    return sorted_orders((o.customer_id, o.po_number, str(o.state)) for o in store.orders())


@pytest.fixture(scope="module")
def expected_for(master, tmp_path_factory) -> Callable[[Sequence[bytes]], Expected]:
    """The outcome of the same messages through the folder source (cached)."""
    cache: dict[tuple[str, ...], Expected] = {}

    def expected(messages: Sequence[bytes]) -> Expected:
        key = tuple(sorted(identify(m).dedup_key for m in messages))
        if key not in cache:
            where = tmp_path_factory.mktemp("reference")
            inbox = where / "inbox"
            inbox.mkdir()
            for n, data in enumerate(messages):
                (inbox / f"{n:04d}.eml").write_bytes(data)
            with Store.open(f"sqlite:///{where / 'reference.db'}") as store:
                Pipeline(store=store, master=master, sources=[FolderSource("reference", inbox)], today=TODAY).receive()
                cache[key] = Expected({e.message_id: e.status for e in store.messages()}, orders_of(store))
        return cache[key]

    return expected


def assert_exactly_once(
    store: Store,
    server: Dovecot,
    account: Account,
    expected: Expected,
    *,
    read_folders: Sequence[str] = ("INBOX",),
    copies: Mapping[str, int] | None = None,
) -> None:
    """Nothing lost, nothing processed twice. ``copies``: how many copies of a
    Message-ID were delivered, when not one (each copy is settled)."""
    copies = copies or {}
    entries = store.messages()
    assert len(entries) == len(expected.statuses), "one ledger entry per message"
    assert {e.message_id: e.status for e in entries} == expected.statuses
    assert orders_of(store) == expected.orders, "the same orders as the folder source, none twice"
    for folder in read_folders:
        assert server.message_ids(account, folder) == [], f"{folder} still holds unsettled mail"
    for status, folder in STATUS_FOLDER.items():
        found = server.message_ids(account, folder)
        assert not any(b"\\Seen" in flags for _, flags in found), f"a message in {folder} was marked \\Seen"
        want = Counter({mid: copies.get(mid, 1) for mid, s in expected.statuses.items() if s is status})
        assert Counter(mid for mid, _ in found) == want, f"{folder} does not hold exactly the {status} messages"


def pipeline_for(store: Store, master, *sources) -> Pipeline:
    return Pipeline(store=store, master=master, sources=list(sources), today=TODAY, max_message_bytes=CAP)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def imap_source(settings: ImapSourceSettings, store: Store | None = None) -> ImapSource:
    return ImapSource(settings, store=store, max_message_bytes=CAP)


# --- security and login -----------------------------------------------------------------


def test_tls_with_the_servers_ca_file(dovecot, account):
    """Given implicit TLS and the server's CA in ca_file, When reading, Then mail comes over a verified connection."""
    dovecot.append(account, "INBOX", mail("over tls"))
    settings = dovecot.settings(account, port=dovecot.tls_port, security="tls", ca_file=dovecot.ca_file)

    with imap_source(settings) as source:
        assert len(list(source.fetch_new())) == 1
    assert re.search(rf"Login: user=<{account.user}>.*TLS", dovecot.log())


def test_tls_refuses_an_untrusted_certificate(dovecot, account):
    """Given TLS to a self-signed server without its CA, When connecting, Then a ConfigError says to set ca_file."""
    settings = dovecot.settings(account, port=dovecot.tls_port, security="tls")

    with pytest.raises(ConfigError, match="not trusted.*ca_file"):
        list(imap_source(settings).fetch_new())


def test_tls_without_verification_when_configured(dovecot, account):
    """Given tls_verify false, When connecting to the self-signed server, Then it works."""
    settings = dovecot.settings(account, port=dovecot.tls_port, security="tls", tls_verify=False)

    with imap_source(settings) as source:
        assert list(source.fetch_new()) == []


def test_starttls_upgrades_the_plain_port(dovecot, account):
    """Given STARTTLS on the plain port, When logging in, Then the login happens over TLS (Dovecot logs it so)."""
    dovecot.append(account, "INBOX", mail("over starttls"))
    settings = dovecot.settings(account, security="starttls", ca_file=dovecot.ca_file)

    with imap_source(settings) as source:
        assert len(list(source.fetch_new())) == 1
    assert re.search(rf"Login: user=<{account.user}>.*TLS", dovecot.log())


def test_a_wrong_password_is_a_config_error_that_does_not_show_it(dovecot, account, caplog):
    """Given a wrong password, When connecting, Then ConfigError names the account, not the password."""
    caplog.set_level(logging.DEBUG)
    secret = "Wrong-Secret-4711"
    settings = dovecot.settings(account, name="orders-desk", auth=PasswordAuth(username=account.user, password=secret))

    with pytest.raises(ConfigError) as caught:
        list(imap_source(settings).fetch_new())

    assert "login rejected for account orders-desk" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in caplog.text


def test_a_refused_connection_is_source_unavailable(dovecot, account):
    """Given nothing listening on the port, When reading, Then SourceUnavailable names the account (and no password)."""
    settings = dovecot.settings(account, name="orders-desk", port=free_port())

    with pytest.raises(SourceUnavailable, match="imap account orders-desk") as caught:
        list(imap_source(settings).fetch_new())
    assert account.password not in str(caught.value)


def test_connect_timeout_is_always_set():
    """Given a server that accepts but never greets, When connecting, Then SourceUnavailable comes after the connect timeout."""
    silent = socket.create_server((HOST, 0))
    try:
        settings = ImapSourceSettings(
            name="silent", host=HOST, port=silent.getsockname()[1], security="plain",
            auth=PasswordAuth(username="u", password="p"), connect_timeout=0.5, read_timeout=0.5,
        )
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="silent"):
            list(imap_source(settings).fetch_new())
        assert time.monotonic() - started < 3
    finally:
        silent.close()


def test_read_timeout_ends_a_hung_fetch(dovecot, account, proxy):
    """Given a connection that hangs in the middle of reading, When the next FETCH gets no answer,
    Then SourceUnavailable after the read timeout, and the next call opens a new connection."""
    dovecot.append(account, "INBOX", mail("one"), mail("two"))
    source = imap_source(dovecot.settings(account, port=proxy.port, read_timeout=0.5, batch_size=1))
    reading = source.fetch_new()
    next(reading)

    proxy.freeze()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="timed out"):
        next(reading)
    assert time.monotonic() - started < 3

    assert len(list(source.fetch_new())) == 2
    assert source.counters.connections == 2


def test_a_kept_connection_that_hangs_is_replaced(dovecot, account, proxy):
    """Given a source whose kept connection hangs between runs, When reading again, Then the liveness check
    times out and the source reads over a new connection."""
    dovecot.append(account, "INBOX", mail("one"))
    source = imap_source(dovecot.settings(account, port=proxy.port, read_timeout=0.5))
    assert len(list(source.fetch_new())) == 1

    proxy.freeze()

    assert len(list(source.fetch_new())) == 1
    assert source.counters.connections == 2


def test_a_lost_connection_is_reopened_on_the_next_call(own_dovecot):
    """Given a source whose server restarted since its last read, When reading again, Then it reconnects quietly."""
    account = own_dovecot.new_account()
    own_dovecot.append(account, "INBOX", mail("before"))
    source = imap_source(own_dovecot.settings(account))
    assert len(list(source.fetch_new())) == 1

    own_dovecot.restart()

    assert len(list(source.fetch_new())) == 1
    assert source.counters.connections == 2


# --- OAuth2 -----------------------------------------------------------------------------


def test_xoauth2_with_a_token_file(dovecot, account, tmp_path):
    """Given an access token in a file, When reading, Then the source logs in with XOAUTH2."""
    dovecot.append(account, "INBOX", mail("oauth"))
    token_file = tmp_path / "token"
    token_file.write_text(account.password + "\n")
    settings = dovecot.settings(account, auth=OAuth2Auth(username=account.user, token_file=token_file))

    with imap_source(settings) as source:
        assert len(list(source.fetch_new())) == 1
    assert re.search(rf"Login: user=<{account.user}>, method=XOAUTH2", dovecot.log())


def token_script(tmp_path: Path, *tokens: str) -> tuple[str, Path]:
    """A token command that prints the given tokens one per call (the last one from then on)."""
    calls = tmp_path / "calls"
    calls.write_text("")
    script = tmp_path / "token.sh"
    lines = "\n".join(f'[ "$n" = {i} ] && echo {t} && exit 0' for i, t in enumerate(tokens))
    script.write_text(f'#!/bin/sh\nn=$(wc -c < {calls})\necho x >> {calls}\nn=$(( n / 2 ))\n{lines}\necho {tokens[-1]}\n')
    script.chmod(0o755)
    return str(script), calls


def test_a_rejected_token_is_fetched_again_once(dovecot, account, tmp_path, caplog):
    """Given a token command whose first token is stale, When logging in, Then the command runs again and
    the fresh token works; neither token is ever logged."""
    caplog.set_level(logging.DEBUG)
    command, calls = token_script(tmp_path, "stale-token-123", account.password)
    dovecot.append(account, "INBOX", mail("oauth"))
    settings = dovecot.settings(account, auth=OAuth2Auth(username=account.user, token_command=command))

    with imap_source(settings) as source:
        assert len(list(source.fetch_new())) == 1

    assert len(calls.read_text().splitlines()) == 2
    assert "stale-token-123" not in caplog.text and account.password not in caplog.text


def test_a_token_rejected_twice_is_a_config_error_without_the_token(dovecot, account, tmp_path):
    """Given a token command that only prints rejected tokens, When logging in, Then ConfigError, token not shown."""
    command, calls = token_script(tmp_path, "bad-token-1", "bad-token-2")
    settings = dovecot.settings(account, name="m365", auth=OAuth2Auth(username=account.user, token_command=command))

    with pytest.raises(ConfigError, match="login rejected for account m365") as caught:
        list(imap_source(settings).fetch_new())
    assert "bad-token" not in str(caught.value)
    assert len(calls.read_text().splitlines()) == 2


def test_a_hung_token_command_is_stopped():
    """Given a token command that hangs, When a token is needed, Then SourceUnavailable after the timeout."""
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="did not finish within 0.3 s"):
        CommandToken("sleep 20", timeout=0.3, account="m365").fetch()
    assert time.monotonic() - started < 3


def test_a_token_is_reused_until_its_lifetime_is_over():
    """Given a token fetched at t=0 with a lifetime of 100 s, When asked at t=50, t=100 and with refresh,
    Then the source is asked at t=0, t=100 and for the refresh."""

    class Counting:
        n = 0

        def fetch(self) -> str:
            self.n += 1
            return f"token-{self.n}"

    now = [0.0]
    cached = CachedToken(Counting(), lifetime=100, clock=lambda: now[0])
    assert cached.token() == "token-1"
    now[0] = 50
    assert cached.token() == "token-1"
    now[0] = 100
    assert cached.token() == "token-2"
    assert cached.token(refresh=True) == "token-3"
    assert "token" not in repr(cached).replace("CachedToken", "")


# --- reading and settling -------------------------------------------------------------------


def test_fetches_in_batches_and_only_peeks(dovecot, account, caplog):
    """Given 10 messages and batch_size 3, When reading, Then every FETCH names at most 3 UIDs and asks for
    RFC822.SIZE or BODY.PEEK[] only (never RFC822 or BODY[], which would set \\Seen)."""
    dovecot.append(account, "INBOX", *[mail(f"m{n}") for n in range(10)])
    caplog.set_level(logging.DEBUG, logger="imapclient")

    with imap_source(dovecot.settings(account, batch_size=3)) as source:
        assert len(list(source.fetch_new())) == 10

    fetches = re.findall(r"UID FETCH ([0-9,:]+) \(([^)]*)\)", caplog.text)
    assert fetches, caplog.text[-2000:]
    assert all(len(uids.split(",")) <= 3 and ":" not in uids for uids, _ in fetches)
    assert {items for _, items in fetches} == {"RFC822.SIZE", "BODY.PEEK[]"}
    assert not any(b"\\Seen" in flags for _, flags in dovecot.message_ids(account, "INBOX"))


def test_an_oversized_message_is_not_downloaded_and_stays_until_settled(dovecot, account, proxy):
    """Given a 200 kB message and a 50 kB cap, When reading, Then only its header block comes (truncated, with
    the full size), it stays in the inbox, and settling it as needs review moves it whole to the review folder."""
    big = with_attachments("big order", [("po.bin", "application/octet-stream", bytes(range(256)) * 800)])
    dovecot.append(account, "INBOX", big)
    source = ImapSource(dovecot.settings(account, port=proxy.port), max_message_bytes=50_000)

    (raw,) = list(source.fetch_new())

    assert raw.truncated and raw.size == len(big)
    assert big.startswith(raw.data) and raw.data.endswith(b"\r\n\r\n") and len(raw.data) < 1000
    assert proxy.down < 20_000, "the body was downloaded"
    assert len(dovecot.message_ids(account, "INBOX")) == 1

    source.settle(raw, MessageStatus.NEEDS_REVIEW)

    assert dovecot.message_ids(account, "INBOX") == []
    ((_, (data, _)),) = dovecot.folder_messages(account, "orderbot/review").items()
    assert data == big


def test_a_missing_folder_does_not_stop_the_others(dovecot, account):
    """Given folders INBOX and one that does not exist, When reading, Then INBOX's mail comes and
    SourceUnavailable names the missing folder at the end."""
    dovecot.append(account, "INBOX", mail("here"))
    source = imap_source(dovecot.settings(account, folders=("Gone", "INBOX")))
    got: list[RawMessage] = []

    with pytest.raises(SourceUnavailable, match="folder Gone"):
        for raw in source.fetch_new():
            got.append(raw)
            source.settle(raw, MessageStatus.PROCESSED)

    assert [r.folder for r in got] == ["INBOX"]
    assert len(dovecot.message_ids(account, "orderbot/processed")) == 1


def test_settle_leaves_a_message_alone_when_the_folder_was_recreated(dovecot, account):
    """Given a message fetched from a folder that was then deleted and recreated (new UIDVALIDITY, the same
    UID now names another message), When settling the old one, Then nothing is touched."""
    dovecot.append(account, "Orders", mail("first"))
    source = imap_source(dovecot.settings(account, folders=("Orders",)))
    (raw,) = list(source.fetch_new())
    source.close()
    with dovecot.client(account) as client:
        client.delete_folder("Orders")
    dovecot.append(account, "Orders", mail("another"))

    source.settle(raw, MessageStatus.PROCESSED)

    assert len(dovecot.message_ids(account, "Orders")) == 1
    assert dovecot.message_ids(account, "orderbot/processed") == []


def test_a_settle_folder_that_is_also_read_is_refused(dovecot, account):
    """Given the processed folder among the folders read, When the source is made, Then ConfigError."""
    with pytest.raises(ConfigError, match="both read and a settle target"):
        imap_source(dovecot.settings(account, folders=("INBOX", "orderbot/processed")))


def test_keyword_mode_flags_and_keeps_the_message(dovecot, account):
    """Given keyword settling, When a message is settled as needs review, Then it stays in the inbox with
    the keyword $orderbot-review, unread, and is not new again."""
    dovecot.append(account, "INBOX", mail("keyword"))
    source = imap_source(dovecot.settings(account, settle="keyword"))
    (raw,) = list(source.fetch_new())

    source.settle(raw, MessageStatus.NEEDS_REVIEW)

    ((_, flags),) = dovecot.message_ids(account, "INBOX")
    assert b"$orderbot-review" in flags and b"\\Seen" not in flags
    assert list(source.fetch_new()) == []


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "no-uidplus"])
def test_without_move_settling_copies_and_deletes(uidplus):
    """Given a server without MOVE, When settling, Then the message is copied and marked \\Deleted (and
    expunged by UID with UIDPLUS); settling again adds no second copy and it is not new again."""
    capability = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UNSELECT NAMESPACE" + (" UIDPLUS" if uidplus else "")
    with running_dovecot(extra_config=f"imap_capability = {capability}") as server:
        account = server.new_account()
        server.append(account, "INBOX", mail("no move"), mail("stays"))
        source = imap_source(server.settings(account))
        raw = next(iter(source.fetch_new()))

        source.settle(raw, MessageStatus.PROCESSED)
        source.settle(raw, MessageStatus.PROCESSED)

        assert len(server.message_ids(account, "orderbot/processed")) == 1
        assert [message_id(r.data) for r in source.fetch_new()] == [mid for mid, _ in server.message_ids(account, "INBOX")]
        with server.client(account) as client:
            client.select_folder("INBOX", readonly=True)
            assert len(client.search(["ALL"])) == (1 if uidplus else 2)


def test_build_sources_makes_an_imap_source(dovecot, account):
    """Given settings with an imap source, When sources are built, Then it is an ImapSource with the global cap."""
    settings = Settings(sources=(dovecot.settings(account, name="desk"),), max_message_bytes=1234)

    (source,) = build_sources(settings)

    assert isinstance(source, ImapSource) and source.name == "desk" and source.max_message_bytes == 1234


# --- IDLE ------------------------------------------------------------------------------------


def append_later(server: Dovecot, account: Account, delay: float, *messages: bytes) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), server.append(account, "INBOX", *messages)))
    thread.start()
    return thread


def test_idle_returns_promptly_when_mail_arrives(dovecot, account):
    """Given a source idling on INBOX, When another connection appends a message, Then the wait ends at once."""
    source = imap_source(dovecot.settings(account))
    thread = append_later(dovecot, account, 0.3, mail("wake up"))

    started = time.monotonic()
    assert source.wait_for_mail(timeout=10) is True
    assert time.monotonic() - started < 2
    thread.join()
    assert len(list(source.fetch_new())) == 1


def test_idle_is_renewed_and_times_out_without_mail(dovecot, account):
    """Given IDLE renewed every second, When no mail comes for 2.5 s, Then the wait returns False after
    renewing at least twice."""
    source = imap_source(dovecot.settings(account, idle_renew_seconds=1))

    started = time.monotonic()
    assert source.wait_for_mail(timeout=2.5) is False
    assert 2.4 < time.monotonic() - started < 4
    assert source.counters.idle_renewals >= 2


def test_the_idle_watchdog_reopens_a_hung_connection(dovecot, account, proxy):
    """Given an idling connection that stops passing anything (a dead NAT entry), When the read timeout
    passes in silence, Then the watchdog drops it and opens a new one, and mail arriving later is seen."""
    source = imap_source(dovecot.settings(account, port=proxy.port, read_timeout=0.5))
    result: list[bool] = []
    waiting = threading.Thread(target=lambda: result.append(source.wait_for_mail(timeout=10)))
    waiting.start()
    time.sleep(0.2)
    proxy.freeze()
    waiting.join(timeout=8)

    assert result == [True], "the watchdog did not end the wait"
    assert source.counters.watchdog_reconnects == 1 and proxy.accepted == 2
    thread = append_later(dovecot, account, 0.3, mail("after the hang"))
    assert source.wait_for_mail(timeout=5) is True
    thread.join()


# --- faults through the pipeline ---------------------------------------------------------------


def test_connection_cut_mid_fetch(dovecot, account, proxy, store, master, expected_for):
    """Given the demo inbox and a connection cut in the middle of a FETCH, When intake runs, then runs again,
    Then the first run stops with the source unavailable and the second takes the rest: nothing lost,
    nothing processed twice."""
    messages = demo_messages()
    dovecot.append(account, "INBOX", *messages)
    source = imap_source(dovecot.settings(account, port=proxy.port, batch_size=4), store)
    pipeline = pipeline_for(store, master, source)
    proxy.cut_after = sum(len(m) for m in messages) // 2

    first = pipeline.receive()
    second = pipeline.receive()

    assert proxy.cuts == 1 and first.errors and "imap account" in first.errors[0]
    assert 0 < first.received < len(messages)
    assert first.received + second.received == len(messages) and second.duplicates == 0
    assert_exactly_once(store, dovecot, account, expected_for(messages))


def test_dovecot_restarted_mid_run(own_dovecot, store, master, expected_for):
    """Given the demo inbox, When Dovecot restarts after the fifth message (so the sixth is committed
    but cannot be moved), Then the next run settles that one as known and takes the rest."""
    account = own_dovecot.new_account()
    messages = demo_messages()
    own_dovecot.append(account, "INBOX", *messages)
    source = imap_source(own_dovecot.settings(account))  # no store: the ledger's content key heals
    pipeline = pipeline_for(store, master, source)

    def restart_after_five(stage: str, done: int) -> None:
        if done == 5:
            own_dovecot.restart()

    first = pipeline.receive(progress=restart_after_five)
    second = pipeline.receive()

    assert first.errors and first.received == 6
    assert second.received == len(messages) - 6 and second.duplicates == 1
    assert_exactly_once(store, own_dovecot, account, expected_for(messages))


class Crash(Exception):
    """The intake process dies."""


def test_mailbox_deleted_and_recreated(dovecot, account, store, master, expected_for):
    """Given a run that dies after 7 messages, When the folder is deleted and recreated with the same 14
    messages (new UIDVALIDITY, new UIDs), Then the next run only settles the 7 known ones and takes the rest."""
    messages = demo_messages()
    dovecot.append(account, "Orders", *messages)
    source = imap_source(dovecot.settings(account, folders=("Orders",)), store)
    pipeline = pipeline_for(store, master, source)

    def crash_after_seven(stage: str, done: int) -> None:
        if done == 7:
            raise Crash

    with pytest.raises(Crash):
        pipeline.receive(progress=crash_after_seven)
    with dovecot.client(account) as client:
        client.delete_folder("Orders")
    dovecot.append(account, "Orders", *messages)

    second = pipeline.receive()

    assert (second.duplicates, second.received, source.counters.healed) == (7, 7, 0)
    # The first seven were delivered twice (before and after the recreation): each copy is settled.
    twice = {message_id(m): 2 for m in messages[:7]}
    assert_exactly_once(store, dovecot, account, expected_for(messages), read_folders=("Orders",), copies=twice)
    for entry in store.messages():
        uidvalidities = {loc.uidvalidity for loc in store.locations(entry.id)}
        assert len(uidvalidities) == (2 if entry.message_id in twice else 1)


def test_two_intake_runs_at_once(dovecot, account, tmp_path, master, expected_for):
    """Given two intake runs started together (two pipelines, two connections, one store file), When both
    finish, Then the lease let one of them read the mailbox: each message received exactly once."""
    messages = demo_messages()
    dovecot.append(account, "INBOX", *messages)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Store.open(url).close()  # migrate once, before the race
    start = threading.Barrier(2)
    results: list[RunSummary] = []

    def run() -> None:
        with Store.open(url) as own_store:
            pipeline = pipeline_for(own_store, master, imap_source(dovecot.settings(account, name="desk"), own_store))
            start.wait()
            results.append(pipeline.receive())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(results) == 2
    assert sorted(r.errors for r in results) == [[], ["source desk: another run is reading it; skipped"]]
    assert sum(r.received for r in results) == len(messages)
    assert sum(r.duplicates for r in results) == 0
    with Store.open(url) as check:
        assert_exactly_once(check, dovecot, account, expected_for(messages))


def test_a_30_mb_attachment_over_the_cap(dovecot, account, proxy, store, master, expected_for):
    """Given a message with a 30 MB attachment among orders, When intake runs with a 25 MB cap, Then it is
    not downloaded (a few kB pass the wire), it is recorded for review as unreadable_document, and it
    stays in the mailbox until it is settled into the review folder."""
    big = with_attachments("Order with drawings", [("drawings.bin", "application/octet-stream", b"\x8a" * 30_000_000)])
    small = demo_messages()[:3]
    dovecot.append(account, "INBOX", small[0], big, *small[1:])
    source = imap_source(dovecot.settings(account, port=proxy.port), store)

    first_look = list(source.fetch_new())  # before any settle it is still in the inbox, headers only
    assert [r.truncated for r in first_look] == [False, True, False, False]
    assert message_id(big) in {mid for mid, _ in dovecot.message_ids(account, "INBOX")}

    summary = pipeline_for(store, master, source).receive()

    assert summary.received == 4 and summary.errors == []
    assert proxy.down < 2 * sum(len(m) for m in small) + 100_000, f"{proxy.down} bytes came over the wire"
    (entry,) = [e for e in store.messages() if e.message_id == message_id(big)]
    (order,) = [o for o in store.orders() if o.ledger_id == entry.id]
    assert order.order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert "over the limit" in (order.order.reasons[0].message or "")
    reference = expected_for(small)
    expected = Expected(
        {**reference.statuses, message_id(big): MessageStatus.NEEDS_REVIEW},
        sorted_orders([*reference.orders, (None, None, "needs_review")]),
    )
    assert_exactly_once(store, dovecot, account, expected)
    with dovecot.client(account) as client:  # kept whole, not cut down to what orderbot read
        client.select_folder("orderbot/review", readonly=True)
        sizes = client.fetch(client.search(["ALL"]), ["RFC822.SIZE"])
    assert len(big) in {item[b"RFC822.SIZE"] for item in sizes.values()}


def tiny_png(n: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes([0, n % 256]))) + chunk(b"IEND", b"")


BODY_ORDER = (
    "Hello,\r\n\r\nplease deliver the following:\r\n\r\n4 pcs AX-1523 Hand dispenser for stretch film\r\n\r\n"
    "Delivery address: Nordwind Logistik GmbH, Hafenstrasse 12, 20457 Hamburg, Germany\r\n"
    "Our order number: NW-7070\r\nRequested delivery: 14.12.2026\r\n\r\nPhotos of the site attached.\r\nJana Becker\r\n"
)


def test_a_bogus_charset_and_70_attachments_do_not_stop_the_batch(dovecot, account, store, master, expected_for):
    """Given a message in charset=bogus and an order with 70 photo attachments among the demo orders, When
    intake runs, Then every message gets its one outcome and is settled, the 70 photos are kept, the batch goes on."""
    bogus = mail(
        "Bestellung 4711",
        "Bitte liefern: 4 Stueck AX-1523 UMLAUT\r\nBestellnummer: B-4711",
        extra_headers="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=bogus\r\nContent-Transfer-Encoding: 8bit\r\n",
    ).replace(b"UMLAUT", b"\xfc\xe4\xf6")  # Latin-1 bytes the declared charset cannot name
    many = with_attachments("Order NW-7070 with photos", [(f"photo-{n:02d}.png", "image/png", tiny_png(n)) for n in range(70)], body=BODY_ORDER)
    messages = [*demo_messages()[:3], bogus, many, *demo_messages()[3:5]]
    dovecot.append(account, "INBOX", *messages)
    source = imap_source(dovecot.settings(account, batch_size=3), store)

    summary = pipeline_for(store, master, source).receive()

    assert summary.received == len(messages) and summary.errors == []
    assert_exactly_once(store, dovecot, account, expected_for(messages))
    (entry,) = [e for e in store.messages() if e.message_id == message_id(many)]
    assert len(store.documents(entry.id)) == 70
    assert [o.po_number for o in store.orders() if o.ledger_id == entry.id] == ["NW-7070"]


class SettleFailsOnce:
    """A source whose third settle dies once: the crash between commit and move."""

    def __init__(self, inner: ImapSource) -> None:
        self.inner = inner
        self.name = inner.name
        self.settles = 0

    def fetch_new(self):
        return self.inner.fetch_new()

    def settle(self, raw, status) -> None:
        self.settles += 1
        if self.settles == 3:
            raise SourceUnavailable("simulated crash between commit and move")
        self.inner.settle(raw, status)


@pytest.mark.parametrize("with_store", [True, False], ids=["healed-by-location", "healed-by-content-key"])
def test_a_crash_between_commit_and_move_is_healed(dovecot, account, store, master, expected_for, with_store):
    """Given a run whose third move fails after the commit, When intake runs again, Then that message is
    settled without being processed again (by its known location given the store, else by its content key)."""
    messages = demo_messages()[:6]
    dovecot.append(account, "INBOX", *messages)
    inner = imap_source(dovecot.settings(account), store if with_store else None)
    source = SettleFailsOnce(inner)
    pipeline = pipeline_for(store, master, source)

    first = pipeline.receive()
    assert first.received == 3 and first.errors == ["simulated crash between commit and move"]
    second = pipeline.receive()

    if with_store:
        assert (second.received, second.duplicates, inner.counters.healed) == (3, 0, 1)
    else:
        assert (second.received, second.duplicates, inner.counters.healed) == (3, 1, 0)
    assert_exactly_once(store, dovecot, account, expected_for(messages))


def test_the_same_message_in_two_mailboxes_and_moved_back(dovecot, store, master, expected_for):
    """Given one message delivered to two accounts, and a processed message a user moved back into a read
    folder, When intake runs over both accounts, Then there is one ledger entry and one order per message,
    and every copy is settled."""
    first, second = dovecot.new_account(), dovecot.new_account()
    messages = demo_messages()[:3]
    dovecot.append(first, "INBOX", *messages)
    dovecot.append(second, "INBOX", b"Delivered-To: second@kestrel-supply.example\r\n" + messages[0])
    sources = [imap_source(dovecot.settings(a), store) for a in (first, second)]
    pipeline = pipeline_for(store, master, *sources)

    run1 = pipeline.receive()
    with dovecot.client(first) as client:  # a person drags a processed one back to the inbox
        client.select_folder("orderbot/processed")
        client.move(client.search(["ALL"])[:1], "INBOX")
    run2 = pipeline.receive()

    assert (run1.received, run1.duplicates) == (3, 1)
    assert (run2.received, run2.duplicates) == (0, 1)
    expected = expected_for(messages)
    assert_exactly_once(store, dovecot, first, expected)
    assert dovecot.message_ids(second, "INBOX") == []
    assert Counter(m for f in STATUS_FOLDER.values() for m, _ in dovecot.message_ids(second, f)) == Counter({message_id(messages[0]): 1})
