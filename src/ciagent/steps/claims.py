"""Claims step: the summary split into claims (its sentences), each judged against evidence.

For each claim, a lexical retriever (`ciagent.retrieval`, BM25 over segments) picks the segments
that share its words, with their neighbours. A claim that repeats one of those segments nearly word
for word is supported by it with no model call (small models often summarise by copying); one
whose words settle it (`ciagent.entailment`: most of them never said, a number the evidence does
not give, the opposite polarity of the sentence it repeats) is ruled on with no call either; any
other is judged by the cheapest tier, as the reading says (`ciagent.llm.reading`, setting
`claim_judge`). A larger model is asked for a verdict in a structured call (supported /
contradicted / not found, with the evidence lines it rests on), up to `claims_per_call` claims
together on their pooled evidence, which sends the instructions once and shared lines once. A
small model's verdicts do not depend on the evidence (docs/evals.md), so by default no model
judges them: such a claim stays `unchecked`. On request a model can weigh a claim against its
negation instead (`ciagent.steps.contrast`).
Claims that are not supported are re-judged on a stronger tier by the escalate step, one by
one, then removed (or kept flagged).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from functools import cached_property

from rapidfuzz import fuzz

from ciagent import entailment
from ciagent.chunking import segment_line
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.llm.backend import CallTag
from ciagent.offload import off_loop
from ciagent.prompts import load_prompt
from ciagent.retrieval import SegmentIndex, with_neighbours
from ciagent.routing.registry import Tier
from ciagent.schemas import ClaimJudgement, ClaimJudgements, ClaimVerdict
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.steps.contrast import contrast
from ciagent.textnorm import normalize_key, split_sentences
from ciagent.types import Claim, Transcript

__all__ = [
    "Evidence",
    "claims",
    "judge",
    "judge_together",
    "judged_by_model",
    "numbered_lines",
    "settled_without_model",
]

PROMPT = "judge_claim"
GROUP_PROMPT = "judge_claims"
_MAX_LINES = 8
VERBATIM = "transcript (verbatim)"
LEXICAL = "transcript (lexical checks)"
_SAID: dict[int, _Known] = {}


@dataclass(frozen=True)
class _Known:
    """What the checks need of a whole transcript, computed once per transcript."""

    transcript: Transcript
    said: frozenset[str]  # its content stems
    voices: frozenset[str]  # its speakers

    @cached_property
    def words(self) -> frozenset[str]:
        """Its words, casefolded (only the contrast judge asks)."""
        return frozenset(w for s in self.transcript.segments for w in normalize_key(s.text).split())


def _known(transcript: Transcript) -> _Known:
    known = _SAID.get(id(transcript))
    if known is None or known.transcript is not transcript:
        if len(_SAID) > 16:
            _SAID.clear()
        known = _SAID[id(transcript)] = _Known(
            transcript,
            entailment.said_stems(s.text for s in transcript.segments),
            frozenset(transcript.speakers),
        )
    return known


def numbered_lines(transcript: Transcript, segment_ids: list[int]) -> str:
    """The segments as the model reads them, numbered from 1 in the order given."""
    return "\n".join(
        segment_line(transcript.segments[sid], number=number)
        for number, sid in enumerate(segment_ids, start=1)
    )


class Evidence:
    """Numbered evidence lines for one claim, and the segment ids behind the numbers."""

    def __init__(self, transcript: Transcript, segment_ids: list[int]) -> None:
        self.transcript = transcript
        self.segment_ids = segment_ids
        self.texts = [transcript.segments[sid].text for sid in segment_ids]
        self.speakers = [transcript.segments[sid].speaker for sid in segment_ids]
        self.text = numbered_lines(transcript, segment_ids)

    @property
    def said(self) -> frozenset[str]:
        """The content stems the whole transcript says."""
        return _known(self.transcript).said

    @property
    def voices(self) -> frozenset[str]:
        """The transcript's speakers."""
        return _known(self.transcript).voices

    @property
    def words(self) -> frozenset[str]:
        """The words the whole transcript says."""
        return _known(self.transcript).words

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

    def cited(self, lines: list[int], rest: list[int] | None = None) -> list[int]:
        """Segment ids of the cited line numbers (the valid ones), then the rest of the evidence
        (or of `rest`)."""
        first = [self.segment_ids[n - 1] for n in lines if 1 <= n <= len(self.segment_ids)]
        return list(dict.fromkeys([*first, *(self.segment_ids if rest is None else rest)]))


