"""Outgoing mail written to a folder as .eml files: the embedded default when no
SMTP server is configured, and a record an operator can read.

It is a ``Mailer`` like the SMTP transport and goes through the same queue
(``bot.outgoing``). A file is written under a temporary name and renamed, so a
send either leaves the whole message or nothing: it is never uncertain. The
file is named after the Message-ID, so writing the same mail twice leaves one
file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from bot.errors import MailUnavailable
from bot.ports import Envelope

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxMailer:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.path)!r})"

    def send(self, envelope: Envelope) -> None:
        stem = _UNSAFE.sub("_", envelope.message_id or "message").strip("_")[:120] or "message"
        target = self.path / f"{stem}.eml"
        tmp: str | None = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path, suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(envelope.data)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise MailUnavailable(f"outbox {self.path}: cannot write {target.name}: {exc.strerror or exc}") from exc
