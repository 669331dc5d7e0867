"""Map step: per chunk, one structured call for its entities, topics and quotes, and beside it
one prose call for its summary.

The notes come together from one call. Mentions and quotes cite the numbered lines they come
from, which verification checks. A chunk whose notes are still invalid after their re-asks is
escalated: asked again on the next tier up, when one is deployed (`settings.escalate`).

A small model is asked for the summary on its own, as prose, because inside the notes' JSON it
wrote it by copying lines, looping, or echoing the worked example, and asked plainly it
summarises (on the 0.5B model and the QMSum meetings, docs/evals.md); a larger one writes it in
the notes, so the chunk is read once (`Reading.summary_apart`). The two calls run at once,
so a batching backend decodes them together. A summary call that fails leaves the chunk to the
stand-in of merge (its most central lines), never the notes.
"""

from __future__ import annotations

import asyncio

from pydantic import Field, create_model

from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.extractors import Extractor
from ciagent.llm.backend import CallTag
from ciagent.llm.reading import Reading
from ciagent.offload import off_loop
from ciagent.prompts import Prompt, load_prompt
from ciagent.routing.registry import Tier
from ciagent.schemas import (
    ChunkNotes,
    SummarizedNotes,
    chunk_notes_model,
    in_words,
    quote_limit,
)
from ciagent.settings import Settings
from ciagent.signals.segments import non_content
from ciagent.state import ChunkTask, EnrichUpdate, NoteResult, RunContext
from ciagent.steps.extract import found_in_notes, ridden_request, riding
from ciagent.telemetry import logger
from ciagent.types import Transcript

__all__ = ["chunk_notes", "chunk_summary", "notes_request", "skipped", "summary_tokens"]

log = logger(__name__)

Values = dict[str, str]

PROMPT = "chunk_notes"
SUMMARY_PROMPT = "chunk_summary"
_SUMMARY_SHARE = 4  # a chunk summary may take a quarter of the notes' completion cap
_SUMMARY_FIELD = (
    "- summary: two to four sentences on what these lines discuss, in your own words.\n"
)


def notes_request(
    settings: Settings,
    chunk_tokens: int,
    summary: bool = False,
    riders: tuple[Extractor, ...] = (),
) -> tuple[Prompt, type[ChunkNotes], Values]:
    """The notes prompt, its response model and its fixed values, sized for chunks of
    `chunk_tokens`: a larger chunk is asked for proportionally more entities and quotes. With
    `summary`, the notes carry the chunk's summary too; with `riders`, those extractors' items
    (`extras`)."""
    prompt = load_prompt(PROMPT, settings.prompts_dir)
    asked, extras = ridden_request(riders)
    values = {
        "quotes": in_words(quote_limit(chunk_tokens)),
        "summary": _SUMMARY_FIELD if summary else "",
        "extras": asked,
    }
    model: type[ChunkNotes] = chunk_notes_model(chunk_tokens, summary)
    if extras is not None:
        model = create_model(
            "ChunkNotes",
            __base__=model,
            __doc__=model.__doc__,
            extras=(extras, Field(default_factory=extras)),
        )
    return prompt, model, values


def summary_tokens(reading: Reading) -> int:
    """The completion cap of a chunk's summary asked apart: a quarter of the notes'."""
    return max(64, reading.output_tokens // _SUMMARY_SHARE)


async def chunk_summary(text: str, chunk_id: int, ctx: RunContext) -> str | None:
    """The chunk's summary as the model writes it, or None when the call fails (the budget
    included: the notes matter more, and merge stands the chunk's own lines in).

    Its prompt is the notes' up to the end of the chunk's lines (`chunk_summary.toml`), filled
    with the same values, so the two requests share that prefix."""
    prompt = load_prompt(SUMMARY_PROMPT, ctx.settings.prompts_dir)
    _, _, values = notes_request(ctx.settings, ctx.reading.chunk_tokens)
    limit = summary_tokens(ctx.reading)
    try:
        return await ctx.client.text(
            CallTag("chunk_summary", chunk_id),
            prompt,
            max_tokens=limit,
            transcript=text,
            **values,
        )
    except (BudgetExceeded, ModelCallError):
        return None


def skipped(transcript: Transcript, settings: Settings) -> frozenset[int]:
    """The segments a summary leaves out (`settings.skip_non_content`): sponsor reads,
    promotion, intro and outro as the rules find them."""
    return non_content(transcript) if settings.skip_non_content else frozenset()


async def chunk_notes(task: ChunkTask, ctx: RunContext) -> EnrichUpdate:
    """Notes and summary for one chunk; a chunk whose calls fail is recorded as failed, not
    fatal. A chunk with lines its summary leaves out (`skipped`) has it asked apart, of the
    others (none when every line is a sponsor read or a credit)."""
    chunk = task["chunk"]

    def texts() -> tuple[str, frozenset[int], str]:
        text = chunk_text(task["transcript"], chunk)
        left_out = skipped(task["transcript"], ctx.settings) & set(chunk.segment_ids)
        return text, left_out, chunk_text(task["transcript"], chunk, left_out) if left_out else text

    text, left_out, content = await off_loop(texts)
    if ctx.reading.summary_apart or left_out:
        asked = len(left_out) < len(chunk.segment_ids)
        result, summary = await asyncio.gather(
            _notes(task, text, ctx, apart=True),
            chunk_summary(content, chunk.id, ctx) if asked else _nothing(),
        )
    else:
        result = await _notes(task, text, ctx, apart=False)
        summary = result.notes.summary if isinstance(result.notes, SummarizedNotes) else None
    ctx.report("notes")
    return {"notes": [result.model_copy(update={"summary": summary})]}


async def _nothing() -> str | None:
    return None


async def _notes(task: ChunkTask, text: str, ctx: RunContext, apart: bool) -> NoteResult:
    chunk_id = task["chunk"].id
    riders = riding(ctx.settings, ctx.reading)
    prompt, response_model, values = notes_request(
        ctx.settings, ctx.reading.chunk_tokens, not apart, riders
    )
    tag, tier, escalated = CallTag("notes", chunk_id), Tier.SMALL, False
    while True:
        try:
            answer = await ctx.client.served(
                tag, prompt, response_model, min_tier=tier, transcript=text, **values
            )
            result = NoteResult.answered(chunk_id, answer, escalated)
            if not riders:
                return result
            found = found_in_notes(riders, answer.value, task["transcript"], task["chunk"])
            return result.model_copy(update={"found": found})
        except BudgetExceeded as exc:
            log.warning("chunk %d: notes not asked: %s", chunk_id, exc)
            return NoteResult(chunk_id=chunk_id, error=str(exc), escalated=escalated)
        except ModelCallError as exc:
            above = ctx.client.next_tier(tier) if ctx.settings.escalate else None
            if above is None:
                log.warning("chunk %d: notes failed: %s", chunk_id, exc)
                return NoteResult(chunk_id=chunk_id, error=str(exc), escalated=escalated)
            log.info(
                "chunk %d: notes failed on tier %s, asking %s: %s",
                chunk_id,
                tier.value,
                above.value,
                exc,
            )
            tier, escalated = above, True
            tag = CallTag("notes", chunk_id, tier=above, escalated=True)
