"""Merge step: entities deduplicated across chunks, topics aggregated and ranked.

Entities are the same when their names match after normalisation (case, punctuation, honorifics,
a leading "the"), or when a one-word person name is the surname of exactly one fuller person name.
A topic is kept only where its words occur in the chunk that raised it, and its score is the share
of the episode's tokens in the chunks that raise it. A chunk summary (written beside the notes,
`steps.notes.chunk_summary`) keeps only the sentences whose names all occur in its chunk, written
as prose (`ciagent.prose`: no speaker prefixes or fillers); when none survives (a small model
looping or echoing its instructions), or the summary call failed, the chunk's most central
sentences (TextRank) stand in for it. Entities and topics that are roles, fillers or voice labels
(`ciagent.vocabulary`) are dropped; a topic loses its leading article, and at finalize a topic
that is one of the entities is dropped (`subjects`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from ciagent.chunking import chunk_text, line_segment
from ciagent.guard import untrusted_segments
from ciagent.prose import as_prose, central_sentences, checkable
from ciagent.retrieval import SegmentIndex
from ciagent.state import (
    Candidate,
    EnrichState,
    EnrichUpdate,
    MergedEntity,
    MergedNotes,
    RunContext,
)
from ciagent.steps.notes import skipped
from ciagent.taxonomy import load_taxonomy
from ciagent.textnorm import (
    clean,
    grounded_sentences,
    mentions_words,
    normalize_key,
    split_sentences,
)
from ciagent.types import Chunk, Entity, EntityType, Topic, Transcript
from ciagent.vocabulary import STOPWORDS, is_filler, is_role, is_vague, not_metadata, stems

__all__ = ["entity_key", "merge", "stand_in_summary", "subjects", "topic_name"]

_TOPIC_EVIDENCE = 5
_STAND_IN_LINES = 2
_DROP_WORDS = re.compile(r"^(?:the|dr|doctor|mr|mrs|ms|miss|prof|professor|sir)\s+")
_TOPIC_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_TOPIC_WORDS = 6


def topic_name(name: str, speakers: set[str]) -> str | None:
    """A topic as a subject: its leading article dropped; None for a role, a filler, a voice
    label or a sentence ("the Long Tide is produced by Harbor Light Media")."""
    name = _TOPIC_ARTICLE.sub("", name.strip().rstrip(".")).strip()
    if not name or len(name.split()) > _TOPIC_WORDS or not_metadata(name, speakers):
        return None
    if is_vague(name):
        return None
    return name


def subjects(
    topics: list[Topic], entities: list[Entity], more: Sequence[Topic] = (), least: int = 0
) -> list[Topic]:
    """The topics that are subjects, not one of the episode's entities by another name ("Long
    Tide" for the show The Long Tide, "MBARI" for the institute): those are listed as entities.
    While fewer than `least` are left, `more` (subjects found without the model) fill in, each
    about something no kept topic names, nor a stretch of a name. When no subject is left at
    all, the names stay."""
    named = {entity_key(n) for e in entities for n in (e.name, *e.aliases)}
    kept = [
        t
        for t in topics
        if entity_key(t.name) not in named
        and not _part_of_name(t, named)
        and not _only_names(t, named)
    ]
    said = set().union(*(stems(t.name) for t in kept))
    for topic in more:
        if len(kept) >= least:
            break
        if entity_key(topic.name) not in named and not stems(topic.name) & said:
            kept.append(topic)
            said |= stems(topic.name)
    return kept or topics  # names, when nothing else is said, rather than no topic


def _only_names(topic: Topic, names: set[str]) -> bool:
    """A topic made of names and function words ("Devil's Teeth by Susan Casey": a work and its
    author): entities, not a subject."""
    rest = f" {entity_key(topic.name)} "
    for name in sorted(names, key=len, reverse=True):
        if " " in name:
            rest = rest.replace(f" {name} ", " ")
    left = rest.split()
    return len(left) < len(entity_key(topic.name).split()) and all(w in STOPWORDS for w in left)


def _part_of_name(topic: Topic, names: set[str]) -> bool:
    """A topic of two words or more that is a stretch of a longer name ("California State
    University Long Beach Shark", of the shark lab): a name cut short, not a subject."""
    words = entity_key(topic.name).split()
    if len(words) < 2:
        return False
    return any(
        len(name) > len(words)
        and any(name[i : i + len(words)] == words for i in range(len(name) - len(words) + 1))
        for name in (n.split() for n in names)
    )


def entity_key(name: str) -> str:
    key = normalize_key(name)
    while True:
        shorter = _DROP_WORDS.sub("", key)
        if shorter == key or not shorter:
            return key
        key = shorter


# An article written in lower case before a name ("the Farallon Islands", as said mid-sentence)
# is not part of it; one in capitals may be ("The Long Tide", "The Devil's Teeth").
_LOWER_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=[A-Z0-9])")


def _without_article(name: str) -> str:
    return _LOWER_ARTICLE.sub("", name) or name


def _pick_name(names: Counter[str]) -> str:
    return max(names.items(), key=lambda item: (item[1], len(item[0])))[0]


