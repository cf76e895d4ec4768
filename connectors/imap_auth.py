"""OAuth2 access tokens for XOAUTH2 logins (Microsoft 365, Gmail).

orderbot does not run an OAuth2 flow itself: an access token comes from a
command (``token_command``, e.g. a helper that holds the refresh token) or from
a file another tool keeps fresh (``token_file``). ``CachedToken`` hands the same
token out until it is older than ``token_lifetime_seconds`` or the caller asks
for a fresh one because the server rejected it.

A token is a secret: it is never logged, and no error message contains it
(a command's stdout, where the token is, is never quoted; its stderr is).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bot.config import OAuth2Auth
from bot.errors import ConfigError, SourceUnavailable

Clock = Callable[[], float]  # seconds, monotonic


class TokenSource(Protocol):
    """Where a new access token comes from."""

    def fetch(self) -> str: ...


class TokenProvider(Protocol):
    def token(self, *, refresh: bool = False) -> str:
        """The current access token; ``refresh`` forces a new one."""
        ...


class CommandToken:
    """Runs ``command`` with ``/bin/sh -c`` and takes the first line of its stdout."""

    def __init__(self, command: str, *, timeout: float, account: str) -> None:
        self.command = command
        self.timeout = timeout
        self.account = account

    def fetch(self) -> str:
        where = f"account {self.account}: token_command"
        try:
            process = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout stops the helper's children too
            )
        except OSError as exc:
            raise ConfigError(f"{where} cannot be run: {exc.strerror}") from exc
        try:
            stdout, stderr = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise SourceUnavailable(f"{where} did not finish within {self.timeout:g} s") from exc
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if done.returncode in (126, 127):  # the shell's "not executable" / "not found"
            raise ConfigError(f"{where} cannot be run (exit {done.returncode}): {_last_line(done.stderr)}")
        if done.returncode != 0:
            raise SourceUnavailable(f"{where} failed (exit {done.returncode}): {_last_line(done.stderr)}")
        token = done.stdout.decode("utf-8", "replace").strip().splitlines()
        if not token or not token[0].strip():
            raise SourceUnavailable(f"{where} printed no token")
        return token[0].strip()


class FileToken:
    """Reads the token from a file (its first line) each time a new one is needed."""

    def __init__(self, path: Path, *, account: str) -> None:
        self.path = Path(path)
        self.account = account

    def fetch(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise ConfigError(f"account {self.account}: token_file {self.path} does not exist") from exc
        except OSError as exc:
            raise ConfigError(f"account {self.account}: cannot read token_file {self.path}: {exc.strerror}") from exc
        if not text:
            # Another tool may be rewriting it right now.
            raise SourceUnavailable(f"account {self.account}: token_file {self.path} is empty")
        return text.splitlines()[0].strip()


class CachedToken:
    """A token kept until it is ``lifetime`` seconds old or a refresh is asked for."""

    def __init__(self, source: TokenSource, *, lifetime: float, clock: Clock = time.monotonic) -> None:
        self.source = source
        self.lifetime = lifetime
        self.clock = clock
        self.fetches = 0
        self._token: str | None = None
        self._fetched_at = 0.0

    def token(self, *, refresh: bool = False) -> str:
        now = self.clock()
        if refresh or self._token is None or now - self._fetched_at >= self.lifetime:
            self._token = self.source.fetch()
            self._fetched_at = now
            self.fetches += 1
        return self._token

    def __repr__(self) -> str:  # never show the token
        return f"CachedToken({type(self.source).__name__}, lifetime={self.lifetime:g})"


def token_provider(auth: OAuth2Auth, *, account: str, clock: Clock = time.monotonic) -> CachedToken:
    source: TokenSource
    if auth.token_command is not None:
        source = CommandToken(auth.token_command, timeout=auth.token_command_timeout, account=account)
    else:
        assert auth.token_file is not None  # the settings allow exactly one of the two
        source = FileToken(auth.token_file, account=account)
    return CachedToken(source, lifetime=auth.token_lifetime_seconds, clock=clock)


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "(nothing on stderr)"
