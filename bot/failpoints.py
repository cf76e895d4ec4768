"""Failpoints: named places where a crash test can make the process die.

A failpoint is inert unless ``ORDERBOT_FAILPOINTS`` names it when the process
starts, as ``NAME=N`` pairs separated by commas: the process kills itself with
SIGKILL the N-th time it reaches NAME, e.g.

    ORDERBOT_FAILPOINTS=keying.after_submit=3

kills it right after its third portal submit, before the store hears of it.
SIGKILL, not an exception: nothing runs after it (no ``finally``, no commit, no
lease release), which is what a power cut or the OOM killer does. The crash
test (tests/test_crash.py) uses them to hit the narrow windows a random kill
rarely finds; each place is listed in ``POINTS``.
"""

from __future__ import annotations

import os
import signal
import threading

from bot.errors import ConfigError

ENV = "ORDERBOT_FAILPOINTS"

POINTS = {
    "intake.while_deciding": "a message's deciding has begun (counted), nothing of it committed",
    "intake.after_commit": "the message's outcome is committed, the source not yet settled",
    "keying.after_begin": "the keying attempt is committed, the portal not yet touched",
    "keying.after_submit": "the portal saved the order, the store does not know yet",
    "mail.after_send": "the SMTP server took the mail, the store does not know yet",
}


def parse(spec: str) -> dict[str, int]:
    """``"a=1,b=2"`` -> ``{"a": 1, "b": 2}``; an unknown name or a count that is
    not a positive whole number is a ``ConfigError`` naming it."""
    armed: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = part.partition("=")
        if name not in POINTS:
            raise ConfigError(f"{ENV}: unknown failpoint {name!r} (known: {', '.join(sorted(POINTS))})")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"{ENV}: {part!r}: give the hit to die at as NAME=N with N >= 1")
        armed[name] = int(count)
    return armed


_armed: dict[str, int] | None = None  # read from the environment on first use
_hits: dict[str, int] = {}
_lock = threading.Lock()


def _load() -> dict[str, int]:
    global _armed
    if _armed is None:
        _armed = parse(os.environ.get(ENV, ""))
    return _armed


def reach(name: str) -> None:
    """Mark that the process reached failpoint ``name``; dies here if armed for this hit."""
    armed = _load()
    if not armed:
        return
    assert name in POINTS, name
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] != armed.get(name):
            return
    os.write(2, f"failpoint {name}: SIGKILL at hit {_hits[name]}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def active() -> dict[str, int]:
    """The armed failpoints (for a warning at start-up); a malformed
    ``ORDERBOT_FAILPOINTS`` is a ``ConfigError`` here, at the first call."""
    return dict(_load())


__all__ = ["ENV", "POINTS", "active", "parse", "reach"]
