"""Claims step: the summary split into claims (its sentences), each judged against evidence.

For each claim, a lexical retriever (`ciagent.retrieval`, BM25 over segments) picks the segments
that share its words, with their neighbours. A claim that repeats one of those segments nearly word
for word is supported by it with no model call (small models often summarise by copying); any
other gets a structured judge call on the cheapest tier: supported / contradicted / not found, with
the evidence lines it rests on. Claims that are not
supported are re-judged on a stronger tier by the escalate step, then removed (or kept flagged).
"""

from __future__ import annotations

import asyncio

from rapidfuzz import fuzz

from ciagent.chunking import segment_line
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.prompts import load_prompt
from ciagent.retrieval import SegmentIndex, with_neighbours
from ciagent.routing.registry import Tier
from ciagent.schemas import ClaimJudgement
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.textnorm import normalize_key, split_sentences
from ciagent.types import Claim, Transcript

__all__ = ["Evidence", "claims", "judge", "numbered_lines"]

PROMPT = "judge_claim"
_MAX_LINES = 8
VERBATIM = "transcript (verbatim)"


def numbered_lines(transcript: Transcript, segment_ids: list[int]) -> str:
    """The segments as the model reads them, numbered from 1 in the order given."""
    return "\n".join(
        segment_line(transcript.segments[sid], number=number)
        for number, sid in enumerate(segment_ids, start=1)
    )


class Evidence:
    """Numbered evidence lines for one claim, and the segment ids behind the numbers."""

    def __init__(self, transcript: Transcript, segment_ids: list[int]) -> None:
        self.segment_ids = segment_ids
        self.texts = [transcript.segments[sid].text for sid in segment_ids]
        self.text = numbered_lines(transcript, segment_ids)

    @classmethod
    def retrieve(
        cls,
        transcript: Transcript,
        index: SegmentIndex,
        claim: str,
        k: int,
        untrusted: frozenset[int] = frozenset(),
    ) -> Evidence:
        hits = [sid for sid in index.search(claim, k + len(untrusted)) if sid not in untrusted][:k]
        near = with_neighbours(hits, len(transcript.segments) - 1, _MAX_LINES)
        return cls(transcript, [sid for sid in near if sid not in untrusted])

    def verbatim(self, claim: str) -> int | None:
        """The evidence segment that says the claim nearly word for word, if any (a claim of
        five words or more: a shorter one says too little to be matched this way)."""
        key = normalize_key(claim)
        if len(key.split()) < 5:
            return None
        for segment_id, text in zip(self.segment_ids, self.texts, strict=True):
            said = normalize_key(text)
            if len(said) >= 0.9 * len(key) and fuzz.partial_ratio(key, said) >= 92:
                return segment_id
        return None

    def cited(self, lines: list[int]) -> list[int]:
        """Segment ids of the cited line numbers (the valid ones), then the rest of the evidence."""
        first = [self.segment_ids[n - 1] for n in lines if 1 <= n <= len(self.segment_ids)]
        return list(dict.fromkeys([*first, *self.segment_ids]))


async def judge(
    ctx: RunContext,
    step: str,
    text: str,
    evidence: Evidence,
    tier: Tier = Tier.SMALL,
) -> Claim:
    """One judge call; a claim no judge could rule on is `unchecked`, never guessed."""
    if not evidence.segment_ids:
        return Claim(text=text, verdict="not_found", in_summary=True)
    copied = evidence.verbatim(text)
    if copied is not None:
        return Claim(
            text=text,
            verdict="supported",
            evidence_segment_ids=[copied],
            judged_by=VERBATIM,
            in_summary=True,
        )
    prompt = load_prompt(PROMPT, ctx.settings.prompts_dir)
    try:
        answer = await ctx.client.served(
            step, prompt, ClaimJudgement, min_tier=tier, evidence=evidence.text, claim=text
        )
    except (ModelCallError, BudgetExceeded):
        return Claim(
            text=text,
            verdict="unchecked",
            evidence_segment_ids=evidence.segment_ids,
            in_summary=True,
        )
    return Claim(
        text=text,
        verdict=answer.value.verdict,
        evidence_segment_ids=evidence.cited(answer.value.lines),
        judged_by=answer.deployment,
        escalated=tier != Tier.SMALL,
        in_summary=True,
    )


async def claims(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    sentences = split_sentences(state.get("summary", ""))
    if not ctx.settings.verify_claims or not sentences:
        return {"claims": [Claim(text=s, verdict="unchecked", in_summary=True) for s in sentences]}
    transcript = state["transcript"]
    untrusted = frozenset(state["grounding"].untrusted)
    index = SegmentIndex(transcript.segments)
    ctx.expect("claims", len(sentences))

    async def one(number: int, sentence: str) -> Claim:
        evidence = Evidence.retrieve(
            transcript, index, sentence, ctx.settings.claim_evidence, untrusted
        )
        claim = await judge(ctx, f"judge[{number}]", sentence, evidence)
        ctx.report("claims")
        return claim

    judged = await asyncio.gather(*(one(n, s) for n, s in enumerate(sentences)))
    return {"claims": list(judged)}