def settled_without_model(text: str, evidence: Evidence, lexical: bool = True) -> Claim | None:
    """A claim with no evidence is not found; one that repeats an evidence line nearly word for
    word is supported by it; one the lexical checks settle (when `lexical`) gets their verdict.
    None: a judge must rule."""
    if not evidence.segment_ids:
        return Claim(text=text, verdict="not_found", in_summary=True)
    copied = evidence.verbatim(text)
    if copied is None:
        found = (
            entailment.check(
                text, evidence.texts, evidence.said, evidence.speakers, evidence.voices
            )
            if lexical
            else None
        )
        if found is None:
            return None
        cited = [] if found.line is None else [found.line + 1]
        return Claim(
            text=text,
            verdict=found.verdict,
            evidence_segment_ids=evidence.cited(cited),
            judged_by=LEXICAL,
            in_summary=True,
        )
    return Claim(
        text=text,
        verdict="supported",
        evidence_segment_ids=[copied],
        judged_by=VERBATIM,
        in_summary=True,
    )


async def judge(ctx: RunContext, tag: CallTag, text: str, evidence: Evidence) -> Claim:
    """One claim judged: by the checks that need no model, then as the reading says (a verdict
    call, the claim against its negation: `ciagent.steps.contrast`, or no one), on the tag's
    tier or above. A claim no judge ruled on is `unchecked`, never guessed."""
    settled = settled_without_model(text, evidence, ctx.settings.lexical_checks)
    if settled is not None:
        return settled
    return await judged_by_model(ctx, tag, text, evidence)


async def judged_by_model(ctx: RunContext, tag: CallTag, text: str, evidence: Evidence) -> Claim:
    """The claim as the reading's judge rules on `evidence`, without the checks before it."""
    unchecked = Claim(
        text=text, verdict="unchecked", evidence_segment_ids=evidence.segment_ids, in_summary=True
    )
    tier = tag.tier
    if ctx.reading.judge == "lexical":
        return unchecked
    if ctx.reading.judge == "contrast":
        weighed = await contrast(ctx, tag, text, evidence.text, evidence.words)
        return Claim(
            text=text,
            verdict="unchecked" if weighed is None else weighed.verdict,
            evidence_segment_ids=evidence.segment_ids,
            judged_by=None if weighed is None else weighed.deployment,
            escalated=tier != Tier.SMALL,
            in_summary=True,
        )
    prompt = load_prompt(PROMPT, ctx.settings.prompts_dir)
    try:
        answer = await ctx.client.served(
            tag, prompt, ClaimJudgement, min_tier=tier, evidence=evidence.text, claim=text
        )
    except (ModelCallError, BudgetExceeded):
        return unchecked
    return Claim(
        text=text,
        verdict=answer.value.verdict,
        evidence_segment_ids=evidence.cited(answer.value.lines),
        judged_by=answer.deployment,
        escalated=tier != Tier.SMALL,
        in_summary=True,
    )


