"""Escalate step: what failed verification is re-asked on the next tier up, then re-verified.

Runs only when something failed and a stronger tier is deployed (`needs_escalation`, the graph's
conditional edge). Within the budget:
- a chunk whose answer is mostly ungrounded is read again whole (`ciagent.steps.reread`);
- elsewhere, entities and quotes said nowhere the model pointed: per chunk, one call shows the
  stronger tier the lines retrieved for them and asks where each is said, in the lines' own
  words. An answer is used only if it names the same thing (shares a word with the name, spells
  it closely, or is its acronym) or is the same quote; it must then pass the same alignment as a
  first answer;
- claims not judged supported: judged again by the stronger tier on the same evidence.
What still fails is dropped or flagged by the finalize step.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from rapidfuzz import fuzz

from ciagent.alignment import Aligner
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.llm.backend import CallTag
from ciagent.prompts import load_prompt
from ciagent.retrieval import SegmentIndex
from ciagent.routing.registry import Tier
from ciagent.schemas import LocatedItems
from ciagent.state import (
    Candidate,
    EnrichState,
    EnrichUpdate,
    Grounding,
    MergedEntity,
    RunContext,
)
from ciagent.steps.claims import Evidence, judge, numbered_lines
from ciagent.steps.reread import (
    absorb,
    chunk_tiers,
    chunks_to_reread,
    combine_entities,
    combine_quotes,
    reread_chunks,
)
from ciagent.steps.verify import notable
from ciagent.textnorm import content_words, normalize_key
from ciagent.types import Claim, Entity, Quote

__all__ = ["escalate", "needs_escalation", "same_name"]

PROMPT = "locate_items"
_LINES_PER_ITEM = 3
_ITEMS_PER_CALL = 12

Item = MergedEntity | Candidate


def same_name(names: list[str], said: str) -> bool:
    """Whether `said` plausibly names what `names` name: a shared word, a close spelling, or an
    acronym ("MBARI" for "Monterey Bay Aquarium Research Institute")."""
    said_key = normalize_key(said)
    if not said_key:
        return False
    said_words = set(content_words(said))
    for name in names:
        key = normalize_key(name)
        if said_words.intersection(content_words(name)) or fuzz.ratio(key, said_key) >= 75:
            return True
        for long, short in ((key, said_key), (said_key, key)):
            words = [w for w in long.split() if w not in ("of", "the", "and", "for")]
            if len(words) > 1 and "".join(w[0] for w in words) == short.replace(" ", ""):
                return True
    return False


def needs_escalation(state: EnrichState, ctx: RunContext) -> bool:
    grounding = state["grounding"]
    failed = (
        grounding.unfound_entities
        or grounding.unfound_quotes
        or any(c.verdict in ("contradicted", "not_found") for c in state.get("claims", []))
        or chunks_to_reread(state, ctx)
    )
    return (
        bool(failed)
        and ctx.settings.escalate
        and not ctx.budget_exceeded
        and ctx.client.next_tier(Tier.SMALL) is not None
    )


def _label(item: Item) -> str:
    if isinstance(item, MergedEntity):
        return f"{item.name} ({item.type.value})"
    return f'the quote "{item.text}"'


class _Locator:
    """Re-asks one chunk's unfound items on a stronger tier and re-aligns the answers."""

    def __init__(self, state: EnrichState, ctx: RunContext, aligner: Aligner) -> None:
        self.state, self.ctx, self.aligner = state, ctx, aligner
        self.transcript = state["transcript"]

    def evidence(self, chunk_id: int, items: list[tuple[Item, Candidate]]) -> list[int]:
        chunk = self.aligner.chunks[chunk_id]
        segments = [
            self.transcript.segments[sid]
            for sid in chunk.segment_ids
            if sid not in self.aligner.untrusted
        ]
        index = SegmentIndex(segments)
        chosen: set[int] = set()
        for item, candidate in items:
            query = " ".join([candidate.text, *(getattr(item, "aliases", None) or [])])
            if isinstance(item, MergedEntity):
                query += " " + item.name
            chosen.update(index.search(query, _LINES_PER_ITEM))
            if (
                candidate.segment_id is not None
                and candidate.segment_id not in self.aligner.untrusted
            ):
                chosen.add(candidate.segment_id)
        return sorted(chosen)

    async def ask(
        self, chunk_id: int, tier: Tier, items: list[tuple[Item, Candidate]]
    ) -> tuple[str, dict[int, Candidate]] | None:
        """(who answered, item position -> a candidate at the line it names), or None."""
        ids = self.evidence(chunk_id, items)
        if not ids:
            return None
        listing = "\n".join(f"{n}. {_label(item)}" for n, (item, _) in enumerate(items, start=1))
        try:
            answer = await self.ctx.client.served(
                CallTag("locate", chunk_id, tier=tier, escalated=True),
                load_prompt(PROMPT, self.ctx.settings.prompts_dir),
                LocatedItems,
                min_tier=tier,
                lines=numbered_lines(self.transcript, ids),
                items=listing,
            )
        except (ModelCallError, BudgetExceeded):
            return None
        found: dict[int, Candidate] = {}
        for hit in answer.value.found:
            if 1 <= hit.item <= len(items) and 1 <= hit.line <= len(ids) and hit.text:
                segment_id = ids[hit.line - 1]
                found.setdefault(
                    hit.item - 1, Candidate(chunk_id=chunk_id, segment_id=segment_id, text=hit.text)
                )
        return answer.deployment, found

    def realign(self, item: Item, found: Candidate, by: str) -> Entity | Quote | None:
        if isinstance(item, MergedEntity):
            if not same_name([item.name, *item.aliases], found.text):
                return None
            said = found.text.strip()
            new = said != item.name and said not in item.aliases
            names = [*item.aliases, said] if new else item.aliases
            retry = item.model_copy(update={"aliases": names, "candidates": [found]})
            return self.aligner.entity(retry, by, "recovered").entity
        if (
            not notable(found.text)
            or fuzz.token_set_ratio(normalize_key(item.text), normalize_key(found.text)) < 60
        ):
            return None
        return self.aligner.quote(found, by, "recovered")


