"""Reduce step: the episode summary from the chunk summaries.

One chunk: its summary is the episode's (no call). Several: one call over all of them, or, when
they do not fit the model's context, a hierarchical reduce: groups that fit are summarised, then
the group summaries, until one call can take the rest. Sentences cut off, looping, or naming
anything the transcript never mentions are dropped (`textnorm.grounded_sentences`), and the rest
written as prose (`prose.as_prose`).

A reduce call on a small model often writes about one stretch of the episode and leaves the rest
out (on the 0.5B model, the sample's summary spoke of its second half only). `cover_parts` then
puts each part the summary does not speak of back in, in order: the most central sentence of
that part's own summary (model-written and grounded like the rest; never a transcript line).
"""

from __future__ import annotations

from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.llm.backend import CallTag
from ciagent.offload import off_loop
from ciagent.prompts import load_prompt
from ciagent.prose import as_prose, central_sentences
from ciagent.schemas import EpisodeSummary
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.textnorm import grounded_sentences, normalize_key, shippable, split_sentences
from ciagent.tokens import TokenCounter
from ciagent.vocabulary import stems

__all__ = ["cover_parts", "group_to_fit", "summarize"]

PROMPT = "episode_summary"
_MARGIN = 64
_COVERED = 0.25  # share of a part's content stems a summary must say to speak of that part


def cover_parts(summary: str, parts: list[str]) -> str:
    """`summary`, with the most central sentence of each of `parts` (consecutive parts of the
    episode, each summarised) that it does not speak of, put in before the first sentence that
    is about a later part. A sentence is about the part whose words it shares most."""
    if not parts:
        return summary
    sentences = split_sentences(summary)
    bags = [stems(part) for part in parts]
    own = [stems(s) for s in sentences]
    said = set().union(*own)
    about = [max(range(len(parts)), key=lambda i: (len(words & bags[i]), -i)) for words in own]
    out: list[str] = []
    position = 0
    for number, (part, bag) in enumerate(zip(parts, bags, strict=True)):
        while position < len(sentences) and about[position] < number:
            out.append(sentences[position])
            position += 1
        if bag and number not in about and len(bag & said) < _COVERED * len(bag):
            out += central_sentences(split_sentences(part), 1)
    out += sentences[position:]
    return " ".join(out)


def group_to_fit(parts: list[str], count: TokenCounter, budget: int) -> list[list[str]]:
    """Consecutive groups of parts, each within `budget` tokens (a lone part may exceed it)."""
    groups: list[list[str]] = [[]]
    used = 0
    for part in parts:
        tokens = count(part) + 1
        if groups[-1] and used + tokens > budget:
            groups.append([])
            used = 0
        groups[-1].append(part)
        used += tokens
    return groups


async def summarize(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    """The episode's summary (see the module), less a sentence with a word broken off in it or
    a run of words said twice (`textnorm.shippable`), unless no sentence would be left."""
    update = await _summarized(state, ctx)
    summary = update.get("summary", "")
    return {**update, "summary": shippable(summary) or summary}


async def _summarized(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    merged = state["merged"]
    results = state.get("notes", [])
    if not any(r.notes is not None for r in results):
        if ctx.budget_exceeded:
            return {"summary": ""}
        errors = [r.error for r in results if r.error]
        raise ModelCallError(
            ctx.client.spec.model_id,
            f"every chunk failed; first: {errors[0]}" if errors else "no chunk notes were produced",
        )
    if not merged.summaries:
        return {"summary": ""}
    chunks = {chunk.id: chunk for chunk in state["chunks"]}
    parts = [
        f"Part {n} (lines {chunks[cid].first_segment}-{chunks[cid].last_segment}): {text}"
        for n, (cid, text) in enumerate(merged.summaries, start=1)
    ]
    if len(parts) == 1:
        return {"summary": merged.summaries[0][1]}
    prompt = load_prompt(PROMPT, ctx.settings.prompts_dir)
    overhead = sum(ctx.count_tokens(m["content"]) for m in prompt.messages(notes=""))
    budget = ctx.client.spec.context_window - ctx.reading.output_tokens - overhead - _MARGIN
    if budget < 1024:
        raise ModelCallError(ctx.client.spec.model_id, "context window too small for a summary")
    known = await off_loop(lambda: set(normalize_key(state["transcript"].render()).split()))
    speakers = state["transcript"].speakers

    def written_as_prose(summary: str) -> str:
        kept = grounded_sentences(summary, known)
        # Lines copied in the first person, when nothing else is left, rather than nothing.
        return as_prose(kept, speakers) or as_prose(kept, speakers, said=True)

    level = 0
    while True:
        groups = await off_loop(group_to_fit, parts, ctx.count_tokens, budget)
        ctx.expect("summary", len(groups))
        summaries: list[str] = []
        for group in groups:
            try:
                answer = await ctx.client.structured(
                    CallTag("summary", part=str(level)),
                    prompt,
                    EpisodeSummary,
                    notes="\n".join(group),
                )
            except BudgetExceeded:
                # No budget for the reduce: the chunk summaries, in order, are what there is.
                return {"summary": " ".join(text for _, text in merged.summaries)}
            summaries.append(await off_loop(written_as_prose, answer.summary))
            ctx.report("summary")
        if len(summaries) == 1:
            written = [text for cid, text in merged.summaries if cid not in merged.stand_ins]
            return {"summary": await off_loop(cover_parts, summaries[0], written)}
        parts = [f"Part {n}: {text}" for n, text in enumerate(summaries, start=1)]
        level += 1
