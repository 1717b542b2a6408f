"""Where the local server runs, so `main.py dev-event` signs for the right address.

Tokens name their audience, and the local audience is the served URL
(`http://127.0.0.1:PORT/addon`): a token signed for port 8080 is refused by a
server on port 9000, as Google's would be. `serve` therefore writes its URL and
process id to `server.json` next to its SQLite database (`.local/` by default,
so two servers with two databases do not overwrite each other), and removes it
on a clean exit; `dev-event` reads it and checks that the process still runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SERVER_FILE = "server.json"


def server_file(sqlite_path: str | Path) -> Path:
    return Path(sqlite_path).parent / SERVER_FILE


def write_served(sqlite_path: str | Path, url: str) -> Path:
    """Record that this process serves `url` (atomically: a reader never sees half a file)."""
    path = server_file(sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
    partial.replace(path)
    return path


def forget_served(sqlite_path: str | Path) -> None:
    """Remove the record if it is still this process's (a newer server may have replaced it)."""
    path = server_file(sqlite_path)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def served_url(sqlite_path: str | Path) -> str | None:
    """The URL a running local server recorded, or None (no file, or its process is gone)."""
    try:
        record = json.loads(server_file(sqlite_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    url, pid = record.get("url"), record.get("pid")
    if not isinstance(url, str) or not url.startswith("http://") or not isinstance(pid, int):
        return None
    if pid <= 0 or not _alive(pid):
        return None
    return url
