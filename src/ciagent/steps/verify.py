"""Verify step: every entity mention and quote is located in the transcript, or dropped.

A mention is searched for, as the entity's name or aliases or as the words the model quoted (when
they are a variant of the name), first in the segment it cites, then in the rest of its chunk (a
wrong line number is corrected, not trusted). In a transcript that uses capitals, what is found
must be capitalised to count as a name ("sonar" is not one). What is kept is an exact slice of a
segment's text with that segment's id and times; entities left with no mention are dropped.
"""

from __future__ import annotations

from ciagent.guard import untrusted_segments
from ciagent.state import (
    Candidate,
    EnrichState,
    EnrichUpdate,
    MergedEntity,
    RunContext,
    Verified,
)
from ciagent.textnorm import find_span, fuzzy_span, normalize_key
from ciagent.types import Chunk, Entity, Mention, Quote, Transcript, VerificationReport

__all__ = ["locate", "verify"]

_CLOSERS = frozenset(".!?\u2026\"'\u201d\u2019)")


def _search_order(
    candidate: Candidate, chunk: Chunk, untrusted: frozenset[int] = frozenset()
) -> list[int]:
    """Segments to search: the cited one, then the rest of the chunk; never a withheld line."""
    cited = candidate.segment_id
    others = [sid for sid in chunk.segment_ids if sid != cited and sid not in untrusted]
    return others if cited is None or cited in untrusted else [cited, *others]


def locate(
    transcript: Transcript,
    chunk: Chunk,
    candidate: Candidate,
    phrases: list[str],
    untrusted: frozenset[int] = frozenset(),
) -> tuple[int, int, int] | None:
    """(segment id, start, end) of the first phrase found, cited segment first, else None.

    Exact matches (up to case, punctuation and markers) everywhere come before approximate ones,
    which tolerate ASR spelling noise in longer names."""
    order = _search_order(candidate, chunk, untrusted)
    for search in (find_span, fuzzy_span):
        for segment_id in order:
            text = transcript.segments[segment_id].text
            for phrase in phrases:
                span = search(phrase, text)
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


def _looks_like_a_name(text: str, cased: bool) -> bool:
    """In a transcript that uses capitals, a name is said with one ("Stanford", not "sonar")."""
    return not cased or any(char.isupper() for char in text) or not any(c.isalpha() for c in text)


def _uses_capitals(transcript: Transcript) -> bool:
    letters = upper = 0
    for segment in transcript.segments:
        letters += sum(char.isalpha() for char in segment.text)
        upper += sum(char.isupper() for char in segment.text)
    return letters > 0 and upper / letters > 0.005


def _outermost(spans: set[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Spans not inside a longer span of the same segment ("Sarah Chen" in "Dr. Sarah Chen")."""
    return sorted(
        span
        for span in spans
        if not any(
            other != span and other[0] == span[0] and other[1] <= span[1] and span[2] <= other[2]
            for other in spans
        )
    )


def _verify_entity(
    entity: MergedEntity,
    transcript: Transcript,
    chunks: dict[int, Chunk],
    cased: bool,
    untrusted: frozenset[int],
) -> tuple[int, Entity | None]:
    """(grounded candidates, the entity with its located mentions or None)."""
    spans: set[tuple[int, int, int]] = set()
    grounded = 0
    for candidate in entity.candidates:
        phrases = _entity_phrases(entity, candidate)
        found = locate(transcript, chunks[candidate.chunk_id], candidate, phrases, untrusted)
        if found is None:
            continue
        segment_id, start, end = found
        if _looks_like_a_name(transcript.segments[segment_id].text[start:end], cased):
            grounded += 1
            spans.add(found)
    if not spans:
        return grounded, None
    mentions = [
        _mention(transcript, segment_id, transcript.segments[segment_id].text[start:end])
        for segment_id, start, end in _outermost(spans)
    ]
    return grounded, Entity(
        name=entity.name, type=entity.type, aliases=entity.aliases, mentions=mentions
    )


async def verify(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    transcript = state["transcript"]
    chunks = {chunk.id: chunk for chunk in state["chunks"]}
    merged = state["merged"]
    cased = _uses_capitals(transcript)
    untrusted = untrusted_segments(transcript)
    checked = grounded = 0
    entities: list[Entity] = []
    for entity in merged.entities:
        located, verified = _verify_entity(entity, transcript, chunks, cased, untrusted)
        checked += len(entity.candidates)
        grounded += located
        if verified is not None:
            entities.append(verified)
    quotes: list[Quote] = []
    for candidate in merged.quotes:
        checked += 1
        found = locate(
            transcript, chunks[candidate.chunk_id], candidate, [candidate.text], untrusted
        )
        if found is None:
            continue
        grounded += 1
        segment_id, start, end = found
        segment = transcript.segments[segment_id]
        text = segment.text[start : _with_closing_punctuation(segment.text, end)]
        quotes.append(
            Quote(
                text=text,
                speaker=segment.speaker,
                segment_ids=[segment_id],
                start=segment.start,
                end=segment.end,
            )
        )
    entities.sort(key=lambda e: (-len(e.mentions), e.mentions[0].segment_ids[0]))
    quotes.sort(key=lambda q: q.segment_ids[0])
    report = VerificationReport(
        checked=checked,
        grounded=grounded,
        dropped=checked - grounded,
        untrusted_segments=sorted(untrusted),
    )
    ctx.report("verify")
    return {"verified": Verified(entities=entities, quotes=quotes, report=report)}
