"""Verify step: every entity mention and quote is located in the transcript (`ciagent.alignment`).

What is found is kept with its exact spans, segment ids and times, and the deployment whose notes
produced it. What is said nowhere the model pointed is set aside for escalation (re-asked on a
stronger tier), after which it is dropped or kept flagged. An entity found only as a role or a
common noun ("the project manager"), or only as a speaker label ("PhD B", never said), is dropped
at once: a stronger reading would not make it something said. So is a quote of under four words.
"""

from __future__ import annotations

from collections import defaultdict

from ciagent.alignment import Aligner
from ciagent.guard import untrusted_segments
from ciagent.state import Candidate, EnrichState, EnrichUpdate, Grounding, MergedNotes, RunContext
from ciagent.textnorm import normalize_key
from ciagent.types import Chunk, Entity, ItemCounts, Quote, Transcript

__all__ = ["ground", "notable", "verify"]

_QUOTE_WORDS = 4


def notable(quote: str) -> bool:
    """A quote worth keeping says something: four words or more ("Right. Right." is not)."""
    return len(normalize_key(quote).split()) >= _QUOTE_WORDS


def _producer(candidates: list[Candidate], producers: dict[int, str]) -> str | None:
    for candidate in candidates:
        if candidate.chunk_id in producers:
            return producers[candidate.chunk_id]
    return None


def ground(
    transcript: Transcript,
    chunks: list[Chunk],
    merged: MergedNotes,
    producers: dict[int, str] | None = None,
) -> Grounding:
    """Locate every merged entity and quote; `producers` maps a chunk id to who wrote its notes."""
    producers = producers or {}
    untrusted = untrusted_segments(transcript)
    aligner = Aligner(transcript, chunks, untrusted)
    entities: list[Entity] = []
    unfound_entities = []
    not_names = 0
    scores: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for entity in merged.entities:
        aligned = aligner.entity(entity, _producer(entity.candidates, producers))
        for chunk_id in {c.chunk_id for c in entity.candidates}:
            scores[chunk_id][0] += aligned.entity is not None
            scores[chunk_id][1] += 1
        if aligned.entity is not None:
            entities.append(aligned.entity)
        elif aligned.outcome == "unfound":
            unfound_entities.append(entity)
        else:
            not_names += 1
    quotes: list[Quote] = []
    unfound_quotes = []
    too_short = 0
    for candidate in merged.quotes:
        if not notable(candidate.text):
            too_short += 1
            continue
        quote = aligner.quote(candidate, producers.get(candidate.chunk_id))
        scores[candidate.chunk_id][0] += quote is not None
        scores[candidate.chunk_id][1] += 1
        if quote is None:
            unfound_quotes.append(candidate)
        else:
            quotes.append(quote)
    return Grounding(
        entities=entities,
        quotes=quotes,
        unfound_entities=unfound_entities,
        unfound_quotes=unfound_quotes,
        entity_counts=ItemCounts(
            checked=len(merged.entities), grounded=len(entities), dropped=not_names
        ),
        quote_counts=ItemCounts(
            checked=len(merged.quotes), grounded=len(quotes), dropped=too_short
        ),
        untrusted=sorted(untrusted),
        chunk_scores={chunk_id: (found, made) for chunk_id, (found, made) in scores.items()},
    )


def verify(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    producers = {
        r.chunk_id: r.deployment
        for r in state.get("notes", [])
        if r.notes is not None and r.deployment is not None
    }
    grounding = ground(state["transcript"], state["chunks"], state["merged"], producers)
    ctx.report("verify")
    return {"grounding": grounding}
