"""Accounts, sessions and CSRF tokens of the workbench.

Passwords are argon2id hashes (argon2-cffi defaults). A session is a random
token in an HttpOnly, SameSite=Strict cookie; the database keeps only its
SHA-256, with the session's CSRF token and when it was last used. A session
unused for ``idle`` ends; logout deletes it, so the old cookie is refused.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.errors import OrderbotError
from bot.review.store import ReviewDb
from bot.store.schema import review_sessions, review_users

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 10


class Role(enum.StrEnum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"


class AccountError(OrderbotError):
    """A user that cannot be created (name taken, password too short)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool

    @property
    def actor(self) -> str:
        """How the user is named in the store's event log."""
        return f"handler:{self.name}"


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str
    token_hash: str
    last_seen_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row) -> User:
    return User(row.id, row.name, Role(row.role), bool(row.disabled))


class Accounts:
    def __init__(self, db: ReviewDb, *, idle: timedelta) -> None:
        self.db = db
        self.idle = idle

    # --- users --------------------------------------------------------------

    def add_user(self, name: str, role: Role | str, password: str) -> User:
        name = name.strip()
        if not name or any(c.isspace() for c in name):
            raise AccountError(f"{name!r}: a user name is one word")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
        try:
            with self.db.writing() as conn:
                new_id = conn.execute(
                    insert(review_users)
                    .values(
                        name=name,
                        role=Role(role),
                        password_hash=_hasher.hash(password),
                        created_at=self.db.now(),
                        disabled=False,
                    )
                    .returning(review_users.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise AccountError(f"user {name!r} exists already") from exc
        return User(new_id, name, Role(role), False)

    def remove_user(self, name: str) -> bool:
        """Delete the account ``name`` and its sessions (audit entries and
        corrections name users by name, so they stay); False if there was none."""
        with self.db.writing() as conn:
            user_id = select(review_users.c.id).where(review_users.c.name == name).scalar_subquery()
            conn.execute(delete(review_sessions).where(review_sessions.c.user_id == user_id))
            return conn.execute(delete(review_users).where(review_users.c.name == name)).rowcount == 1

    def user(self, name: str) -> User | None:
        with self.db.reading() as conn:
            row = conn.execute(select(review_users).where(review_users.c.name == name)).one_or_none()
        return _user(row) if row is not None else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the name and password match and the account is enabled."""
        with self.db.reading() as conn:
            row = conn.execute(select(review_users).where(review_users.c.name == name)).one_or_none()
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return _user(row)

    # --- sessions -----------------------------------------------------------

    def start_session(self, user: User) -> tuple[str, Session]:
        """A new session; returns the cookie's token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.db.now()
        with self.db.writing() as conn:
            conn.execute(
                insert(review_sessions).values(
                    token_hash=_token_hash(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token, Session(user, csrf, _token_hash(token), now)

    def session(self, token: str | None) -> Session | None:
        """The live session of this cookie token, its idle clock reset; None if
        unknown, ended, idle too long, or its user was disabled."""
        if not token:
            return None
        key = _token_hash(token)
        now = self.db.now()
        with self.db.writing() as conn:
            row = conn.execute(
                select(review_sessions, review_users)
                .join(review_users, review_users.c.id == review_sessions.c.user_id)
                .where(review_sessions.c.token_hash == key)
            ).one_or_none()
            if row is None:
                return None
            if row.last_seen_at + self.idle <= now or row.disabled:
                conn.execute(delete(review_sessions).where(review_sessions.c.token_hash == key))
                return None
            conn.execute(
                update(review_sessions).where(review_sessions.c.token_hash == key).values(last_seen_at=now)
            )
        user = User(row.user_id, row.name, Role(row.role), bool(row.disabled))
        return Session(user, row.csrf_token, key, now)

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with self.db.writing() as conn:
            conn.execute(delete(review_sessions).where(review_sessions.c.token_hash == _token_hash(token)))


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted or "")
