"""A folder of ``.eml`` files and bare PDFs as a mail source (the embedded default).

Files are read in name order. Nothing is moved or deleted: the ledger knows
what was processed, so a file is never processed twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.errors import SourceUnavailable
from bot.model import MessageStatus, RawMessage


class FolderSource:
    def __init__(self, name: str, path: Path, patterns: tuple[str, ...] = ("*.eml", "*.pdf")) -> None:
        self.name = name
        self.path = Path(path)
        self.patterns = patterns

    def files(self) -> list[Path]:
        if not self.path.is_dir():
            raise SourceUnavailable(f"source {self.name}: folder {self.path} does not exist")
        found = {p for pattern in self.patterns for p in self.path.glob(pattern) if p.is_file()}
        found |= {p for pattern in self.patterns for p in self.path.glob(pattern.upper()) if p.is_file()}
        return sorted(found)

    def fetch_new(self) -> Iterator[RawMessage]:
        for path in self.files():
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SourceUnavailable(f"source {self.name}: cannot read {path}: {exc.strerror}") from exc
            yield RawMessage(
                data=data,
                origin=f"folder:{path}",
                name=path.name,
                # A file is its own location: the ledger remembers every path a
                # message was seen at (files have no UIDs; 0 stands for none).
                account=self.name,
                folder=str(path),
                uidvalidity=0,
                uid=0,
            )

    def settle(self, raw: RawMessage, status: MessageStatus) -> None:
        """Files stay where they are; the ledger entry is the settlement."""
