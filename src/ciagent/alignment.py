"""Alignment: entity mentions and quotes located in the transcript, as exact segment spans.

A mention is searched for, as the entity's name or aliases or as the words the model quoted (when
they are a variant of the name), first in the segment it cites, then in the rest of its chunk (a
wrong line number is corrected, not trusted). Exact matching (up to case, punctuation and corpus
markers) comes first, then approximate matching tolerant of ASR spelling noise. In a transcript
that uses capitals, what is found must be capitalised to count as a name ("sonar" is not one).
What is kept is an exact slice of a segment's text with that segment's id and times. Lines that
address the model with instructions are never used as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ciagent.state import Candidate, MergedEntity
from ciagent.textnorm import find_span, fuzzy_span, normalize_key
from ciagent.types import Chunk, Entity, EntityType, ItemStatus, Mention, Quote, Transcript

__all__ = ["Aligner", "EntityAlignment", "locate"]

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
    if entity.type == EntityType.PERSON:
        # A person is often named by one part of the name ("Chen", "Maya").
        phrases += [
            part for name in names for part in name.split() if len(part) > 2 and part[0].isupper()
        ]
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


@dataclass(frozen=True)
class EntityAlignment:
    """`found`: mentions located and said as a name; `not_a_name`: located, but never said as
    a name (a role or a common noun: dropped); `unfound`: said nowhere the model pointed."""

    outcome: Literal["found", "not_a_name", "unfound"]
    entity: Entity | None = None


class Aligner:
    """Locates the items of one transcript; built once per episode."""

    def __init__(
        self,
        transcript: Transcript,
        chunks: list[Chunk],
        untrusted: frozenset[int] = frozenset(),
    ) -> None:
        self.transcript = transcript
        self.chunks = {chunk.id: chunk for chunk in chunks}
        self.untrusted = untrusted
        self.cased = _uses_capitals(transcript)

    def entity(
        self,
        entity: MergedEntity,
        produced_by: str | None = None,
        status: ItemStatus = "grounded",
        extra_phrases: dict[Candidate, list[str]] | None = None,
    ) -> EntityAlignment:
        """Every candidate mention of `entity` located; `extra_phrases` adds words to look for
        per candidate (a stronger model's reading of where it is said)."""
        spans: set[tuple[int, int, int]] = set()
        located = False
        for candidate in entity.candidates:
            phrases = [
                *(extra_phrases or {}).get(candidate, []),
                *_entity_phrases(entity, candidate),
            ]
            found = self.locate(candidate, phrases)
            if found is None:
                continue
            located = True
            segment_id, start, end = found
            if _looks_like_a_name(self.transcript.segments[segment_id].text[start:end], self.cased):
                spans.add(found)
        if not spans:
            return EntityAlignment("not_a_name" if located else "unfound")
        mentions = [
            _mention(
                self.transcript, segment_id, self.transcript.segments[segment_id].text[start:end]
            )
            for segment_id, start, end in _outermost(spans)
        ]
        return EntityAlignment(
            "found",
            Entity(
                name=entity.name,
                type=entity.type,
                aliases=entity.aliases,
                mentions=mentions,
                produced_by=produced_by,
                verification=status,
            ),
        )

    def quote(
        self,
        candidate: Candidate,
        produced_by: str | None = None,
        status: ItemStatus = "grounded",
        phrases: list[str] | None = None,
    ) -> Quote | None:
        """The quote as an exact transcript slice (with its closing punctuation), or None."""
        found = self.locate(candidate, phrases or [candidate.text])
        if found is None:
            return None
        segment_id, start, end = found
        segment = self.transcript.segments[segment_id]
        return Quote(
            text=segment.text[start : _with_closing_punctuation(segment.text, end)],
            speaker=segment.speaker,
            segment_ids=[segment_id],
            start=segment.start,
            end=segment.end,
            produced_by=produced_by,
            verification=status,
        )

    def locate(self, candidate: Candidate, phrases: list[str]) -> tuple[int, int, int] | None:
        return locate(
            self.transcript, self.chunks[candidate.chunk_id], candidate, phrases, self.untrusted
        )
