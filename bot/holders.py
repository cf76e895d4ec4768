"""Who holds a lease or a keying attempt, and whether that process still lives.

A holder is ``HOST:PID:NONCE``. After a crash (SIGKILL, power cut) the store
still names the dead process as the holder of its leases and attempts; waiting
for them to expire would hold a restarted daemon up for minutes. A holder on
this host whose process is gone is dead at once; one on another host, or one
that does not look like ours, is only dead once its lease expires (we cannot
see other machines' processes).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Protocol

_issued: set[str] = set()  # nonces this process handed out


def is_dead(holder: str) -> bool:
    """True only when ``holder`` is certainly a process of this host that is gone.

    A pid that is alive counts as alive even when it was reused by another
    program (we then wait for the lease to expire: slow, never wrong). Our own
    pid under another holder id is an earlier life of this process (a
    container restarts its daemon with the same pid)."""
    host, _, rest = holder.partition(":")
    pid_text, _, nonce = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or not nonce:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return nonce not in _issued
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class LeaseReader(Protocol):
    def lease_lapsed(self, name: str) -> bool: ...

    def lease_expiry(self, name: str) -> datetime | None: ...

    def now(self) -> datetime: ...


def worker_lease(holder: str) -> str:
    """The lease an ``orderbot worker`` renews with its heartbeat while it lives."""
    return f"worker:{holder}"


def holder_dead(store: LeaseReader, holder: str) -> bool:
    """Dead by what this host sees (``is_dead``) or by a worker heartbeat that
    has lapsed in the store."""
    return is_dead(holder) or store.lease_lapsed(worker_lease(holder))


def abandoned(store: LeaseReader, holder: str, since: datetime, stale_after: timedelta) -> bool:
    """Whether what ``holder`` took at ``since`` (a keying attempt, a mail being
    sent) was left behind: its holder is dead; or it is no worker (a worker
    would renew a heartbeat) and ``since`` is older than ``stale_after``. A
    live worker's work is never judged abandoned, however slow it is."""
    if holder_dead(store, holder):
        return True
    if store.lease_expiry(worker_lease(holder)) is not None:
        return False  # a live worker: its heartbeat says so
    return since <= store.now() - stale_after


def holder() -> str:
    """A new holder id of this process (recorded, so ``is_dead`` knows it is ours)."""
    nonce = uuid.uuid4().hex[:8]
    _issued.add(nonce)
    return f"{socket.gethostname()}:{os.getpid()}:{nonce}"


__all__ = ["LeaseReader", "abandoned", "holder", "holder_dead", "is_dead", "worker_lease"]
