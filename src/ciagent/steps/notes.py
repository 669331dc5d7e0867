"""Map step: one structured call per chunk returns its summary, topics, entities and quotes.

Reading each transcript token once is the floor for cost, so all four come from the same call.
Mentions and quotes cite the numbered lines they come from, which verification checks. A chunk
whose answer is still invalid after its re-asks is escalated: asked again on the next tier up,
when one is deployed (`settings.escalate`).
"""

from __future__ import annotations

from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.prompts import Prompt, load_prompt
from ciagent.routing.registry import Tier
from ciagent.schemas import ChunkNotes, chunk_notes_model, in_words, quote_limit
from ciagent.settings import Settings
from ciagent.state import ChunkTask, EnrichUpdate, NoteResult, RunContext

__all__ = ["chunk_notes", "notes_request"]

Values = dict[str, str]

PROMPT = "chunk_notes"


def notes_request(settings: Settings, chunk_tokens: int) -> tuple[Prompt, type[ChunkNotes], Values]:
    """The notes prompt, its response model and its fixed values, sized for chunks of
    `chunk_tokens`: a larger chunk is asked for proportionally more entities and quotes."""
    prompt = load_prompt(PROMPT, settings.prompts_dir)
    values = {"quotes": in_words(quote_limit(chunk_tokens))}
    return prompt, chunk_notes_model(chunk_tokens), values


async def chunk_notes(task: ChunkTask, ctx: RunContext) -> EnrichUpdate:
    """Notes for one chunk; a chunk whose call fails is recorded as failed, not fatal."""
    chunk = task["chunk"]
    prompt, response_model, values = notes_request(ctx.settings, ctx.reading.chunk_tokens)
    text = chunk_text(task["transcript"], chunk)
    step, tier, escalated = f"notes[{chunk.id}]", Tier.SMALL, False
    while True:
        try:
            answer = await ctx.client.served(
                step, prompt, response_model, min_tier=tier, transcript=text, **values
            )
            result = NoteResult(
                chunk_id=chunk.id,
                notes=answer.value,
                deployment=answer.deployment,
                tier=answer.tier,
                escalated=escalated,
            )
            break
        except BudgetExceeded as exc:
            result = NoteResult(chunk_id=chunk.id, error=str(exc), escalated=escalated)
            break
        except ModelCallError as exc:
            above = ctx.client.next_tier(tier) if ctx.settings.escalate else None
            if above is None:
                result = NoteResult(chunk_id=chunk.id, error=str(exc), escalated=escalated)
                break
            step, tier, escalated = f"escalate.notes[{chunk.id}]", above, True
    ctx.report("notes")
    return {"notes": [result]}
