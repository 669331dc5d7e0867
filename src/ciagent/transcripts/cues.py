"""SRT and WebVTT: timed cues, blocks separated by blank lines."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

from ciagent.errors import TranscriptError
from ciagent.transcripts.text import split_speaker
from ciagent.types import Segment, Transcript

__all__ = ["parse_srt", "parse_vtt"]

_TIME = r"(?:(\d+):)?([0-5]?\d):([0-5]\d)[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")


def _seconds(groups: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, millis = groups
    return (
        int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + int(seconds or 0)
        + int((millis or "0").ljust(3, "0")) / 1000
    )


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, lines) for each blank-line separated block."""
    block: list[str] = []
    first = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not block:
                first = number
            block.append(line.rstrip())
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def _cue(
    source: Path, line_no: int, timing: str, body: list[str], index: int, voices: bool
) -> Segment | None:
    match = _TIMING.match(timing)
    if match is None:
        raise TranscriptError(source, f"malformed cue timing {timing.strip()!r}", line=line_no)
    groups = match.groups()
    start, end = _seconds(groups[:4]), _seconds(groups[4:])
    if end < start:
        raise TranscriptError(source, "cue ends before it starts", line=line_no)
    speaker: str | None = None
    raw = " ".join(part.strip() for part in body)
    if voices:
        voice = _VOICE.search(raw)
        if voice:
            speaker = voice.group(1).strip()
    words = html.unescape(_TAG.sub("", raw)).strip()
    if speaker is None:
        speaker, words = split_speaker(words)
    if not words:
        return None
    return Segment(id=index, start=start, end=end, speaker=speaker, text=" ".join(words.split()))


def _parse_cues(
    blocks: list[tuple[int, list[str]]], source: Path, fmt: str, voices: bool
) -> Transcript:
    """Cue blocks: an optional identifier line, the timing line, then the text."""
    segments: list[Segment] = []
    for first, block in blocks:
        if voices and block[0].strip().startswith(("NOTE", "STYLE", "REGION")):
            continue
        lines = block if "-->" in block[0] else block[1:]
        if not lines or "-->" not in lines[0]:
            raise TranscriptError(source, "expected a cue timing line with '-->'", line=first)
        line_no = first + (len(block) - len(lines))
        segment = _cue(source, line_no, lines[0], lines[1:], len(segments), voices=voices)
        if segment is not None:
            segments.append(segment)
    if not segments:
        raise TranscriptError(source, f"no cues with text in this {fmt.upper()} file")
    return Transcript(segments=tuple(segments), timed=True, format=fmt, source=str(source))


def parse_srt(text: str, source: Path) -> Transcript:
    return _parse_cues(list(_blocks(text)), source, "srt", voices=False)


def parse_vtt(text: str, source: Path) -> Transcript:
    blocks = list(_blocks(text))
    if not blocks or not blocks[0][1][0].startswith("WEBVTT"):
        raise TranscriptError(source, "WebVTT file must start with 'WEBVTT'", line=1)
    return _parse_cues(blocks[1:], source, "vtt", voices=True)
