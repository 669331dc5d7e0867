"""Map step: one structured call per chunk returns its summary, topics, entities and quotes.

Reading each transcript token once is the floor for cost, so all four come from the same call.
Mentions and quotes cite the numbered lines they come from, which verification checks.
"""

from __future__ import annotations

from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.prompts import load_prompt
from ciagent.schemas import ChunkNotes
from ciagent.state import ChunkTask, EnrichUpdate, NoteResult, RunContext

__all__ = ["chunk_notes"]

PROMPT = "chunk_notes"


async def chunk_notes(task: ChunkTask, ctx: RunContext) -> EnrichUpdate:
    """Notes for one chunk; a chunk whose call fails is recorded as failed, not fatal."""
    chunk = task["chunk"]
    prompt = load_prompt(PROMPT, ctx.settings.prompts_dir)
    try:
        notes = await ctx.client.structured(
            f"notes[{chunk.id}]",
            prompt,
            ChunkNotes,
            transcript=chunk_text(task["transcript"], chunk),
        )
        result = NoteResult(chunk_id=chunk.id, notes=notes)
    except (ModelCallError, BudgetExceeded) as exc:
        result = NoteResult(chunk_id=chunk.id, error=str(exc))
    ctx.report("notes")
    return {"notes": [result]}
