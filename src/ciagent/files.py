"""Files written whole or not at all, so a killed process never leaves a truncated one; and
damaged database files moved out of the way."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

__all__ = ["append_line", "move_aside", "write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temp file in the same folder, flush it to disk, then rename it over
    `path` (a rename within one file system is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write (a reader skips a last line cut short by a kill)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def move_aside(database: Path) -> Path:
    """Rename a damaged SQLite file (and its -wal and -shm files) to `<name>.damaged-<time>`
    beside it, so a new one can be started and the old one is kept for a look; returns the new
    name of the main file."""
    aside = database.with_name(f"{database.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    return aside
