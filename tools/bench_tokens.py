"""Prompt tokens per transcript token for a 1-hour episode: ciagent beside a naive pipeline.

    python -m tools.bench_tokens

The naive pipeline is how extractor chains work (LlamaIndex's metadata extractors, a LangChain
map-reduce): every chunk is sent once per extractor (summary, topics, entities, quotes), then the
chunk summaries once more to combine them. It uses ciagent's own chunks (same size, same
overlap), so the difference is the calls per chunk alone. Both run against the same simulated
server, and both counts are the prompt tokens it reports (tiktoken, like the transcript's).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from ciagent import Settings, load_transcript
from ciagent.api import aenrich, reading
from ciagent.chunking import chunk_text, chunk_transcript
from ciagent.signals import built_in
from ciagent.textnorm import clean
from ciagent.tokens import token_counter
from tools.bench_batch import HOUR
from tools.simulated import Latency, served, settings_for

__all__ = ["EXTRACTORS", "main", "naive_prompt_tokens"]

# One instruction per extractor, each sent with the whole chunk (the shape of LlamaIndex's
# SummaryExtractor, KeywordExtractor, EntityExtractor-by-LLM and a quote extractor).
EXTRACTORS = {
    "summary": "Summarize the key topics and entities of the section below.\n\n{text}\n\nSummary:",
    "topics": "Give five unique keywords for the section below, comma-separated.\n\n{text}\n\n"
    "Keywords:",
    "entities": "List every person, organization and place named in the section below, as JSON"
    ' [{{"name": ..., "type": ...}}].\n\n{text}\n\nEntities:',
    "quotes": "Pick the two most quotable sentences of the section below, verbatim, as a JSON"
    " list.\n\n{text}\n\nQuotes:",
}
_NUMBER = re.compile(r"^\[\d+\] ", re.MULTILINE)
COMBINE = "Combine these section summaries into one summary of the whole episode.\n\n{text}"


async def _ask(client: httpx.AsyncClient, base: str, prompt: str) -> tuple[int, str]:
    body = {"model": "fake", "messages": [{"role": "user", "content": prompt}]}
    answer = (await client.post(f"{base}/v1/chat/completions", json=body)).json()
    return int(answer["usage"]["prompt_tokens"]), answer["choices"][0]["message"]["content"]


async def naive_prompt_tokens(
    base: str, transcript_path: Path, settings: Settings
) -> tuple[int, int]:
    """(calls, prompt tokens) of the naive pipeline on one transcript."""
    transcript = load_transcript(transcript_path)
    chunks = chunk_transcript(
        transcript, token_counter(), reading(settings).chunk_tokens, settings.chunk_overlap_tokens
    )
    # Plain "Speaker: text" lines: a naive extractor has no use for ciagent's [n] line numbers.
    texts = [_NUMBER.sub("", chunk_text(transcript, chunk)) for chunk in chunks]
    async with httpx.AsyncClient(timeout=60) as client:
        asked = await asyncio.gather(
            *(
                _ask(client, base, template.format(text=text))
                for text in texts
                for template in EXTRACTORS.values()
            )
        )
        summaries = [content for n, (_, content) in enumerate(asked) if n % len(EXTRACTORS) == 0]
        combined, _ = await _ask(client, base, COMBINE.format(text="\n".join(summaries)))
    return len(asked) + 1, sum(tokens for tokens, _ in asked) + combined


def main() -> None:
    transcript = load_transcript(HOUR)
    count = token_counter()
    written = count(transcript.render())
    # The same lines without the corpus's markers ({disfmarker}, {vocalsound}): what a podcast
    # transcript, which has none, would weigh. ciagent removes them before sending.
    bare = count("\n".join(f"{s.speaker}: {clean(s.text)}" for s in transcript.segments))
    with served(Latency()) as base:
        settings = settings_for(base)
        result = asyncio.run(aenrich(transcript, settings))
        # The three built-in extractors on: riding in the notes call, then each in its own.
        signals = built_in()
        ridden = asyncio.run(aenrich(transcript, settings_for(base, extractors=signals)))
        own = settings_for(base, extractors=signals, extractor_calls="own")
        apart = asyncio.run(aenrich(transcript, own))
        naive_calls, naive = asyncio.run(naive_prompt_tokens(base, HOUR, settings))
    chunk = reading(settings).chunk_tokens
    print(
        f"1-hour episode {HOUR.stem}: {len(transcript.segments)} turns, {written} transcript "
        f"tokens as written, {bare} without corpus markers; chunks of {chunk} "
        f"tokens, {settings.chunk_overlap_tokens} overlap"
    )
    rows = [
        (
            "ciagent (notes, chapters, summary, claims)",
            result.cost.calls,
            result.cost.prompt_tokens,
        ),
        (
            "  + segments, safety, people riding the notes",
            ridden.cost.calls,
            ridden.cost.prompt_tokens,
        ),
        ("  + the same, each in a call of its own", apart.cost.calls, apart.cost.prompt_tokens),
        (f"naive ({len(EXTRACTORS)} extractors per chunk, 1 combine)", naive_calls, naive),
    ]
    print(f"  {'pipeline':<46} {'calls':>5} {'prompt':>7} {'/ written':>9} {'/ bare':>7}")
    for name, calls, tokens in rows:
        print(f"  {name:<46} {calls:>5} {tokens:>7} {tokens / written:>9.2f} {tokens / bare:>7.2f}")
    base_tokens = result.cost.prompt_tokens
    riding_adds = (ridden.cost.prompt_tokens - base_tokens) / written
    own_adds = (apart.cost.prompt_tokens - base_tokens) / written
    print(
        f"  the extractors add {riding_adds:.2f} prompt tokens per written token riding the "
        f"notes, {own_adds:.2f} in calls of their own"
    )
    print("  ciagent by step:")
    for step, line in result.cost.by_step.items():
        print(
            f"    {step:<10} {line.calls:>3} calls {line.prompt_tokens:>6} prompt tokens "
            f"{line.prompt_tokens / written:>5.2f} per transcript token"
        )


if __name__ == "__main__":
    main()
