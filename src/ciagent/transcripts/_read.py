"""Reading a transcript file's text: size, binary and encoding checks with precise errors."""

from __future__ import annotations

import codecs
from pathlib import Path

from ciagent.errors import TranscriptError

__all__ = ["MAX_BYTES", "read_text"]

MAX_BYTES = 200 * 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _wide(head: bytes) -> str | None:
    """UTF-32 or UTF-16 without a byte-order mark, told by where the NUL bytes of mostly-Latin
    text fall (all but one byte of four, or one of two, in the same place each time)."""
    size = len(head) - len(head) % 4
    if size < 8:
        return None
    head = head[:size]

    def nul_share(offset: int, step: int) -> float:
        column = head[offset::step]
        return column.count(0) / len(column)

    for name, zeros, letters in (
        ("utf-32-le", (1, 2, 3), 0),
        ("utf-32-be", (0, 1, 2), 3),
    ):
        if all(nul_share(z, 4) > 0.99 for z in zeros) and nul_share(letters, 4) < 0.5:
            return name
    if nul_share(1, 2) > 0.6 and nul_share(0, 2) < 0.1:
        return "utf-16-le"
    if nul_share(0, 2) > 0.6 and nul_share(1, 2) < 0.1:
        return "utf-16-be"
    return None


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """Return the file's text, or raise `TranscriptError` naming the file (and line) at fault;
    a file over `max_bytes` is refused before it is read."""
    try:
        size = path.stat().st_size
        if size > max_bytes and path.is_file():
            raise TranscriptError(
                path,
                f"file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:g} MiB "
                "(setting max_transcript_mb)",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise TranscriptError(path, "no such file") from None
    except IsADirectoryError:
        raise TranscriptError(path, "is a directory, not a transcript file") from None
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc.strerror}") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        encoding = _wide(data[:8192]) or "utf-8"
        if encoding == "utf-8" and b"\x00" in data[:8192]:
            raise TranscriptError(path, "binary file (contains NUL bytes), not a transcript")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TranscriptError(
            path, f"not valid {encoding.upper()} (byte 0x{data[exc.start]:02x})", line=line
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TranscriptError(path, "contains a NUL character: a binary or damaged file", line=line)
    if not text.strip():
        raise TranscriptError(path, "empty transcript")
    return text
