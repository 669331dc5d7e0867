"""First step: cut the transcript into chunks that fit one call each, and, under a run cap
shared with other episodes, hold what the episode's calls will need before the first of them
(`BudgetGuard.admit`)."""

from __future__ import annotations

import math

from ciagent.chunking import chunk_transcript
from ciagent.llm.layers import PROMPT_SLACK
from ciagent.offload import off_loop
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.steps.names import read_ahead
from ciagent.steps.notes import summary_tokens
from ciagent.types import Chunk

__all__ = ["chunk", "episode_need"]

# Prompt tokens a call sends beyond the transcript it reads (instructions, worked example,
# schema), counted generously (times PROMPT_SLACK), as the call path counts a worst case.
_INSTRUCTIONS = 900
_CLAIMS = 12  # summary claims a verdict judge may be asked about
_CHAPTER_LINES = 1500  # tokens of key words and lines the chapter titles' call reads, at most


async def chunk(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    settings = ctx.settings
    chunks = await off_loop(
        chunk_transcript,
        state["transcript"],
        ctx.count_tokens,
        max_tokens=ctx.reading.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    ctx.expect("notes", len(chunks))
    budget = ctx.client.budget
    if budget is not None and budget.shared:
        usd, tokens = episode_need(ctx, chunks)
        await budget.admit(usd, tokens, "admission", patience_s=settings.admission_wait_s)
    # Admitted: the NLP pipeline begins reading now, beside every call after (`names` collects).
    read_ahead(state["transcript"], ctx)
    return {"chunks": chunks}


def episode_need(ctx: RunContext, chunks: list[Chunk]) -> tuple[float, int]:
    """(usd, tokens) the episode's first pass of calls costs at most, on its first tier: per
    chunk its notes (and its summary, when asked apart), the chapter titles, the summary over
    the chunks, and the claim verdicts when a model judges. Re-asks and escalations are not in
    it: they draw on the run cap like any call."""
    reading, spec = ctx.reading, ctx.client.spec
    out = reading.output_tokens
    calls: list[tuple[int, int]] = []  # (prompt, completion) per call
    for c in chunks:
        calls.append((c.tokens + _INSTRUCTIONS, out))
        if reading.summary_apart:
            calls.append((c.tokens + _INSTRUCTIONS, summary_tokens(reading)))
    words = sum(c.tokens for c in chunks)
    calls.append((min(words, _CHAPTER_LINES) + _INSTRUCTIONS, out))
    if len(chunks) > 1:
        calls.append((len(chunks) * out // 4 + _INSTRUCTIONS, out))
    if reading.judge == "verdict":
        judged = math.ceil(_CLAIMS / reading.claims_per_call)
        calls.extend([(reading.chunk_tokens + _INSTRUCTIONS, out // 2)] * judged)
    prompts = [int(p * PROMPT_SLACK) for p, _ in calls]
    usd = sum(spec.cost(p, c) for p, (_, c) in zip(prompts, calls, strict=True))
    return usd, sum(prompts) + sum(c for _, c in calls)