class _Group:
    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self.types: Counter[EntityType] = Counter()
        self.candidates: list[Candidate] = []

    def absorb(self, other: _Group) -> None:
        self.names.update(other.names)
        self.types.update(other.types)
        self.candidates.extend(other.candidates)

    def entity(self) -> MergedEntity:
        name = _without_article(_pick_name(self.names))
        kind = self.types.most_common(1)[0][0]
        aliases = sorted(
            {n for n in self.names if n != name and _without_article(n) != name},
            key=str.casefold,
        )
        unique = list(dict.fromkeys(self.candidates))
        return MergedEntity(name=name, type=kind, aliases=aliases, candidates=unique)


def _merge_surnames(groups: dict[str, _Group]) -> None:
    """Fold a one-word person name into the one fuller person name that ends with it."""
    people = [key for key, g in groups.items() if g.types.most_common(1)[0][0] == EntityType.PERSON]
    for key in [k for k in people if " " not in k]:
        owners = [k for k in people if " " in k and k.rsplit(" ", 1)[1] == key]
        if len(owners) == 1:
            groups[owners[0]].absorb(groups.pop(key))


def _evidence(transcript: Transcript, chunks: list[Chunk], topic: str) -> list[int]:
    """The segments of the topic's chunks that share most of its words (at most five)."""
    ids = sorted({sid for chunk in chunks for sid in chunk.segment_ids})
    index = SegmentIndex(transcript.segments[sid] for sid in ids)
    return sorted(index.search(topic, _TOPIC_EVIDENCE))


def stand_in_summary(
    transcript: Transcript, segment_ids: Sequence[int], speakers: set[str], lines: int
) -> str:
    """The most central checkable sentences of these segments (at most `lines`, in order), as
    prose: what stands in for a summary the model could not give."""
    sentences = [
        _prose
        for sid in segment_ids
        for sentence in split_sentences(clean(transcript.segments[sid].text))
        if checkable(_prose := as_prose(sentence, speakers, said=True))
    ]
    return " ".join(central_sentences(sentences, lines))


def merge(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    results = sorted(state.get("notes", []), key=lambda r: r.chunk_id)
    tokens = {chunk.id: chunk.tokens for chunk in state["chunks"]}
    groups: dict[str, _Group] = {}
    topic_names: dict[str, Counter[str]] = defaultdict(Counter)
    topic_chunks: dict[str, set[int]] = defaultdict(set)
    quotes: dict[str, Candidate] = {}
    summaries: list[tuple[int, str]] = []
    stand_ins: list[int] = []
    transcript = state["transcript"]
    chunk_by_id = {chunk.id: chunk for chunk in state["chunks"]}
    speakers = transcript.speakers
    # Stand-in lines never come from a withheld line, nor from a part a summary leaves out.
    untrusted = untrusted_segments(transcript) | skipped(transcript, ctx.settings)
    for result in results:
        if result.notes is None and result.summary is None:
            continue
        chunk = chunk_by_id[result.chunk_id]
        words = set(normalize_key(chunk_text(transcript, chunk)).split())
        summary = as_prose(grounded_sentences(result.summary or "", words), speakers)
        if not summary:
            trusted = [i for i in chunk.segment_ids if i not in untrusted]
            summary = stand_in_summary(transcript, trusted, speakers, _STAND_IN_LINES)
            stand_ins.append(result.chunk_id)
        if summary:
            summaries.append((result.chunk_id, summary))
        if result.notes is None:
            continue
        notes = result.notes
        for item in notes.entities:
            key = entity_key(item.name)
            # A voice label goes on to verification, which tells one said from one never said.
            if not key or is_filler(item.name) or is_role(item.name):
                continue
            group = groups.setdefault(key, _Group())
            group.names[item.name] += 1
            group.types[item.type] += 1
            group.candidates.extend(
                Candidate(
                    chunk_id=result.chunk_id,
                    segment_id=line_segment(chunk, m.segment_id),
                    text=m.text,
                )
                for m in item.mentions
            )
        for raw in notes.topics:
            name = topic_name(raw, speakers) or ""
            key = normalize_key(name)
            # A topic must be about what these lines say (small models echo their examples).
            if key and mentions_words(name, words):
                topic_names[key][name] += 1
                topic_chunks[key].add(result.chunk_id)
        for quote in notes.quotes:
            quotes.setdefault(
                normalize_key(quote.text),
                Candidate(
                    chunk_id=result.chunk_id,
                    segment_id=line_segment(chunk, quote.segment_id),
                    text=quote.text,
                ),
            )
    _merge_surnames(groups)
    covered = sum(tokens[r.chunk_id] for r in results if r.notes is not None) or 1
    ranked = sorted(
        topic_chunks,
        key=lambda key: -sum(tokens[c] for c in topic_chunks[key]),
    )[: ctx.settings.max_topics]
    topics = [
        Topic(
            name=_pick_name(topic_names[key]),
            score=round(min(1.0, sum(tokens[c] for c in topic_chunks[key]) / covered), 4),
            segment_ids=_evidence(transcript, [chunk_by_id[c] for c in topic_chunks[key]], key),
        )
        for key in ranked
    ]
    if ctx.settings.taxonomy:
        taxonomy = load_taxonomy(ctx.settings.taxonomy)
        topics = [
            topic.model_copy(
                update={
                    "category": taxonomy.categorize(
                        topic.name, " ".join(transcript.segments[i].text for i in topic.segment_ids)
                    )
                }
            )
            for topic in topics
        ]
    merged = MergedNotes(
        entities=[group.entity() for group in groups.values()],
        topics=topics,
        quotes=list(quotes.values()),
        summaries=summaries,
        stand_ins=stand_ins,
    )
    return {"merged": merged}
