"""Plain text: one turn per line, with an optional `Speaker:` prefix. Untimed."""

from __future__ import annotations

import re
from pathlib import Path

from ciagent.types import Segment, Transcript

__all__ = ["parse_text", "split_speaker"]

# A speaker label is a short name, not a sentence that happens to contain a colon.
_SPEAKER = re.compile(r"^\s*([^\W\d_][\w.'\- ]{0,39}?)\s*:\s+(\S.*)$")
_PARTICLES = frozenset({"de", "del", "la", "le", "van", "von", "da", "di", "bin", "al"})


def split_speaker(line: str) -> tuple[str | None, str]:
    """(speaker, text) when the line starts with a label like `Ana Ruiz:`, else (None, line)."""
    match = _SPEAKER.match(line)
    if match:
        words = match.group(1).split()
        if len(words) <= 4 and all(
            w[0].isupper() or w[0].isdigit() or w in _PARTICLES for w in words
        ):
            return match.group(1), match.group(2).strip()
    return None, line


def parse_text(text: str, source: Path) -> Transcript:
    segments: list[Segment] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        speaker, line = split_speaker(line)
        index = len(segments)
        segments.append(Segment(id=index, start=index, end=index, speaker=speaker, text=line))
    return Transcript(segments=tuple(segments), timed=False, format="txt", source=str(source))
