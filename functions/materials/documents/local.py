"""The embedded default's documents: text files in a local folder, named by Drive file id.

`make run` has no Drive, yet the sample calendar's events attach documents
(`ATTACH` lines in config/sample.ics with Drive-style links), so the local
materials page shows documents, notes and standing context the same way
production does. A document with file id `X` is the first of `X.md`,
`X.txt`, `X.csv` in the folder (config/documents by default); its title is
its first `# ` heading, else the attachment's title. A file id is never a
path: anything but Drive's id alphabet is refused, so an invitation cannot
make the app read other local files. Missing files answer `not_found`, like
Drive's 404; files above `max_bytes` answer `too_large`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from functions.materials.documents.port import (
    Document,
    DocumentRef,
    DocumentUnreadable,
    text_hash,
    valid_file_id,
)

_TYPES = {".md": "text/markdown", ".txt": "text/plain", ".csv": "text/csv"}
DEFAULT_MAX_BYTES = 1024 * 1024


class LocalDocumentReader:
    def __init__(self, folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._folder = folder
        self._max_bytes = max_bytes
        self.calls = 0

    def _path(self, file_id: str) -> Path:
        if not valid_file_id(file_id):
            raise DocumentUnreadable("no_id", "not a file id")
        for suffix in _TYPES:
            path = self._folder / f"{file_id}{suffix}"
            if path.is_file():
                return path
        raise DocumentUnreadable("not_found", "no such local document")

    def read(self, ref: DocumentRef, *, max_chars: int) -> Document:
        self.calls += 1
        path = self._path(ref.file_id)
        stat = path.stat()
        if stat.st_size > self._max_bytes:
            raise DocumentUnreadable("too_large", f"{stat.st_size} bytes")
        text = path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff")
        first = text.split("\n", 1)[0]
        title = first[2:].strip() if first.startswith("# ") else ""
        return Document(
            title=title or ref.title or ref.file_id,
            url=ref.url,
            mime_type=_TYPES[path.suffix],
            text=text[:max_chars],
            modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            content_hash=text_hash(text),
            clipped=len(text) > max_chars,
        )
