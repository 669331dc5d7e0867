"""Plain text: one turn per line, with an optional `Speaker:` prefix. Untimed.

A label is a speaker when the transcript is labelled (at least half its turns carry one) or when
it comes back (said on two turns or more): "Digo: no sé" once in an unlabelled transcript is what
was said, not who said it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

from ciagent.types import Segment, Transcript

__all__ = ["parse_text", "settle_speakers", "split_speaker"]

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


def settle_speakers(
    segments: Sequence[Segment], keep: Collection[int] = frozenset()
) -> list[Segment]:
    """The segments with each label that is not a speaker put back into its text (see the
    module's rule); the speakers of the segments in `keep` (given by markup) stand."""
    labels = Counter(s.speaker for s in segments if s.speaker is not None and s.id not in keep)
    labelled = sum(1 for s in segments if s.speaker is not None) * 2 >= len(segments)
    if labelled:
        return list(segments)
    return [
        s.model_copy(update={"speaker": None, "text": f"{s.speaker}: {s.text}"})
        if s.speaker is not None and s.id not in keep and labels[s.speaker] < 2
        else s
        for s in segments
    ]


def parse_text(text: str, source: Path) -> Transcript:
    segments: list[Segment] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        speaker, line = split_speaker(line)
        index = len(segments)
        segments.append(Segment(id=index, start=index, end=index, speaker=speaker, text=line))
    return Transcript(
        segments=tuple(settle_speakers(segments)), timed=False, format="txt", source=str(source)
    )
