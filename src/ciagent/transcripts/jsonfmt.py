"""JSON transcripts: Whisper output (`segments` with times) and QMSum meetings (untimed turns)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ciagent.errors import TranscriptError
from ciagent.types import Segment, Transcript

__all__ = ["json_kind", "parse_json", "parse_qmsum", "parse_whisper"]


def _decode(text: str, source: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(source, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise TranscriptError(source, "JSON nested too deeply to be a transcript") from None


def json_kind(document: Any) -> str | None:
    """'whisper', 'qmsum' or None, from the document's top-level keys."""
    if isinstance(document, dict):
        if isinstance(document.get("meeting_transcripts"), list):
            return "qmsum"
        if isinstance(document.get("segments"), list):
            return "whisper"
    return None


def parse_json(text: str, source: Path) -> Transcript:
    document = _decode(text, source)
    kind = json_kind(document)
    if kind == "qmsum":
        return parse_qmsum(document, source)
    if kind == "whisper":
        return parse_whisper(document, source)
    raise TranscriptError(
        source,
        "unknown JSON transcript: expected Whisper ('segments') or QMSum ('meeting_transcripts')",
    )


def _number(value: object, where: str, source: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TranscriptError(source, f"{where} must be a finite number, got {value!r}")
    if value < 0:
        raise TranscriptError(source, f"{where} must not be negative, got {value!r}")
    return float(value)


def _speaker(value: object, where: str, source: Path) -> str | None:
    """A turn's speaker: a name (a string; a number is taken as written), or none."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TranscriptError(source, f"{where}.speaker must be a name, got {type(value).__name__}")


def parse_whisper(document: dict[str, Any], source: Path) -> Transcript:
    segments: list[Segment] = []
    for position, item in enumerate(document["segments"]):
        where = f"segments[{position}]"
        if not isinstance(item, dict):
            raise TranscriptError(source, f"{where} must be an object")
        text = item.get("text")
        if not isinstance(text, str):
            raise TranscriptError(source, f"{where}.text must be a string")
        start = _number(item.get("start"), f"{where}.start", source)
        end = _number(item.get("end"), f"{where}.end", source)
        if end < start:
            raise TranscriptError(source, f"{where} ends ({end}) before it starts ({start})")
        speaker = _speaker(item.get("speaker"), where, source)
        if not text.strip():
            continue
        segments.append(
            Segment(
                id=len(segments),
                start=start,
                end=end,
                speaker=speaker,
                text=" ".join(text.split()),
            )
        )
    if not segments:
        raise TranscriptError(source, "no segments with text")
    return Transcript(segments=tuple(segments), timed=True, format="whisper", source=str(source))


def parse_qmsum(document: dict[str, Any], source: Path) -> Transcript:
    segments: list[Segment] = []
    for position, turn in enumerate(document["meeting_transcripts"]):
        where = f"meeting_transcripts[{position}]"
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise TranscriptError(source, f"{where} must be an object with a string 'content'")
        content = " ".join(turn["content"].split())
        if not content:
            continue
        index = len(segments)
        speaker = _speaker(turn.get("speaker"), where, source)
        segments.append(
            Segment(
                id=index,
                start=index,
                end=index,
                speaker=speaker,
                text=content,
            )
        )
    if not segments:
        raise TranscriptError(source, "no turns with text")
    return Transcript(segments=tuple(segments), timed=False, format="qmsum", source=str(source))
