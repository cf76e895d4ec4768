"""How a raw message is recognised again, whichever mailbox or folder it turns up in.

The ledger keys a message on its Message-ID plus a SHA-256 of its content. The
content hash leaves out the trace headers that each delivery adds (Received,
Delivered-To, ...), so the same message delivered to two mailboxes, or moved
between folders, has one key; a different message reusing a Message-ID does not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

_TRACE_HEADERS = frozenset(
    {
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "x-delivered-to",
        "x-received",
        "authentication-results",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
        "x-spam-status",
        "x-spam-score",
        "x-spam-flag",
        "x-virus-scanned",
        "status",
        "x-status",
        "x-keywords",
        "x-uid",
        "lines",
        "content-length",
    }
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class Identity:
    message_id: str
    sha256: str  # of the raw bytes, for the content-addressed blob
    dedup_key: str


def _content_digest(data: bytes) -> str:
    end = _HEADER_END.search(data)
    if end is None:
        return hashlib.sha256(data).hexdigest()
    head, body = data[: end.start()], data[end.start() :]
    kept: list[bytes] = []
    skipping = False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("latin-1")
        skipping = name in _TRACE_HEADERS
        if not skipping:
            kept.append(line)
    digest = hashlib.sha256()
    digest.update(b"\n".join(kept))
    digest.update(body.replace(b"\r\n", b"\n"))
    return digest.hexdigest()


def identify(data: bytes) -> Identity:
    sha = hashlib.sha256(data).hexdigest()
    message_id = ""
    if not data.startswith(b"%PDF"):
        try:
            headers = BytesHeaderParser(policy=compat32).parsebytes(data[:262_144])
            found = _MESSAGE_ID.search(str(headers.get("Message-ID", "") or ""))
            message_id = found.group(0) if found else ""
        except Exception:  # noqa: BLE001 - any header garbage just means "no Message-ID"
            message_id = ""
    if not message_id:
        message_id = f"<{sha}@orderbot.invalid>"
    key = hashlib.sha256(f"{message_id}\0{_content_digest(data)}".encode()).hexdigest()
    return Identity(message_id, sha, key)
