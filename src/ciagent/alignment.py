"""Alignment: entity mentions and quotes located in the transcript, as exact segment spans.

A mention is searched for, as the entity's name or aliases or as the words the model quoted (when
they are a variant of the name), first in the segment it cites, then in the rest of its chunk (a
wrong line number is corrected, not trusted). Exact matching (up to case, punctuation and corpus
markers) comes first, then approximate matching tolerant of ASR spelling noise. In a transcript
that uses capitals, what is found must be capitalised to count as a name ("sonar" is not one).
What is kept is an exact slice of a segment's text with that segment's id and times (or, for a
name that a subtitle cue boundary splits, of two consecutive segments, joined by a space).
Lines that address the model with instructions are never used as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ciagent.candidates import Candidate, MergedEntity
from ciagent.textnorm import find_span, fuzzy_span, normalize_key
from ciagent.types import Chunk, Entity, EntityType, ItemStatus, Mention, Quote, Transcript

__all__ = ["Aligner", "EntityAlignment", "Span", "locate", "mention_at"]

_CLOSERS = frozenset(".!?\u2026\"'\u201d\u2019)")


def _search_order(
    candidate: Candidate, chunk: Chunk, untrusted: frozenset[int] = frozenset()
) -> list[int]:
    """Segments to search: the cited one, then the rest of the chunk; never a withheld line."""
    cited = candidate.segment_id
    others = [sid for sid in chunk.segment_ids if sid != cited and sid not in untrusted]
    return others if cited is None or cited in untrusted else [cited, *others]


@dataclass(frozen=True, order=True)
class Span:
    """Where something is said: from `start` in segment `first` to `end` in segment `last`
    (the next one, when a subtitle cue splits a name: "the Monterey Bay" / "Aquarium ...")."""

    first: int
    start: int
    last: int
    end: int

    def text(self, transcript: Transcript) -> str:
        """The exact transcript text (two cues joined by one space)."""
        head = transcript.segments[self.first].text
        if self.first == self.last:
            return head[self.start : self.end]
        return f"{head[self.start :]} {transcript.segments[self.last].text[: self.end]}"


def _across_cues(transcript: Transcript, order: list[int], phrases: list[str]) -> Span | None:
    """A phrase said across the boundary of two consecutive segments of the search order."""
    allowed = set(order)
    for first in order:
        if first + 1 not in allowed:
            continue
        head, tail = transcript.segments[first].text, transcript.segments[first + 1].text
        joined = f"{head} {tail}"
        for phrase in phrases:
            found = find_span(phrase, joined)
            if found is not None and found[0] < len(head) < found[1]:
                return Span(first, found[0], first + 1, found[1] - len(head) - 1)
    return None


def locate(
    transcript: Transcript,
    chunk: Chunk,
    candidate: Candidate,
    phrases: list[str],
    untrusted: frozenset[int] = frozenset(),
    exact: bool = False,
) -> Span | None:
    """Where the first phrase found is said, cited segment first, else None.

    Exact matches (up to case, punctuation and markers) everywhere come before approximate ones,
    which tolerate ASR spelling noise in longer names, and those before an exact match across
    two consecutive segments."""
    order = _search_order(candidate, chunk, untrusted)
    for search in (find_span,) if exact else (find_span, fuzzy_span):
        for segment_id in order:
            text = transcript.segments[segment_id].text
            for phrase in phrases:
                span = search(phrase, text)
                if span is not None:
                    return Span(segment_id, span[0], segment_id, span[1])
    return None if exact else _across_cues(transcript, order, phrases)


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


def _name_parts(entity: MergedEntity) -> list[str]:
    """A person is often named by one part of the name ("Chen", "Maya"): looked for exactly,
    when no full form is found."""
    if entity.type != EntityType.PERSON:
        return []
    parts = [p for n in [entity.name, *entity.aliases] for p in n.split() if len(p) > 2]
    return sorted(dict.fromkeys(p for p in parts if p[0].isupper()), key=len, reverse=True)


def _with_closing_punctuation(text: str, end: int) -> int:
    """A quote keeps the punctuation that ends it in the transcript ("ship." not "ship")."""
    while end < len(text) and text[end] in _CLOSERS:
        end += 1
    return end


def mention_at(transcript: Transcript, span: Span) -> Mention:
    return Mention(
        segment_ids=list(range(span.first, span.last + 1)),
        start=transcript.segments[span.first].start,
        end=transcript.segments[span.last].end,
        text=span.text(transcript),
        char_start=span.start,
        char_end=span.end,
    )


def _looks_like_a_name(text: str, cased: bool) -> bool:
    """In a transcript that uses capitals, a name is said with one ("Stanford", not "sonar")."""
    return not cased or any(char.isupper() for char in text) or not any(c.isalpha() for c in text)


def _uses_capitals(transcript: Transcript) -> bool:
    text = "".join(segment.text for segment in transcript.segments)
    letters = sum(map(str.isalpha, text))
    return letters > 0 and sum(map(str.isupper, text)) / letters > 0.005


def _outermost(spans: set[Span]) -> list[Span]:
    """Spans not inside a longer one ("Sarah Chen" in "Dr. Sarah Chen"). In order of start,
    longest first, a span is inside an earlier one exactly when some earlier one ends at or
    after its end."""
    ordered = sorted(spans, key=lambda s: (s.first, s.start, -s.last, -s.end))
    kept: list[Span] = []
    furthest: tuple[int, int] | None = None
    for span in ordered:
        if furthest is None or (span.last, span.end) > furthest:
            kept.append(span)
            furthest = (span.last, span.end)
    return kept


@dataclass(frozen=True)
class EntityAlignment:
    """`found`: mentions located and said as a name; `not_a_name`: located, but never said as
    a name (a role or a common noun: dropped); `speaker`: not said, but a speaker label (the
    transcript's metadata, not something said: dropped); `unfound`: said nowhere the model
    pointed."""

    outcome: Literal["found", "not_a_name", "speaker", "unfound"]
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
        self.speakers = {normalize_key(s.speaker) for s in transcript.segments if s.speaker}

    def entity(
        self,
        entity: MergedEntity,
        produced_by: str | None = None,
        status: ItemStatus = "grounded",
        extra_phrases: dict[Candidate, list[str]] | None = None,
    ) -> EntityAlignment:
        """Every candidate mention of `entity` located; `extra_phrases` adds words to look for
        per candidate (a stronger model's reading of where it is said)."""
        spans: set[Span] = set()
        located = False
        for candidate in entity.candidates:
            phrases = [
                *(extra_phrases or {}).get(candidate, []),
                *_entity_phrases(entity, candidate),
            ]
            found = self.locate(candidate, phrases) or self.locate(
                candidate, _name_parts(entity), exact=True
            )
            if found is None:
                continue
            located = True
            if _looks_like_a_name(found.text(self.transcript), self.cased):
                spans.add(found)
        if not spans:
            if located:
                return EntityAlignment("not_a_name")
            names = {normalize_key(name) for name in [entity.name, *entity.aliases]}
            return EntityAlignment("speaker" if names & self.speakers else "unfound")
        mentions = [mention_at(self.transcript, span) for span in _outermost(spans)]
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
        first, last = self.transcript.segments[found.first], self.transcript.segments[found.last]
        whole = replace(found, end=_with_closing_punctuation(last.text, found.end))
        return Quote(
            text=whole.text(self.transcript),
            speaker=first.speaker,
            segment_ids=list(range(found.first, found.last + 1)),
            start=first.start,
            end=last.end,
            char_start=whole.start,
            char_end=whole.end,
            produced_by=produced_by,
            verification=status,
        )

    def locate(self, candidate: Candidate, phrases: list[str], exact: bool = False) -> Span | None:
        chunk = self.chunks[candidate.chunk_id]
        return locate(self.transcript, chunk, candidate, phrases, self.untrusted, exact)