async def judge_together(
    ctx: RunContext, tag: CallTag, group: list[tuple[str, Evidence]]
) -> list[Claim]:
    """One judge call for several claims, on their pooled evidence lines. A claim the answer
    leaves out is judged on its own; if the call fails, every claim is `unchecked`."""
    if len(group) == 1:
        text, evidence = group[0]
        return [await judge(ctx, tag, text, evidence)]
    pooled = Evidence(
        group[0][1].transcript, sorted({sid for _, e in group for sid in e.segment_ids})
    )
    claims_text = "\n".join(f"({n}) {text}" for n, (text, _) in enumerate(group, start=1))
    prompt = load_prompt(GROUP_PROMPT, ctx.settings.prompts_dir)
    try:
        answer = await ctx.client.served(
            tag, prompt, ClaimJudgements, evidence=pooled.text, claims=claims_text
        )
    except (ModelCallError, BudgetExceeded):
        return [
            Claim(text=t, verdict="unchecked", evidence_segment_ids=e.segment_ids, in_summary=True)
            for t, e in group
        ]
    verdicts: dict[int, ClaimVerdict] = {}
    for verdict in answer.value.judgements:
        verdicts.setdefault(verdict.claim, verdict)

    async def settle(number: int, text: str, evidence: Evidence) -> Claim:
        found = verdicts.get(number)
        if found is None:
            return await judge(ctx, replace(tag, part=f"{tag.part}.{number}"), text, evidence)
        return Claim(
            text=text,
            verdict=found.verdict,
            evidence_segment_ids=pooled.cited(found.lines, evidence.segment_ids),
            judged_by=answer.deployment,
            in_summary=True,
        )

    return list(await asyncio.gather(*(settle(n, t, e) for n, (t, e) in enumerate(group, start=1))))


Waiting = list[tuple[int, str, Evidence]]


def _groups(waiting: Waiting, ctx: RunContext) -> list[Waiting]:
    """Claims in summary order, up to `claims_per_call` a group, while their pooled evidence
    stays within a chunk's tokens (so a judge call is never longer than a notes call)."""
    limit, size = ctx.reading.chunk_tokens, ctx.reading.claims_per_call
    size = size if ctx.reading.judge == "verdict" else 1  # one by one, or no call at all
    weight: dict[int, int] = {}
    groups: list[Waiting] = []
    pooled: set[int] = set()
    for item in waiting:
        evidence = item[2]
        for sid, text in zip(evidence.segment_ids, evidence.texts, strict=True):
            if sid not in weight:
                weight[sid] = ctx.count_tokens(text) + 8  # the number and the speaker
        joined = pooled | set(evidence.segment_ids)
        current = groups[-1] if groups else None
        fits = sum(weight[sid] for sid in joined) <= limit
        if current is not None and len(current) < size and fits:
            current.append(item)
            pooled = joined
        else:
            groups.append([item])
            pooled = set(evidence.segment_ids)
    return groups


def _settled_first(
    state: EnrichState, ctx: RunContext, sentences: list[str]
) -> tuple[dict[int, Claim], list[Waiting]]:
    """Each sentence's evidence (BM25 over the segments), and the verdicts that need no model;
    the rest wait for a judge, in groups asked together."""
    transcript = state["transcript"]
    untrusted = frozenset(state["grounding"].untrusted)
    index = SegmentIndex(transcript.segments)
    judged: dict[int, Claim] = {}
    waiting: Waiting = []
    for number, sentence in enumerate(sentences):
        evidence = Evidence.retrieve(
            transcript, index, sentence, ctx.settings.claim_evidence, untrusted
        )
        settled = settled_without_model(sentence, evidence, ctx.settings.lexical_checks)
        if settled is None:
            waiting.append((number, sentence, evidence))
        else:
            judged[number] = settled
            ctx.report("claims")
    return judged, _groups(waiting, ctx)


async def claims(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    sentences = split_sentences(state.get("summary", ""))
    if not ctx.settings.verify_claims or not sentences:
        return {"claims": [Claim(text=s, verdict="unchecked", in_summary=True) for s in sentences]}
    ctx.expect("claims", len(sentences))
    judged, groups = await off_loop(_settled_first, state, ctx, sentences)

    async def one(group: Waiting) -> None:
        first, last = group[0][0], group[-1][0]
        tag = CallTag("judge", part=str(first) if first == last else f"{first}-{last}")
        answers = await judge_together(ctx, tag, [(text, evidence) for _, text, evidence in group])
        for (number, _, _), claim in zip(group, answers, strict=True):
            judged[number] = claim
            ctx.report("claims")

    await asyncio.gather(*(one(group) for group in groups))
    return {"claims": [judged[number] for number in range(len(sentences))]}
