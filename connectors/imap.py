"""IMAP mailboxes as a mail source (imapclient), read like a careful person would.

    source = ImapSource(settings, store=store, max_message_bytes=25_000_000)
    for raw in source.fetch_new():          # under the pipeline's lease
        ...                                 # the store commits the outcome
        source.settle(raw, status)          # then the message is moved or flagged

Reading never changes a message: ``UID SEARCH`` finds the unsettled ones (move
mode: everything left in the folder; keyword mode: no ``$orderbot-*`` keyword),
``UID FETCH`` asks for ``RFC822.SIZE`` first and then ``BODY.PEEK[]`` in batches
of ``batch_size`` UIDs (and at most ``FETCH_BYTES`` per command), so nothing is
marked ``\\Seen`` before orderbot has committed it. A message over the size cap
is not downloaded: its header block (``BODY.PEEK[HEADER]``) is yielded with
``truncated=True`` and its full size, the pipeline records it for review, and it
stays in the mailbox until it is settled into the review folder.

Settling happens only when the pipeline says so, one message at a time, after
the store commit: ``UID MOVE`` into the processed / review / failed folder
(created when missing), or ``UID COPY`` + ``\\Deleted`` + ``UID EXPUNGE``
(UIDPLUS) on servers without MOVE; in keyword mode the message gets the
keyword ``{prefix}processed`` / ``-review`` / ``-failed``. Settling is
idempotent and a message that is gone already (moved by a run that crashed
right after the move) is fine. A fetch interrupted anywhere leaves every
message either settled (its outcome committed) or untouched.

Exactly-once comes from the ledger, not from the mailbox: the pipeline keys a
message on Message-ID plus content, so a new UIDVALIDITY, a message moved
between folders or the same message in two mailboxes is recognised and only
settled. Given a ``store``, the source also skips the download of a message
whose location (account, folder, UIDVALIDITY, UID) the ledger has already
settled, and settles it directly: that heals a crash between commit and move
without fetching the bytes again. Without a store every message is yielded and
the pipeline does the same through its content key.

Errors are translated here: a connection that cannot be made, is cut, times
out or is aborted is ``SourceUnavailable`` (the connection is dropped and
reopened on the next call); a rejected login or an untrusted certificate is
``ConfigError``. Messages name the account, never the password or token.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, LoginError

from bot.config import ImapSourceSettings, OAuth2Auth, PasswordAuth
from bot.errors import ConfigError, OrderbotError, SourceUnavailable
from bot.model import MessageStatus, RawMessage
from bot.store import Store
from connectors.imap_auth import TokenProvider, token_provider

log = logging.getLogger("orderbot.imap")

Clock = Callable[[], float]  # seconds, monotonic

# At most this many message bytes are asked for in one FETCH command.
FETCH_BYTES = 16 * 1024 * 1024
# Header block of an oversized message: at most this much of it is read.
HEADER_BYTES = 256 * 1024

_SETTLE_NAMES = {
    MessageStatus.PROCESSED: "processed",
    MessageStatus.NEEDS_REVIEW: "review",
    MessageStatus.FAILED: "failed",
}
# Untagged responses during IDLE that mean "something arrived".
_NEW_MAIL = (b"EXISTS", b"RECENT")


@dataclass
class ImapCounters:
    """What the source did, for tests, benchmarks and logs."""

    connections: int = 0
    fetched: int = 0  # messages yielded with their full bytes
    oversized: int = 0  # messages yielded as headers only
    healed: int = 0  # messages settled directly because the ledger knew their location
    settled: int = 0
    idle_renewals: int = 0
    watchdog_reconnects: int = 0


class _FolderUnavailable(Exception):
    """A folder cannot be selected; the other folders of the account go on."""


class ImapSource:
    """One IMAP account (several folders) as a ``MailSource``."""

    def __init__(
        self,
        settings: ImapSourceSettings,
        *,
        store: Store | None = None,
        max_message_bytes: int,
        clock: Clock = time.monotonic,
        tokens: TokenProvider | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        # An account may lower the global cap, not raise it: the pipeline does not parse beyond it.
        self.max_message_bytes = min(settings.max_message_bytes or max_message_bytes, max_message_bytes)
        self.counters = ImapCounters()
        self._store = store
        self._clock = clock
        self._auth = settings.auth
        if tokens is None and isinstance(settings.auth, OAuth2Auth):
            tokens = token_provider(settings.auth, account=settings.name, clock=clock)
        self._tokens = tokens
        self._client: IMAPClient | None = None
        self._selected: tuple[str, int] | None = None  # folder, UIDVALIDITY
        self._existing_folders: set[str] = set()
        self._secrets: set[str] = set()
        if isinstance(settings.auth, PasswordAuth):
            self._secrets.add(settings.auth.password.get_secret_value())
        if settings.settle == "move":
            targets = {settings.processed_folder, settings.review_folder, settings.failed_folder}
            clash = sorted(targets & set(settings.folders))
            if clash:
                raise ConfigError(
                    f"folder {clash[0]!r} is both read and a settle target; messages would be read again",
                    key=f"sources[{self.name}].folders",
                )

    def __repr__(self) -> str:
        return f"ImapSource({self.name!r}, {self.settings.host}:{self.settings.effective_port})"

    # -- MailSource ------------------------------------------------------------

    def fetch_new(self) -> Iterator[RawMessage]:
        """Every message not yet settled in the configured folders, oldest first.

        A folder that cannot be selected (deleted, renamed) does not stop the
        others; ``SourceUnavailable`` names it at the end. A connection problem
        ends the fetch with ``SourceUnavailable`` right away."""
        self._revive()
        missing: list[str] = []
        for folder in self.settings.folders:
            try:
                yield from self._fetch_folder(folder)
            except _FolderUnavailable as exc:
                missing.append(str(exc))
        if missing:
            raise SourceUnavailable(f"imap account {self.name}: " + "; ".join(missing))

    def settle(self, raw: RawMessage, status: MessageStatus) -> None:
        """Move or flag the message after its outcome was committed. Idempotent.

        A message no longer there (settled by an earlier run) is fine. If the
        folder's UIDVALIDITY changed since the fetch, the UID may name another
        message now, so nothing is touched: the next fetch finds the message
        under its new UID and the ledger settles it then."""
        if raw.account != self.name or raw.folder is None or raw.uid is None or raw.uidvalidity is None:
            raise ValueError(f"{raw.name}: not a message of imap account {self.name}")
        if status not in _SETTLE_NAMES:
            raise ValueError(f"{raw.name}: cannot settle a message as {status!r}")
        with self._translated(f"settling {raw.name}"):
            self._connection()
            try:
                current = self._select(raw.folder)
            except _FolderUnavailable:
                log.info("%s: folder gone; it is settled when it turns up again", raw.name)
                return
            if current != raw.uidvalidity:
                log.info("%s: UIDVALIDITY of %s is now %s; left for the next run", raw.name, raw.folder, current)
                return
            self._settle_uid(raw.folder, raw.uid, status)

    # -- waiting for mail --------------------------------------------------------

    def wait_for_mail(self, timeout: float) -> bool:
        """Wait with IMAP IDLE on the first folder until new mail arrives or
        ``timeout`` seconds pass. True when mail (may have) arrived.

        IDLE is renewed every ``idle_renew_seconds``. A watchdog checks a quiet
        connection every ``read_timeout`` seconds by ending IDLE: if the server
        does not answer within the read timeout, the connection is dropped and
        reopened (and True returned, since mail may have come meanwhile).
        Do not call it while a ``fetch_new`` generator is open."""
        deadline = self._clock() + timeout
        folder = self.settings.folders[0]
        with self._translated(f"waiting for mail in {folder}"):
            client = self._connection()
            self._select_or_fail(folder)
            if not client.has_capability("IDLE"):
                return self._poll_for_mail(deadline)
            return self._idle(deadline)

    def close(self) -> None:
        """Log out (quietly; the connection may be gone already)."""
        client, self._client = self._client, None
        self._selected = None
        self._existing_folders.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- fetching ------------------------------------------------------------------

    def _fetch_folder(self, folder: str) -> Iterator[RawMessage]:
        with self._translated(f"reading {folder}"):
            self._connection()
            uidvalidity = self._select(folder, fresh=True)
            uids = sorted(self._client_or_fail().search(self._search_criteria()))
        for start in range(0, len(uids), self.settings.batch_size):
            batch = uids[start : start + self.settings.batch_size]
            with self._translated(f"reading {folder}"):
                self._require_same_folder(folder, uidvalidity)
                sizes = self._sizes(batch)
                wanted = self._heal_known(folder, uidvalidity, [uid for uid in batch if uid in sizes])
            for group, oversized in _groups(wanted, sizes, self.max_message_bytes):
                with self._translated(f"reading {folder}"):
                    self._require_same_folder(folder, uidvalidity)
                    contents = self._contents(group, oversized)
                for uid in group:
                    data = contents.get(uid)
                    if data is None:
                        continue  # expunged by someone else since the SEARCH
                    if oversized:
                        self.counters.oversized += 1
                    else:
                        self.counters.fetched += 1
                    yield RawMessage(
                        data=data,
                        origin=f"imap:{self.name}/{folder}",
                        name=f"{self.name} {folder} uid {uid}",
                        account=self.name,
                        folder=folder,
                        uidvalidity=uidvalidity,
                        uid=uid,
                        size=sizes[uid] if oversized else len(data),
                        truncated=oversized,
                    )

    def _search_criteria(self) -> list[str]:
        criteria = ["NOT", "DELETED"]
        if self.settings.settle == "keyword":
            for name in _SETTLE_NAMES.values():
                criteria += ["NOT", "KEYWORD", self.settings.keyword_prefix + name]
        return criteria

    def _sizes(self, uids: Sequence[int]) -> dict[int, int]:
        fetched = self._client_or_fail().fetch(uids, ["RFC822.SIZE"])
        return {uid: int(item[b"RFC822.SIZE"]) for uid, item in fetched.items() if b"RFC822.SIZE" in item}

    def _contents(self, uids: Sequence[int], oversized: bool) -> dict[int, bytes]:
        client = self._client_or_fail()
        if oversized:
            fetched = client.fetch(uids, [f"BODY.PEEK[HEADER]<0.{HEADER_BYTES}>"])
            key = b"BODY[HEADER]<0>"
        else:
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            key = b"BODY[]"
        out: dict[int, bytes] = {}
        for uid, item in fetched.items():
            data = item.get(key)
            if data is None:
                raise SourceUnavailable(f"imap account {self.name}: the server sent no content for uid {uid}")
            out[uid] = bytes(data)
        return out

    def _heal_known(self, folder: str, uidvalidity: int, uids: list[int]) -> list[int]:
        """Settle messages the ledger already settled at this very location; return the rest."""
        if self._store is None:
            return uids
        rest = []
        for uid in uids:
            entry = self._store.find_by_location(self.name, folder, uidvalidity, uid)
            if entry is None or entry.status is MessageStatus.RECEIVED:
                rest.append(uid)
                continue
            log.info("%s %s uid %s: already %s in the ledger; settling it", self.name, folder, uid, entry.status)
            self._settle_uid(folder, uid, entry.status)
            self.counters.healed += 1
        return rest

    # -- settling ------------------------------------------------------------------

    def _settle_uid(self, folder: str, uid: int, status: MessageStatus) -> None:
        client = self._client_or_fail()
        if self.settings.settle == "keyword":
            client.add_flags([uid], [self.settings.keyword_prefix + _SETTLE_NAMES[status]], silent=True)
        else:
            target = {
                MessageStatus.PROCESSED: self.settings.processed_folder,
                MessageStatus.NEEDS_REVIEW: self.settings.review_folder,
                MessageStatus.FAILED: self.settings.failed_folder,
            }[status]
            self._move(uid, target)
        self.counters.settled += 1

    def _move(self, uid: int, target: str) -> None:
        client = self._client_or_fail()
        self._ensure_folder(target)
        try:
            if client.has_capability("MOVE"):
                client.move([uid], target)
            else:
                client.copy([uid], target)
                client.add_flags([uid], [b"\\Deleted"], silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge([uid])
                # Without UIDPLUS a plain EXPUNGE would also remove what others
                # marked \Deleted; the message stays flagged and SEARCH skips it.
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            # Some servers refuse a UID that no longer exists; that is success here.
            if not client.search(["UID", str(uid)]):
                return
            raise

    def _ensure_folder(self, folder: str) -> None:
        if folder in self._existing_folders:
            return
        client = self._client_or_fail()
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:
                if not client.folder_exists(folder):  # else another run created it just now
                    raise
        self._existing_folders.add(folder)

    # -- IDLE ----------------------------------------------------------------------

    def _idle(self, deadline: float) -> bool:
        client = self._client_or_fail()
        renew_every = float(self.settings.idle_renew_seconds)
        # A quiet connection is checked this often: Dovecot says "still here"
        # every 2 minutes, other servers never; a dead NAT entry says nothing.
        quiet_limit = min(self.settings.read_timeout, renew_every)
        client.idle()
        started = heard = self._clock()
        while True:
            now = self._clock()
            if now >= deadline:
                return self._end_idle()
            renewing = now - started >= renew_every
            if renewing or now - heard >= quiet_limit:
                # Renew, and check the connection on the way: the server must
                # answer DONE within the read timeout.
                if self._end_idle():
                    return True
                client.idle()
                started = heard = self._clock()
                if renewing:
                    self.counters.idle_renewals += 1
                continue
            wait = max(0.0, min(deadline, started + renew_every, heard + quiet_limit) - now)
            responses = client.idle_check(timeout=wait)
            if responses:
                heard = self._clock()
                if any(_is_bye(r) for r in responses):
                    self._reopen_after_watchdog("the server said BYE")
                    return True
                if any(_is_new_mail(r) for r in responses):
                    self._end_idle()
                    return True
            elif self._clock() - now < wait * 0.5:
                # idle_check returns at once with nothing when the peer closed
                # the connection: check it now rather than spin.
                heard = float("-inf")

    def _end_idle(self) -> bool:
        """Send DONE; True if its answer reports new mail, or if the server did
        not answer within the read timeout and the connection was reopened
        (mail may have come meanwhile)."""
        client = self._client_or_fail()
        try:
            _, responses = client.idle_done()
        except (OSError, imaplib.IMAP4.error) as exc:
            self._reopen_after_watchdog(f"no answer to DONE while idle ({type(exc).__name__}: {exc})")
            return True
        return any(_is_new_mail(r) for r in responses)

    def _reopen_after_watchdog(self, why: str) -> None:
        log.warning("imap account %s: %s; reconnecting", self.name, why)
        self._drop()
        self.counters.watchdog_reconnects += 1
        self._connection()
        self._select_or_fail(self.settings.folders[0])

    def _poll_for_mail(self, deadline: float) -> bool:
        client = self._client_or_fail()
        while self._clock() < deadline:
            _, responses = client.noop()
            if any(_is_new_mail(r) for r in responses):
                return True
            time.sleep(max(0.0, min(30.0, deadline - self._clock())))
        return False

    # -- the connection --------------------------------------------------------------

    def _connection(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
            self._selected = None
            self._existing_folders.clear()
            self.counters.connections += 1
        return self._client

    def _client_or_fail(self) -> IMAPClient:
        if self._client is None:
            raise SourceUnavailable(f"imap account {self.name}: the connection was lost")
        return self._client

    def _revive(self) -> None:
        """Reuse a kept connection if it still answers, else open a new one."""
        if self._client is not None:
            try:
                self._client.noop()
            except (OSError, imaplib.IMAP4.error):
                self._drop()
        with self._translated("connecting"):
            self._connection()

    def _connect(self) -> IMAPClient:
        settings = self.settings
        context = self._ssl_context() if settings.security != "plain" else None
        client = IMAPClient(
            settings.host,
            port=settings.effective_port,
            ssl=settings.security == "tls",
            ssl_context=context,
            timeout=SocketTimeout(settings.connect_timeout, settings.read_timeout),
        )
        try:
            if settings.security == "starttls":
                try:
                    client.starttls(context)
                except CapabilityError as exc:
                    raise ConfigError(
                        f"{settings.host} does not offer STARTTLS; use security tls", key=f"sources[{self.name}].security"
                    ) from exc
                client.socket().settimeout(settings.read_timeout)
            self._login(client)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def _ssl_context(self) -> ssl.SSLContext:
        if not self.settings.tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        cafile = str(self.settings.ca_file) if self.settings.ca_file else None
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load ca_file {cafile}: {exc}", key=f"sources[{self.name}].ca_file") from exc

    def _login(self, client: IMAPClient) -> None:
        auth = self._auth
        if isinstance(auth, PasswordAuth):
            try:
                client.login(auth.username, auth.password.get_secret_value())
            except LoginError as exc:
                raise self._rejected(auth.username, exc) from exc
            return
        assert self._tokens is not None
        token = self._tokens.token()
        self._secrets.add(token)
        try:
            client.sasl_login("XOAUTH2", _xoauth2(auth.username, token))
            return
        except LoginError as exc:
            if _temporary(exc):
                raise self._rejected(auth.username, exc) from exc
            log.info("imap account %s: access token rejected; fetching a new one", self.name)
        token = self._tokens.token(refresh=True)
        self._secrets.add(token)
        try:
            client.sasl_login("XOAUTH2", _xoauth2(auth.username, token))
        except LoginError as exc:
            raise self._rejected(auth.username, exc) from exc

    def _rejected(self, username: str, exc: LoginError) -> OrderbotError:
        text = self._clean(_server_text(exc))
        if _temporary(exc):
            return SourceUnavailable(f"imap account {self.name}: login temporarily refused: {text}")
        return ConfigError(
            f"login rejected for account {self.name} (user {username}): {text}", key=f"sources[{self.name}].auth"
        )

    def _select(self, folder: str, *, fresh: bool = False) -> int:
        """Select ``folder`` (read-write) unless it is (``fresh``: select it
        anyway, to see a new UIDVALIDITY); its UIDVALIDITY."""
        if not fresh and self._selected is not None and self._selected[0] == folder:
            return self._selected[1]
        client = self._client_or_fail()
        try:
            response = client.select_folder(folder)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            self._selected = None
            raise _FolderUnavailable(f"folder {folder}: {self._clean(_server_text(exc))}") from exc
        uidvalidity = int(response[b"UIDVALIDITY"])
        self._selected = (folder, uidvalidity)
        return uidvalidity

    def _select_or_fail(self, folder: str) -> int:
        try:
            return self._select(folder, fresh=True)
        except _FolderUnavailable as exc:
            raise SourceUnavailable(f"imap account {self.name}: {exc}") from exc

    def _require_same_folder(self, folder: str, uidvalidity: int) -> None:
        """Re-select after a reconnect in between; the UIDs found are only
        good for the same UIDVALIDITY, so a changed folder is read next run."""
        if self._selected == (folder, uidvalidity):
            return
        if self._select(folder) != uidvalidity:
            raise _FolderUnavailable(f"folder {folder}: UIDVALIDITY changed while reading; it is read again next run")

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Library errors to orderbot's, at this edge; the account named, no secrets."""
        try:
            yield
        except OrderbotError:
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise ConfigError(
                f"the certificate of {self.settings.host} is not trusted ({exc.verify_message}); "
                "set ca_file to the CA that signed it",
                key=f"sources[{self.name}].ca_file",
            ) from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            # Timeouts, refused or reset connections, TLS errors, aborts, NO/BAD
            # answers: the state of the session is unknown, so it is dropped.
            self._drop()
            what = self._clean(str(exc)) or type(exc).__name__
            raise SourceUnavailable(
                f"imap account {self.name} ({self.settings.host}:{self.settings.effective_port}): "
                f"{doing}: {type(exc).__name__}: {what}"
            ) from exc

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        self._existing_folders.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "********")
        return text


