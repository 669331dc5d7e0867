"""Last step: assemble the EpisodeEnrichment with its verification, cost and provenance."""

from __future__ import annotations

import time

from ciagent import __version__
from ciagent.prompts import load_prompt
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.steps.notes import PROMPT as NOTES_PROMPT
from ciagent.steps.summarize import PROMPT as SUMMARY_PROMPT
from ciagent.types import EpisodeEnrichment, Provenance, StepFailure

__all__ = ["finalize"]


async def finalize(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    transcript = state["transcript"]
    verified = state["verified"]
    failures = [
        StepFailure(step="notes", chunk_id=r.chunk_id, error=r.error)
        for r in sorted(state.get("notes", []), key=lambda r: r.chunk_id)
        if r.error is not None
    ]
    if not state["summary"]:
        failures.append(
            StepFailure(step="summary", error="no summary sentence survived verification")
        )
    records = ctx.client.meter.records
    models = sorted({r.model for r in records}) or [ctx.client.spec.model_id]
    folder = ctx.settings.prompts_dir
    prompts = [load_prompt(NOTES_PROMPT, folder), load_prompt(SUMMARY_PROMPT, folder)]
    result = EpisodeEnrichment(
        status="budget_exceeded" if ctx.budget_exceeded else "partial" if failures else "complete",
        summary=state["summary"],
        topics=state["merged"].topics,
        entities=verified.entities,
        quotes=verified.quotes,
        verification=verified.report,
        cost=ctx.client.meter.report(wall_s=time.perf_counter() - ctx.started),
        failures=failures,
        provenance=Provenance(
            models=models,
            prompt_versions={p.name: p.version for p in prompts},
            ciagent_version=__version__,
            transcript_sha256=transcript.sha256,
            transcript_format=transcript.format,
            timed=transcript.timed,
        ),
    )
    ctx.report("finalize")
    return {"result": result}
