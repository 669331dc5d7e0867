"""Transcript loaders, one per format, and format detection from extension and content."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ciagent.errors import TranscriptError
from ciagent.transcripts._read import MAX_BYTES, read_text
from ciagent.transcripts.cues import parse_srt, parse_vtt
from ciagent.transcripts.jsonfmt import parse_json
from ciagent.transcripts.text import parse_text
from ciagent.types import Transcript

__all__ = ["EXTENSIONS", "FORMATS", "detect_format", "load_transcript"]

Parser = Callable[[str, Path], Transcript]

FORMATS: dict[str, Parser] = {
    "txt": parse_text,
    "srt": parse_srt,
    "vtt": parse_vtt,
    "json": parse_json,
}
_EXTENSIONS = {".txt": "txt", ".text": "txt", ".srt": "srt", ".vtt": "vtt", ".json": "json"}
EXTENSIONS = frozenset(_EXTENSIONS)
"""The file extensions read as transcripts (`ciagent batch` scans a folder for them)."""
_SRT_START = re.compile(r"^\s*\d+\s*\n\s*[\d:,.]+\s*-->")


def detect_format(path: Path, text: str) -> str:
    """The loader to use: by extension first, then by content; unknown formats are an error."""
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    if by_extension is not None:
        return by_extension
    head = text.lstrip()[:512]
    if head.startswith("WEBVTT"):
        return "vtt"
    if _SRT_START.match(head):
        return "srt"
    if head.startswith("{"):
        return "json"
    known = ", ".join(sorted(_EXTENSIONS))
    raise TranscriptError(path, f"unknown transcript format (supported extensions: {known})")


def load_transcript(
    path: str | Path, format: str | None = None, max_bytes: int = MAX_BYTES
) -> Transcript:
    """Read a transcript file in any supported format.

    `format` forces a loader ("txt", "srt", "vtt", "json"); by default it is detected. A file
    larger than `max_bytes` is refused unread. Raises `TranscriptError` naming the file, and the
    line where one applies.
    """
    file = Path(path)
    text = read_text(file, max_bytes)
    name = format or detect_format(file, text)
    parser = FORMATS.get(name)
    if parser is None:
        raise TranscriptError(file, f"unknown format {name!r}; choose one of {sorted(FORMATS)}")
    return parser(text, file)
