"""Verify step: every entity mention and quote is located in the transcript, or dropped.

A mention is searched for, as the entity's name or aliases or as the words the model quoted (when
they contain part of the name), first in the segment it cites, then in the rest of its chunk (a
wrong line number is corrected, not trusted). What is kept is an exact slice of a segment's text
with that segment's id and times; entities left with no mention are dropped.
"""

from __future__ import annotations

from ciagent.state import (
    Candidate,
    EnrichState,
    EnrichUpdate,
    MergedEntity,
    RunContext,
    Verified,
)
from ciagent.textnorm import find_span, normalize_key
from ciagent.types import Chunk, Entity, Mention, Quote, Transcript, VerificationReport

__all__ = ["locate", "verify"]

_CLOSERS = frozenset(".!?…\"'”’)")


def _search_order(candidate: Candidate, chunk: Chunk) -> list[int]:
    others = [sid for sid in chunk.segment_ids if sid != candidate.segment_id]
    cited = [candidate.segment_id] if candidate.segment_id in chunk.segment_ids else []
    return cited + others


def locate(
    transcript: Transcript, chunk: Chunk, candidate: Candidate, phrases: list[str]
) -> tuple[int, int, int] | None:
    """(segment id, start, end) of the first phrase found, cited segment first, else None."""
    for segment_id in _search_order(candidate, chunk):
        text = transcript.segments[segment_id].text
        for phrase in phrases:
            span = find_span(phrase, text)
            if span is not None:
                return segment_id, span[0], span[1]
    return None


def _entity_phrases(entity: MergedEntity, candidate: Candidate) -> list[str]:
    """What to look for: the entity's names, and the model's own words when they are a variant
    of the name ("Dr. Sarah Chen"), not a sentence around it."""
    names = [entity.name, *entity.aliases]
    name_words = [normalize_key(name).split() for name in names]
    known = {w for words in name_words for w in words if len(w) > 2}
    said = normalize_key(candidate.text).split()
    variant = bool(known.intersection(said)) and len(said) <= max(map(len, name_words)) + 2
    phrases = [candidate.text, *names] if variant else names
    # Longest first, so a mention covers the fullest form said ("Sarah Chen", not "Chen").
    return sorted(dict.fromkeys(phrases), key=len, reverse=True)


def _with_closing_punctuation(text: str, end: int) -> int:
    """A quote keeps the punctuation that ends it in the transcript ("ship." not "ship")."""
    while end < len(text) and text[end] in _CLOSERS:
        end += 1
    return end


def _mention(transcript: Transcript, segment_id: int, text: str) -> Mention:
    segment = transcript.segments[segment_id]
    return Mention(segment_ids=[segment_id], start=segment.start, end=segment.end, text=text)


async def verify(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    transcript = state["transcript"]
    chunks = {chunk.id: chunk for chunk in state["chunks"]}
    merged = state["merged"]
    checked = grounded = 0
    entities: list[Entity] = []
    for entity in merged.entities:
        mentions: dict[tuple[int, str], Mention] = {}
        for candidate in entity.candidates:
            checked += 1
            found = locate(
                transcript, chunks[candidate.chunk_id], candidate, _entity_phrases(entity, candidate)
            )
            if found is not None:
                grounded += 1
                segment_id, start, end = found
                text = transcript.segments[segment_id].text[start:end]
                mentions.setdefault((segment_id, text), _mention(transcript, segment_id, text))
        if mentions:
            ordered = sorted(mentions.values(), key=lambda m: (m.segment_ids[0], m.text))
            entities.append(
                Entity(name=entity.name, type=entity.type, aliases=entity.aliases, mentions=ordered)
            )
    quotes: list[Quote] = []
    for candidate in merged.quotes:
        checked += 1
        found = locate(transcript, chunks[candidate.chunk_id], candidate, [candidate.text])
        if found is None:
            continue
        grounded += 1
        segment_id, start, end = found
        segment = transcript.segments[segment_id]
        text = segment.text[start : _with_closing_punctuation(segment.text, end)]
        quotes.append(
            Quote(text=text, speaker=segment.speaker, segment_ids=[segment_id],
                  start=segment.start, end=segment.end)
        )
    entities.sort(key=lambda e: (-len(e.mentions), e.mentions[0].segment_ids[0]))
    quotes.sort(key=lambda q: q.segment_ids[0])
    report = VerificationReport(checked=checked, grounded=grounded, dropped=checked - grounded)
    ctx.report("verify")
    return {"verified": Verified(entities=entities, quotes=quotes, report=report)}
