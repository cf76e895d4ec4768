"""A private Dovecot IMAP server for tests, on free loopback ports in a temp dir.

    with Dovecot.start() as server:          # or the ``dovecot`` fixture
        account = server.new_account()       # a fresh user with an empty mailbox
        server.append(account, "INBOX", raw_bytes)
        settings = server.settings(account)  # ImapSourceSettings, plain on loopback

One instance serves plain IMAP (with STARTTLS) on ``port`` and implicit TLS on
``tls_port``, with a self-signed certificate in ``ca_file`` (made with the
``openssl`` command). Users live in a passwd-file written at start
(``new_account`` hands out one nobody has used); the password is also
accepted as an XOAUTH2 bearer token (Dovecot 2.3 checks an OAuth2 token like a
plain password against a passwd-file passdb).

Dovecot refuses to run its login processes as root: as root the config uses
``default_login_user = dovenull``, ``default_internal_user = dovecot`` and
stores mail as the ``dovecot`` user; as another user everything runs as that
user. The config is written for the installed version (2.3 or 2.4 syntax). When
Dovecot does not come up, the error carries its own log.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient, SocketTimeout

from bot.config import ImapSourceSettings, PasswordAuth

DOVECOT = Path(os.environ.get("ORDERBOT_TEST_DOVECOT", "/usr/sbin/dovecot"))
HOST = "127.0.0.1"
ACCOUNTS = 200  # test users written at start


class DovecotError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def dovecot_version(binary: Path = DOVECOT) -> tuple[int, int]:
    """(major, minor) of the installed Dovecot; DovecotError if it is missing."""
    if not binary.exists():
        raise DovecotError(f"Dovecot is not installed at {binary} (Debian: apt-get install dovecot-imapd)")
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    found = re.match(r"(\d+)\.(\d+)", out.strip())
    if not found:
        raise DovecotError(f"cannot read the version of {binary}: {out!r}")
    return int(found.group(1)), int(found.group(2))


@dataclass(frozen=True)
class Account:
    user: str
    password: str


_CONFIG_23 = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = orderbot-test-{port}
log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {first_uid}
first_valid_gid = {first_gid}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_verbose = yes
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
mail_fsync = never
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
imap_idle_notify_interval = {idle_notify}
{extra}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
  default_fields = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
# No growing delay after failed logins (tests log in wrongly on purpose).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

# Dovecot 2.4 renamed most settings; written from its documentation.
_CONFIG_24 = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = orderbot-test-{port}
log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {first_uid}
first_valid_gid = {first_gid}
auth_allow_cleartext = yes
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
mail_driver = maildir
mail_path = {root}/mail/%{{user}}
mail_home = {root}/home/%{{user}}
mail_uid = {uid}
mail_gid = {gid}
mail_fsync = never
ssl = yes
ssl_server_cert_file = {root}/tls/cert.pem
ssl_server_key_file = {root}/tls/key.pem
imap_idle_notify_interval = {idle_notify}
{extra}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb passwd-file {{
  passwd_file_path = {root}/users
  default_password_scheme = PLAIN
}}
userdb passwd-file {{
  passwd_file_path = {root}/users
}}
service imap-login {{
  inet_listener imap {{
    listen = {host}
    port = {port}
  }}
  inet_listener imaps {{
    listen = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
# No growing delay after failed logins (tests log in wrongly on purpose).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    """One running Dovecot. Use ``Dovecot.start()`` (a context manager) or the fixture."""

    def __init__(self, root: Path, *, extra_config: str = "", idle_notify: str = "2 mins") -> None:
        self.root = root
        self.host = HOST
        self.port = free_port()
        self.tls_port = free_port()
        self.version = dovecot_version()
        self.extra_config = extra_config
        self.idle_notify = idle_notify
        self.ca_file = root / "tls" / "cert.pem"
        self._process: subprocess.Popen[bytes] | None = None
        self._unused: list[Account] = []

    # -- life cycle ---------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, extra_config: str = "", idle_notify: str = "2 mins") -> Iterator[Dovecot]:
        # Not under pytest's tmp_path: its parents are private to root, and the
        # mail processes run as the dovecot user.
        root = Path(tempfile.mkdtemp(prefix="orderbot-dovecot-"))
        server = cls(root, extra_config=extra_config, idle_notify=idle_notify)
        try:
            server._prepare()
            server.run()
            yield server
        finally:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)

    def _prepare(self) -> None:
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail", "home", "tls"):
            (self.root / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            login_user, internal_user = "dovenull", "dovecot"
            mail_user = pwd.getpwnam("dovecot")
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            login_user = internal_user = mail_user.pw_name
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        for sub in ("mail", "home"):
            os.chown(self.root / sub, uid, gid)
        self._make_certificate()
        self._write_users()
        template = _CONFIG_24 if self.version >= (2, 4) else _CONFIG_23
        (self.root / "dovecot.conf").write_text(
            template.format(
                host=self.host,
                root=self.root,
                port=self.port,
                tls_port=self.tls_port,
                login_user=login_user,
                internal_user=internal_user,
                uid=uid,
                gid=gid,
                first_uid=min(uid, 500),
                first_gid=min(gid, 500),
                idle_notify=self.idle_notify,
                extra=self.extra_config,
            )
        )

    def _make_certificate(self) -> None:
        tls = self.root / "tls"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def run(self) -> None:
        """Start the server process and wait until both ports answer."""
        # Dovecot's own messages before its log is open (config errors) go here.
        with open(self.root / "startup.log", "ab") as startup:
            self._process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=startup,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise DovecotError(f"Dovecot exited at start:\n{self.log()}")
            if _answers(self.port) and _answers(self.tls_port):
                return
            time.sleep(0.05)
        self.stop()
        raise DovecotError(f"Dovecot did not open ports {self.port}/{self.tls_port} within 15 s:\n{self.log()}")

    def stop(self) -> None:
        """Stop every Dovecot process of this instance (its process group)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # Children that outlive the master (zombies are harmless: they hold no port).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.run()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What Dovecot wrote: its start-up output, then its log file."""
        parts = [p.read_text(errors="replace") for p in (self.root / "startup.log", self.root / "dovecot.log") if p.exists()]
        return "".join(parts) or "(Dovecot wrote nothing)"

    # -- accounts and mail --------------------------------------------------

    def new_account(self) -> Account:
        """A user nobody has used yet, with an empty mailbox. The password
        doubles as XOAUTH2 token. (Users are written at start: Dovecot re-reads
        its passwd-file at most once a second.)"""
        try:
            account = self._unused.pop()
        except IndexError:
            raise DovecotError(f"all {ACCOUNTS} test accounts of this Dovecot are used; raise ACCOUNTS") from None
        return account

    def _write_users(self) -> None:
        self._unused = [Account(f"user{n}", f"pw-{os.urandom(6).hex()}") for n in range(ACCOUNTS, 0, -1)]
        (self.root / "users").write_text("".join(f"{a.user}:{{PLAIN}}{a.password}::::::\n" for a in self._unused))

    def client(self, account: Account, *, port: int | None = None) -> IMAPClient:
        """A logged-in IMAPClient over plain loopback (for test set-up and checks)."""
        client = IMAPClient(self.host, port=port or self.port, ssl=False, timeout=SocketTimeout(5, 30))
        client.login(account.user, account.password)
        return client

    def append(self, account: Account, folder: str, *messages: bytes, flags: tuple[str, ...] = ()) -> None:
        with self.client(account) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for data in messages:
                client.append(folder, data, flags=flags)

    def folder_uids(self, account: Account, folder: str) -> list[int]:
        with self.client(account) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["NOT", "DELETED"]))

    def message_ids(self, account: Account, folder: str) -> list[tuple[str, tuple[bytes, ...]]]:
        """(Message-ID, flags) of every message in the folder not flagged \\Deleted, by UID."""
        with self.client(account) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "FLAGS"])
            out = []
            for uid in sorted(fetched):
                header = fetched[uid][b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode("ascii", "replace")
                found = re.search(r"<[^<>\s]+>", header)
                out.append((found.group(0) if found else "", fetched[uid][b"FLAGS"]))
            return out

    def folder_messages(self, account: Account, folder: str) -> dict[int, tuple[bytes, tuple[bytes, ...]]]:
        """uid -> (bytes, flags) of every message in the folder, read without setting \\Seen."""
        with self.client(account) as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            if not uids:
                return {}
            fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
            return {uid: (item[b"BODY[]"], item[b"FLAGS"]) for uid, item in fetched.items()}

    # -- settings for the source under test --------------------------------

    def settings(self, account: Account, *, name: str | None = None, port: int | None = None, **overrides) -> ImapSourceSettings:
        values: dict = {
            "name": name or account.user,
            "host": self.host,
            "port": port or self.port,
            "security": "plain",
            "auth": PasswordAuth(username=account.user, password=account.password),
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
        }
        values.update(overrides)
        return ImapSourceSettings(**values)


@contextlib.contextmanager
def running_dovecot(**options) -> Iterator[Dovecot]:
    """``Dovecot.start()`` for a fixture: skips the tests when Dovecot is not
    installed, except under CI (``CI`` set), where that fails."""
    try:
        dovecot_version()
    except DovecotError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with Dovecot.start(**options) as server:
        yield server


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False
