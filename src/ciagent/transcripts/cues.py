"""SRT and WebVTT: timed cues, blocks separated by blank lines.

Read as webvtt-py and srt read them where those agree: a timing line starts a new cue even without
a blank line before it (YouTube's captions), a cue whose text is only a repeated timing line is
dropped, a cue with two voices (`<v Ana>...</v> <v Bo>...</v>`) is two segments sharing its time in
proportion to their text, and styling is removed: HTML-like tags, ASS override blocks (`{\\an8}`)
and escapes (`\\N`, `\\h`). A WebVTT file must start with `WEBVTT` alone or followed by a space or
tab.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

from ciagent.errors import TranscriptError
from ciagent.transcripts.text import settle_speakers, split_speaker
from ciagent.types import Segment, Transcript

__all__ = ["parse_srt", "parse_vtt"]

_TIME = r"(?:(\d+):)?([0-5]?\d):([0-5]\d)[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")
_ASS = re.compile(r"\{\\[^}]*\}")
_ASS_ESCAPE = re.compile(r"\\[Nnh]")
_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")


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


def _cues(first: int, block: list[str]) -> Iterator[tuple[int, list[str]]]:
    """A block cut into cues: a timing line after the block's first starts another cue (with
    the number line just before it, if any, as its identifier)."""
    timings = [i for i, line in enumerate(block) if i > 0 and _TIMING.match(line)]
    starts = [0]
    for at in timings:
        if at == 1 and "-->" not in block[0]:
            continue  # the block's own timing, after its identifier
        before = at - 1
        identifier = before > starts[-1] and block[before].strip().isdigit()
        starts.append(before if identifier else at)
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(block)
        yield first + start, block[start:end]


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", _ASS_ESCAPE.sub(" ", _ASS.sub("", text)))).strip()


def _voices(raw: str) -> list[tuple[str | None, str]]:
    """(speaker, text) per voice of a cue; one part when it names at most one voice."""
    found = list(_VOICE.finditer(raw))
    if len(found) <= 1:
        speaker = found[0].group(1).strip() if found else None
        return [(speaker, _plain(raw))]
    before = raw[: found[0].start()]
    parts: list[tuple[str | None, str]] = [(None, _plain(before))] if before.strip() else []
    for index, voice in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(raw)
        parts.append((voice.group(1).strip(), _plain(raw[voice.end() : end])))
    return parts


def _cue(
    source: Path, line_no: int, timing: str, body: list[str], index: int, voices: bool
) -> list[Segment]:
    match = _TIMING.match(timing)
    if match is None:
        raise TranscriptError(source, f"malformed cue timing {timing.strip()!r}", line=line_no)
    groups = match.groups()
    start, end = _seconds(groups[:4]), _seconds(groups[4:])
    if end < start:
        raise TranscriptError(source, "cue ends before it starts", line=line_no)
    raw = " ".join(part.strip() for part in body)
    parts = _voices(raw) if voices else [(None, _plain(raw))]
    parts = [(speaker, " ".join(words.split())) for speaker, words in parts]
    parts = [(speaker, words) for speaker, words in parts if words]
    total = sum(len(words) for _, words in parts) or 1
    segments: list[Segment] = []
    clock = start
    for speaker, words in parts:
        if speaker is None:
            speaker, words = split_speaker(words)
        share = (end - start) * len(words) / total
        until = end if len(segments) == len(parts) - 1 else min(end, clock + share)
        segments.append(
            Segment(id=index + len(segments), start=clock, end=until, speaker=speaker, text=words)
        )
        clock = until
    return segments


def _parse_cues(
    blocks: list[tuple[int, list[str]]], source: Path, fmt: str, voices: bool
) -> Transcript:
    """Cue blocks: an optional identifier line, the timing line, then the text."""
    segments: list[Segment] = []
    labelled: set[int] = set()  # segments whose speaker a <v> tag gave
    for block_first, block in blocks:
        if voices and block[0].strip().startswith(("NOTE", "STYLE", "REGION")):
            continue
        for first, cue in _cues(block_first, block):
            lines = cue if "-->" in cue[0] else cue[1:]
            if not lines or "-->" not in lines[0]:
                raise TranscriptError(source, "expected a cue timing line with '-->'", line=first)
            line_no = first + (len(cue) - len(lines))
            found = _cue(source, line_no, lines[0], lines[1:], len(segments), voices=voices)
            if voices and _VOICE.search(" ".join(lines[1:])):
                labelled.update(s.id for s in found)
            segments.extend(found)
    if not segments:
        raise TranscriptError(source, f"no cues with text in this {fmt.upper()} file")
    settled = settle_speakers(segments, keep=labelled)
    return Transcript(segments=tuple(settled), timed=True, format=fmt, source=str(source))


def parse_srt(text: str, source: Path) -> Transcript:
    return _parse_cues(list(_blocks(text)), source, "srt", voices=False)


def parse_vtt(text: str, source: Path) -> Transcript:
    blocks = list(_blocks(text))
    if not blocks or not _HEADER.match(blocks[0][1][0]):
        raise TranscriptError(
            source, "WebVTT file must start with 'WEBVTT' (alone, or then a space)", line=1
        )
    header_first, header = blocks[0]
    # Cues right under the header, with no blank line between, are cues all the same.
    timings = [i for i, line in enumerate(header) if _TIMING.match(line)]
    under: list[tuple[int, list[str]]] = []
    if timings:
        at = timings[0]
        start = at - 1 if at > 1 and header[at - 1].strip().isdigit() else at
        under = [(header_first + start, header[start:])]
    return _parse_cues([*under, *blocks[1:]], source, "vtt", voices=True)
