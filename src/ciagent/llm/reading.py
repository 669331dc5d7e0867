"""How much a model is given to read at once: transcript tokens per notes call, and summary
claims per judge call.

Both are chosen for the models that may answer, unless the settings fix them. A small model
(the embedded 0.5B-1.5B ones, or a served model whose name gives under 3B parameters) reads a
1,500-token chunk well and, when asked to judge claims, judges one at a time; any other served
or hosted model reads a
quarter of its context, up to 4,000 tokens, and judges a summary's claims together. Fewer, larger
calls send the instructions and worked examples fewer times: on a 1-hour episode that is most of
the difference between 1.6 and 1.2 prompt tokens per transcript token. Chunks stay well under the
context, because extraction recall drops on long inputs; a deployment can set its own
`chunk_tokens`. Under routing the smallest reading of any deployment is used: a chunk must suit
whichever deployment answers it.

A small model is asked for a chunk's summary in a prose call of its own (inside the notes' JSON
it copies lines and loops, docs/evals.md); any other writes it in the notes, so the chunk is read
once. A small model's claims are judged by the lexical checks alone: asked for a verdict, or for
which of a claim and its negation the evidence supports, its answers do not depend on the
evidence (docs/evals.md); any other model is asked for a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ciagent.llm.models import ModelSpec
from ciagent.settings import SMALL_CHUNK_TOKENS, Settings

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "LARGE_CHUNK_TOKENS",
    "LARGE_CLAIMS_PER_CALL",
    "SMALL_CHUNK_TOKENS",
    "Reading",
    "reading_for",
]

DEFAULT_OUTPUT_TOKENS = 1024
LARGE_CHUNK_TOKENS = 4000
LARGE_CLAIMS_PER_CALL = 8


Judge = Literal["verdict", "contrast", "lexical"]


@dataclass(frozen=True)
class Reading:
    """Transcript tokens per notes call, summary claims per judge call, and the completion cap
    (a larger chunk has more to say: its notes may list proportionally more entities and quotes)."""

    chunk_tokens: int = SMALL_CHUNK_TOKENS
    claims_per_call: int = 1
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    summary_apart: bool = True  # a chunk's summary asked as prose in a call of its own
    # Who judges a claim the lexical checks leave: a verdict call, the claim against its
    # negation (`ciagent.steps.contrast`), or no one (it stays unchecked).
    judge: Judge = "lexical"
    # Extractors asked inside the notes call (while their items fit its answer), not apart.
    extractors_ride: bool = False


# A parameter count in a model's name: "Qwen2.5-0.5B-Instruct", "llama-3.1-8b", "mixtral-8x7b".
_PARAMETERS = re.compile(r"(?<![\w.])(?:\d+x)?(\d+(?:\.\d+)?)b(?![a-z])")
SMALL_BELOW_BILLIONS = 3.0


def _small(spec: ModelSpec) -> bool:
    """An embedded model, or one of fewer than 3B parameters (as its backend says, or else as
    its name gives)."""
    if spec.model_id.startswith("embedded/"):
        return True
    if spec.parameters_b is not None:
        return spec.parameters_b < SMALL_BELOW_BILLIONS
    name = spec.model_id.rsplit("/", 1)[-1].lower()
    sizes = [float(found) for found in _PARAMETERS.findall(name.replace("_", "-"))]
    return bool(sizes) and max(sizes) < SMALL_BELOW_BILLIONS


def _chunk_tokens(spec: ModelSpec) -> int:
    if spec.chunk_tokens is not None:
        return spec.chunk_tokens
    if _small(spec):
        return SMALL_CHUNK_TOKENS
    return max(SMALL_CHUNK_TOKENS, min(LARGE_CHUNK_TOKENS, spec.context_window // 4))


def reading_for(settings: Settings, specs: Sequence[ModelSpec]) -> Reading:
    """The reading for these models (all that may answer), where the settings leave it open."""
    chunk = settings.chunk_tokens or min(
        (_chunk_tokens(s) for s in specs), default=SMALL_CHUNK_TOKENS
    )
    claims = settings.claims_per_judge_call or min(
        (1 if _small(s) else LARGE_CLAIMS_PER_CALL for s in specs), default=1
    )
    output = settings.max_output_tokens or round(
        DEFAULT_OUTPUT_TOKENS * max(1.0, chunk / SMALL_CHUNK_TOKENS)
    )
    small = any(_small(s) for s in specs) or not specs
    apart = small if settings.chunk_summaries == "auto" else settings.chunk_summaries == "apart"
    judge: Judge
    if settings.claim_judge == "auto":
        judge = "lexical" if small else "verdict"
    else:
        judge = settings.claim_judge
    ride = not small if settings.extractor_calls == "auto" else settings.extractor_calls == "ride"
    return Reading(
        chunk_tokens=chunk,
        claims_per_call=claims,
        output_tokens=output,
        summary_apart=apart,
        judge=judge,
        extractors_ride=ride,
    )
