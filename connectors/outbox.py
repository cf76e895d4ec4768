"""Outgoing mail written to a folder as .eml files: the embedded default when no
SMTP server is configured, and a record an operator can read."""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxMailer:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, message: EmailMessage) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stem = _UNSAFE.sub("_", str(message["Message-ID"] or "message")).strip("_")[:120]
        target = self.path / f"{stem}.eml"
        # Write then rename, so a reader never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.path, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, target)
