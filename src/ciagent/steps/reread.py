"""Chunk re-reads: a chunk whose answer is mostly ungrounded is read again on the next tier up.

The answer of a chunk is scored by verification: the share of its entities and quotes found in
the transcript. Below `settings.reread_below` (of two items or more), the cheap tier's answer
is not worth fixing item by item (it named speaker labels, echoed its examples, or invented), so
the stronger tier reads the whole chunk, as in FrugalGPT's cascade. Its entities and quotes go
through the same merge and alignment as first answers; what they ground is `recovered`, merged
into an entity already found when it names the same one.
"""

from __future__ import annotations

import asyncio

from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.llm.backend import CallTag
from ciagent.offload import off_loop
from ciagent.routing.registry import Tier
from ciagent.state import EnrichState, Grounding, NoteResult, RunContext
from ciagent.steps.merge import entity_key, merge
from ciagent.steps.notes import notes_request
from ciagent.steps.verify import ground
from ciagent.types import Entity, ItemCounts, Quote

__all__ = [
    "absorb",
    "chunk_tiers",
    "chunks_to_reread",
    "combine_entities",
    "combine_quotes",
    "reread_chunks",
]

_MIN_ITEMS = 2


def chunk_tiers(state: EnrichState) -> dict[int, Tier]:
    """The tier that answered each chunk with notes."""
    return {r.chunk_id: r.tier for r in state.get("notes", []) if r.notes is not None}


def chunks_to_reread(state: EnrichState, ctx: RunContext) -> list[tuple[int, Tier]]:
    """(chunk id, tier to read it on) for each chunk whose answer scored too low."""
    threshold = ctx.settings.reread_below
    if threshold <= 0:
        return []
    tiers = chunk_tiers(state)
    jobs = []
    for chunk_id, (found, made) in sorted(state["grounding"].chunk_scores.items()):
        if chunk_id in tiers and made >= _MIN_ITEMS and found / made < threshold:
            above = ctx.client.next_tier(tiers[chunk_id])
            if above is not None:
                jobs.append((chunk_id, above))
    return jobs


async def _read(state: EnrichState, ctx: RunContext, chunk_id: int, tier: Tier) -> NoteResult:
    chunk = next(c for c in state["chunks"] if c.id == chunk_id)
    prompt, response_model, values = notes_request(ctx.settings, ctx.reading.chunk_tokens)
    try:
        answer = await ctx.client.served(
            CallTag("notes", chunk_id, tier=tier, escalated=True),
            prompt,
            response_model,
            min_tier=tier,
            transcript=chunk_text(state["transcript"], chunk),
            **values,
        )
    except (ModelCallError, BudgetExceeded) as exc:
        return NoteResult(chunk_id=chunk_id, error=str(exc), escalated=True)
    return NoteResult.answered(chunk_id, answer, escalated=True)


def _keys(entity: Entity) -> set[str]:
    return {entity_key(name) for name in [entity.name, *entity.aliases]}


def combine_entities(entities: list[Entity], fresh: list[Entity]) -> list[Entity]:
    """`fresh` entities folded into `entities`: mentions added to one already found under the
    same name or alias, otherwise added as new."""
    combined = list(entities)
    for entity in fresh:
        found = next((i for i, e in enumerate(combined) if _keys(e) & _keys(entity)), None)
        if found is None:
            combined.append(entity)
            continue
        known = combined[found]
        seen = {(tuple(m.segment_ids), m.text) for m in known.mentions}
        extra = [m for m in entity.mentions if (tuple(m.segment_ids), m.text) not in seen]
        combined[found] = known.model_copy(update={"mentions": [*known.mentions, *extra]})
    return combined


def combine_quotes(quotes: list[Quote], fresh: list[Quote]) -> list[Quote]:
    """`fresh` quotes not already among `quotes` (the same span of the transcript) added."""

    def key(quote: Quote) -> tuple[tuple[int, ...], int, int]:
        return tuple(quote.segment_ids), quote.char_start, quote.char_end

    seen = {key(q) for q in quotes}
    added: list[Quote] = []
    for quote in fresh:
        if key(quote) not in seen:
            seen.add(key(quote))
            added.append(quote)
    return [*quotes, *added]


def _counted(counts: ItemCounts, fresh: ItemCounts, superseded: int) -> ItemCounts:
    """Re-read items count as checked; those found, as recovered (also when they only add
    mentions to an entity already found)."""
    return counts.model_copy(
        update={
            "checked": counts.checked + fresh.checked,
            "reread": counts.reread + fresh.checked,
            "recovered": counts.recovered + fresh.grounded,
            "dropped": counts.dropped + fresh.dropped + superseded,
        }
    )


async def reread_chunks(
    state: EnrichState, ctx: RunContext, jobs: list[tuple[int, Tier]]
) -> tuple[Grounding | None, set[int]]:
    """What the re-reads found, aligned like first answers (None if none answered), and the
    ids of the chunks whose re-read answered."""
    results = await asyncio.gather(*(_read(state, ctx, c, t) for c, t in jobs))
    answered = [r for r in results if r.notes is not None]
    if not answered:
        return None, set()
    sub: EnrichState = {
        "transcript": state["transcript"],
        "chunks": state["chunks"],
        "notes": answered,
    }
    producers = {r.chunk_id: r.deployment for r in answered if r.deployment is not None}

    def grounded() -> Grounding:
        merged = merge(sub, ctx)["merged"]
        return ground(state["transcript"], state["chunks"], merged, producers)

    return await off_loop(grounded), {r.chunk_id for r in answered}


def absorb(grounding: Grounding, fresh: Grounding, reread: set[int]) -> Grounding:
    """`grounding` with a re-read's findings added (what they ground is `recovered`). The first
    answer's unfound items from the chunks read again are superseded: dropped."""
    recovered = [e.model_copy(update={"verification": "recovered"}) for e in fresh.entities]
    quotes = [q.model_copy(update={"verification": "recovered"}) for q in fresh.quotes]
    old_entities = [
        e for e in grounding.unfound_entities if not {c.chunk_id for c in e.candidates} <= reread
    ]
    old_quotes = [q for q in grounding.unfound_quotes if q.chunk_id not in reread]
    superseded_e = len(grounding.unfound_entities) - len(old_entities)
    superseded_q = len(grounding.unfound_quotes) - len(old_quotes)
    return grounding.model_copy(
        update={
            "entities": combine_entities(grounding.entities, recovered),
            "quotes": combine_quotes(grounding.quotes, quotes),
            "unfound_entities": [*old_entities, *fresh.unfound_entities],
            "unfound_quotes": [*old_quotes, *fresh.unfound_quotes],
            "entity_counts": _counted(grounding.entity_counts, fresh.entity_counts, superseded_e),
            "quote_counts": _counted(grounding.quote_counts, fresh.quote_counts, superseded_q),
        }
    )
