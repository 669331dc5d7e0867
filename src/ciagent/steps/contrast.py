"""A claim judge by contrast, on request (`claim_judge = "contrast"`): which of a claim and its
negation do the evidence lines support?

The claim is set against its opposite (`ciagent.negation`: "The team agreed on the price." and
"The team did not agree on the price."), and only the likelihood of the model's one-letter answer
is read, in both orders (the claim as A, then as B), which cancels its leaning towards the first
option. The claim is contradicted when its negation is the likelier over the two orders together,
supported otherwise. The two calls share their prompt up to the statements, which the embedded
engine reads once. A claim with no verb to negate, or whose calls failed, gets no verdict (None).

Not a default: on the 0.5B model it sorts the labelled claim set well (balanced accuracy 0.785)
but decides the same with another meeting's lines as evidence, so what it reads is which sentence
looks written rather than edited, not the evidence (docs/evals.md). `tools/judge_eval.py
--control` measures that for any model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.llm.backend import CallTag
from ciagent.negation import negate
from ciagent.prompts import load_prompt
from ciagent.state import RunContext

__all__ = ["PROMPT", "Contrast", "contrast"]

PROMPT = "judge_contrast"
_OPTIONS = ("A", "B")


@dataclass(frozen=True)
class Contrast:
    """The verdict, how much likelier the claim was than its negation (in log-probability,
    over both orders: below 0 is contradicted), and the deployment that answered."""

    verdict: Literal["supported", "contradicted"]
    margin: float
    deployment: str


async def contrast(
    ctx: RunContext,
    tag: CallTag,
    claim: str,
    lines: str,
    vocabulary: AbstractSet[str],
) -> Contrast | None:
    """`claim` weighed against its negation on the numbered evidence `lines` (`vocabulary`: the
    transcript's words, to tell a past tense's bare form), on the tag's tier or above."""
    tier = tag.tier
    negated = negate(claim, vocabulary, guess=True)
    if negated is None:
        return None
    prompt = load_prompt(PROMPT, ctx.settings.prompts_dir)
    client = ctx.client
    try:
        first, second = await asyncio.gather(
            client.choice(
                tag, prompt, _OPTIONS, min_tier=tier, evidence=lines, first=claim, second=negated
            ),
            client.choice(
                tag, prompt, _OPTIONS, min_tier=tier, evidence=lines, first=negated, second=claim
            ),
        )
    except (ModelCallError, BudgetExceeded):
        return None
    margin = (first.value["A"] - first.value["B"]) + (second.value["B"] - second.value["A"])
    verdict: Literal["supported", "contradicted"] = "contradicted" if margin < 0 else "supported"
    return Contrast(verdict, round(margin, 4), first.deployment)
