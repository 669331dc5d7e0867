"""Reading a transcript file's text: size, binary and encoding checks with precise errors."""

from __future__ import annotations

import codecs
from pathlib import Path

from ciagent.errors import TranscriptError

__all__ = ["MAX_BYTES", "read_text"]

MAX_BYTES = 200 * 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: Path) -> str:
    """Return the file's text, or raise `TranscriptError` naming the file (and line) at fault."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TranscriptError(path, "no such file") from None
    except IsADirectoryError:
        raise TranscriptError(path, "is a directory, not a transcript file") from None
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise TranscriptError(path, f"file is {len(data)} bytes; the limit is {MAX_BYTES}")
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    else:
        if b"\x00" in data[:8192]:
            raise TranscriptError(path, "binary file (contains NUL bytes), not a transcript")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TranscriptError(
            path, f"not valid {encoding.upper()} (byte 0x{data[exc.start]:02x})", line=line
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TranscriptError(path, "empty transcript")
    return text
