"""First step: cut the transcript into chunks that fit one call each."""

from __future__ import annotations

from ciagent.chunking import chunk_transcript
from ciagent.state import EnrichState, EnrichUpdate, RunContext

__all__ = ["chunk"]


async def chunk(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    settings = ctx.settings
    chunks = chunk_transcript(
        state["transcript"],
        ctx.count_tokens,
        max_tokens=ctx.reading.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    ctx.expect("notes", len(chunks))
    return {"chunks": chunks}
