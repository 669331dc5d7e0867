"""Assertions shared by the tests."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

from ciagent import Entity, EpisodeEnrichment, Segment, Transcript
from ciagent.llm.backend import Backend
from ciagent.testing import FakeRequest, default_answer

_named = itertools.count()


def reference(backend: Backend) -> str:
    """A backend object as the command line and config files name one, `module:attribute`:
    held here, under a name of its own."""
    name = f"backend_{next(_named)}"
    setattr(sys.modules[__name__], name, backend)
    return f"{__name__}:{name}"


def assert_grounded(result: EpisodeEnrichment, transcript: Transcript) -> None:
    """Every kept mention and quote is really in the segments it cites, at their times, and
    every chapter's times are those of its first and last segments."""
    for entity in result.entities:
        assert entity.mentions
        for mention in entity.mentions:
            segments = [transcript.segments[i] for i in mention.segment_ids]
            assert mention.segment_ids == list(range(segments[0].id, segments[-1].id + 1))
            assert mention.text in " ".join(s.text for s in segments), (entity.name, mention)
            assert _sliced(segments, mention.char_start, mention.char_end) == mention.text
            assert mention.start == segments[0].start
            assert mention.end == segments[-1].end
    for chapter in result.chapters:
        first, last = chapter.segment_ids[0], chapter.segment_ids[-1]
        assert chapter.segment_ids == list(range(first, last + 1))
        assert (chapter.start, chapter.end) == (
            transcript.segments[first].start,
            transcript.segments[last].end,
        )
    for quote in result.quotes:
        segments = [transcript.segments[i] for i in quote.segment_ids]
        assert quote.text in " ".join(s.text for s in segments)
        assert _sliced(segments, quote.char_start, quote.char_end) == quote.text
        assert quote.speaker == segments[0].speaker
        assert (quote.start, quote.end) == (segments[0].start, segments[-1].end)


def without_cost(result: EpisodeEnrichment) -> dict[str, object]:
    """The result minus what this run spent (a cached replay spends nothing) and what names
    the run (its id, when it was made)."""
    return result.model_dump(
        exclude={
            "cost": True,
            "verification": {"verification_usd", "escalation_usd"},
            "provenance": {"run_id", "created_at"},
        }
    )


def _sliced(segments: list[Segment], start: int, end: int) -> str:
    """The text from offset `start` of the first segment to `end` of the last."""
    if len(segments) == 1:
        return segments[0].text[start:end]
    return f"{segments[0].text[start:]} {segments[-1].text[:end]}"


def transcript_of(text: str) -> Transcript:
    """A timed transcript from `Speaker: text` lines, ten seconds per line."""
    lines = [line.split(": ", 1) for line in text.strip().splitlines()]
    return Transcript(
        segments=tuple(
            Segment(id=i, start=i * 10, end=i * 10 + 9, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ),
        timed=True,
        format="txt",
    )


def model_entities(result: EpisodeEnrichment) -> list[Entity]:
    """The entities a model named (the NLP pipeline's own names left out)."""
    from ciagent.steps.names import PRODUCER

    return [e for e in result.entities if e.produced_by != PRODUCER]


Responder = Callable[[FakeRequest], "dict[str, Any] | str"]


def riding(respond: Responder) -> Responder:
    """A responder written for extractors' own calls (`<Name>Items` schemas) that answers them
    riding in the notes call too: the notes as the fake writes them, with each rider's items
    under `extras` as its own call would have them."""

    def answer(request: FakeRequest) -> dict[str, Any] | str:
        schema = request.schema or {}
        extras = schema.get("$defs", {}).get("NoteExtras", {}).get("properties", {})
        if request.schema_name != "ChunkNotes" or not extras:
            return respond(request)
        notes = default_answer(request)
        assert isinstance(notes, dict)
        found: dict[str, Any] = {}
        for name in extras:
            title = "".join(part.capitalize() for part in name.split("_")) + "Items"
            own = respond(FakeRequest(request.model, request.messages, {"title": title}))
            found[name] = own.get("items", []) if isinstance(own, dict) else []
        return {**notes, "extras": found}

    return answer