async def _locate_all(
    state: EnrichState, ctx: RunContext, grounding: Grounding, skip: set[int]
) -> Grounding:
    """The grounding with what the stronger tier recovered moved from unfound to found; items
    of the chunks in `skip` (read again whole) are not asked about one by one."""
    aligner = Aligner(state["transcript"], state["chunks"], frozenset(grounding.untrusted))
    locator = _Locator(state, ctx, aligner)
    tiers = chunk_tiers(state)
    work: dict[tuple[int, Tier], list[tuple[Item, Candidate]]] = defaultdict(list)
    unfound: list[Item] = [*grounding.unfound_entities, *grounding.unfound_quotes]
    for item in unfound:
        candidates = item.candidates if isinstance(item, MergedEntity) else [item]
        for candidate in candidates:
            if candidate.chunk_id in skip:
                continue
            above = ctx.client.next_tier(tiers.get(candidate.chunk_id, Tier.SMALL))
            if above is not None:
                work[(candidate.chunk_id, above)].append((item, candidate))
    jobs = [
        (chunk_id, tier, items[start : start + _ITEMS_PER_CALL])
        for (chunk_id, tier), items in sorted(work.items())
        for start in range(0, len(items), _ITEMS_PER_CALL)
    ]
    answers = await asyncio.gather(*(locator.ask(c, t, items) for c, t, items in jobs))
    recovered: dict[int, Entity | Quote] = {}
    escalated: set[int] = set()
    for (_, _, items), answer in zip(jobs, answers, strict=True):
        escalated.update(id(item) for item, _ in items)
        if answer is None:
            continue
        by, found = answer
        for position, candidate in found.items():
            item = items[position][0]
            if id(item) not in recovered:
                fixed = locator.realign(item, candidate, by)
                if fixed is not None:
                    recovered[id(item)] = fixed
    entities = [r for r in recovered.values() if isinstance(r, Entity)]
    quotes = [r for r in recovered.values() if isinstance(r, Quote)]
    unfound_entities, unfound_quotes = grounding.unfound_entities, grounding.unfound_quotes
    counts, quote_counts = grounding.entity_counts, grounding.quote_counts
    return grounding.model_copy(
        update={
            "entities": combine_entities(grounding.entities, entities),
            "quotes": combine_quotes(grounding.quotes, quotes),
            "unfound_entities": [e for e in unfound_entities if id(e) not in recovered],
            "unfound_quotes": [q for q in unfound_quotes if id(q) not in recovered],
            "entity_counts": counts.model_copy(
                update={
                    "escalated": counts.escalated
                    + sum(id(e) in escalated for e in unfound_entities),
                    "recovered": counts.recovered + len(entities),
                }
            ),
            "quote_counts": quote_counts.model_copy(
                update={
                    "escalated": quote_counts.escalated
                    + sum(id(q) in escalated for q in unfound_quotes),
                    "recovered": quote_counts.recovered + len(quotes),
                }
            ),
        }
    )


async def _rejudge(state: EnrichState, ctx: RunContext, claims: list[Claim]) -> list[Claim]:
    transcript = state["transcript"]
    above = ctx.client.next_tier(Tier.SMALL)

    async def again(number: int, claim: Claim) -> Claim:
        if above is None or claim.verdict == "supported" or claim.escalated:
            return claim
        if not claim.evidence_segment_ids:
            return claim
        evidence = Evidence(transcript, sorted(claim.evidence_segment_ids))
        tag = CallTag("judge", tier=above, escalated=True, part=str(number))
        judged = await judge(ctx, tag, claim.text, evidence)
        if judged.verdict == "unchecked":  # the stronger judge could not rule: the first stands
            return claim.model_copy(update={"escalated": True})
        return judged.model_copy(update={"escalated": True})

    return list(await asyncio.gather(*(again(n, c) for n, c in enumerate(claims))))


async def escalate(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    (fresh, answered), claims = await asyncio.gather(
        reread_chunks(state, ctx, chunks_to_reread(state, ctx)),
        _rejudge(state, ctx, state.get("claims", [])),
    )
    grounding = state["grounding"]
    if fresh is not None:
        grounding = absorb(grounding, fresh, answered)
    # Items of chunks not read again (or whose re-read failed) are asked about one by one.
    grounding = await _locate_all(state, ctx, grounding, answered)
    grounding = grounding.model_copy(update={"chunks_reread": len(answered)})
    ctx.report("escalate")
    return {"grounding": grounding, "claims": claims}
