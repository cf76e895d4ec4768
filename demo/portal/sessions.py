"""In-memory login sessions with an idle timeout, a CSRF token and the order forms they issued."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "PORTALSESSID"
PRELOGIN_COOKIE = "PORTALPRELOGIN"


@dataclass
class Session:
    sid: str
    user: str
    csrf_token: str
    last_seen: float
    form_tokens: set[str] = field(default_factory=set)

    def new_form_token(self) -> str:
        token = secrets.token_urlsafe(16)
        self.form_tokens.add(token)
        return token


class SessionStore:
    """Thread-safe; an idle session expires after the timeout current at the time of the request."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(24), user, secrets.token_urlsafe(24), time.monotonic())
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def touch(self, sid: str | None, timeout: float) -> Session | None:
        """The live session for sid (and its idle clock restarted), or None when unknown or expired."""
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > timeout:
                del self._sessions[sid]
                return None
            session.last_seen = now
            return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)