def _groups(uids: Sequence[int], sizes: dict[int, int], cap: int) -> Iterator[tuple[list[int], bool]]:
    """UIDs in FETCH groups: runs of normal messages up to FETCH_BYTES in all,
    and oversized ones (fetched as headers only) in runs of their own."""
    group: list[int] = []
    group_bytes = 0
    oversized_group: list[int] = []
    for uid in uids:
        size = sizes[uid]
        if size > cap:
            if group:
                yield group, False
                group, group_bytes = [], 0
            oversized_group.append(uid)
            continue
        if oversized_group:
            yield oversized_group, True
            oversized_group = []
        if group and group_bytes + size > FETCH_BYTES:
            yield group, False
            group, group_bytes = [], 0
        group.append(uid)
        group_bytes += size
    if group:
        yield group, False
    if oversized_group:
        yield oversized_group, True


def _xoauth2(username: str, token: str) -> Callable[[bytes], bytes]:
    """The XOAUTH2 exchange: the bearer token first; to the server's error
    details (a second challenge) an empty answer, so that it sends its final NO."""
    answered = False

    def respond(challenge: bytes) -> bytes:
        nonlocal answered
        if answered:
            return b""
        answered = True
        return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()

    return respond


def _server_text(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text


def _temporary(exc: LoginError) -> bool:
    """RFC 5530: [UNAVAILABLE] means the login may work later."""
    return "[UNAVAILABLE]" in str(exc)


def _is_new_mail(response: tuple) -> bool:
    return len(response) >= 2 and response[1] in _NEW_MAIL


def _is_bye(response: tuple) -> bool:
    return len(response) >= 1 and response[0] == b"BYE"
