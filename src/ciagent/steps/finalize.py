"""Last step: assemble the EpisodeEnrichment with its verification, cost and provenance.

Items still unverified after escalation are dropped, or kept marked `unverified` when
`settings.on_unverified == "flag"`; likewise summary sentences judged contradicted or not found
are taken out of the summary, or kept with their verdicts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ciagent.entailment import role_corrected
from ciagent.ids import with_ids
from ciagent.prompts import load_prompt
from ciagent.prose import as_episode, quotable, with_articles
from ciagent.provenance import settings_hash
from ciagent.state import EnrichState, EnrichUpdate, Grounding, RunContext
from ciagent.steps.chapter_summaries import summarized
from ciagent.steps.chapters import PROMPT as CHAPTERS_PROMPT
from ciagent.steps.claims import GROUP_PROMPT as JUDGE_GROUP_PROMPT
from ciagent.steps.claims import PROMPT as JUDGE_PROMPT
from ciagent.steps.contrast import PROMPT as CONTRAST_PROMPT
from ciagent.steps.entities import tidy_entities
from ciagent.steps.episode_calls import TEMPLATE as EPISODE_TEMPLATE
from ciagent.steps.escalate import PROMPT as LOCATE_PROMPT
from ciagent.steps.extract import extractor_prompt, gathered, linked
from ciagent.steps.merge import stand_in_summary, subjects
from ciagent.steps.names import PRODUCER as NLP_PRODUCER
from ciagent.steps.names import with_recognized
from ciagent.steps.notes import PROMPT as NOTES_PROMPT
from ciagent.steps.notes import SUMMARY_PROMPT as CHUNK_SUMMARY_PROMPT
from ciagent.steps.notes import skipped
from ciagent.steps.screen import screen
from ciagent.steps.summarize import PROMPT as SUMMARY_PROMPT
from ciagent.subjects import subject_topics
from ciagent.textnorm import normalize_key, spelled_out
from ciagent.types import (
    Claim,
    ClaimCounts,
    Entity,
    EpisodeEnrichment,
    Provenance,
    Quote,
    StepFailure,
    Topic,
    Transcript,
    VerificationReport,
)
from ciagent.version import __version__
from ciagent.vocabulary import not_metadata

__all__ = ["finalize"]

# Central lines that stand in for an episode summary none of whose sentences held.
_STAND_IN_LINES = 3

_UNSUPPORTED = ("contradicted", "not_found")
_SUBJECTS = 3  # fewer subjects than this from the model, and the pipeline's fill in


def _settle_items(
    state: EnrichState, ctx: RunContext, flag: bool
) -> tuple[list[Entity], list[Quote], Grounding]:
    """Entities and quotes in output order, with what is still unfound flagged or dropped, and
    the NLP pipeline's names joined in."""
    grounding = state["grounding"]
    chunks = {chunk.id: chunk for chunk in state["chunks"]}
    entities = list(grounding.entities)
    quotes = list(grounding.quotes)
    if flag:
        entities += [
            Entity(
                name=e.name, type=e.type, aliases=e.aliases, mentions=[], verification="unverified"
            )
            for e in grounding.unfound_entities
        ]
        quotes += [
            Quote(
                text=q.text,
                speaker=None,
                segment_ids=[],
                start=chunks[q.chunk_id].start,
                end=chunks[q.chunk_id].end,
                verification="unverified",
            )
            for q in grounding.unfound_quotes
        ]
    entities, recognized = with_recognized(
        entities,
        state["transcript"],
        state.get("analysis"),
        ctx.settings.max_recognized_entities,
        frozenset(grounding.untrusted),
    )
    speakers = state["transcript"].speakers
    entities = tidy_entities(entities, state["transcript"], speakers)
    entities = [e for e in entities if not not_metadata(e.name, speakers)]
    entities.sort(
        key=lambda e: (-len(e.mentions), e.mentions[0].segment_ids[0] if e.mentions else 0)
    )
    quotes = [q for q in quotes if quotable(q.text)]
    quotes.sort(key=lambda q: q.segment_ids[0] if q.segment_ids else q.start)
    unfound_e, unfound_q = len(grounding.unfound_entities), len(grounding.unfound_quotes)
    counts = {
        "entity_counts": grounding.entity_counts.model_copy(
            update={"flagged": unfound_e, "recognized": recognized}
            if flag
            else {"dropped": grounding.entity_counts.dropped + unfound_e, "recognized": recognized}
        ),
        "quote_counts": grounding.quote_counts.model_copy(
            update={"flagged": unfound_q}
            if flag
            else {"dropped": grounding.quote_counts.dropped + unfound_q}
        ),
    }
    return entities, quotes, grounding.model_copy(update=counts)


CORRECTED_BY = "transcript (name corrected)"


def _corrected(claims: list[Claim], transcript: Transcript) -> list[Claim]:
    """The claims, each removed one that gave a role to the wrong person ("Maya Okafor is a
    marine ecologist", where the host introduces Dr. Sarah Chen as one) followed by the same
    sentence naming the right one, in the summary in its place; unchecked, for only the name
    was checked."""
    out: list[Claim] = []
    for claim in claims:
        out.append(claim)
        if claim.in_summary or claim.verdict != "contradicted":
            continue
        lines = [transcript.segments[i].text for i in claim.evidence_segment_ids]
        text = role_corrected(claim.text, lines)
        if text is not None:
            out.append(
                Claim(
                    text=text,
                    verdict="unchecked",
                    evidence_segment_ids=claim.evidence_segment_ids,
                    judged_by=CORRECTED_BY,
                    in_summary=True,
                )
            )
    return out


def _settle_claims(
    claims: list[Claim], flag: bool, transcript: Transcript
) -> tuple[list[Claim], ClaimCounts]:
    settled = [
        c if flag or c.verdict not in _UNSUPPORTED else c.model_copy(update={"in_summary": False})
        for c in claims
    ]
    if not flag:
        settled = _corrected(settled, transcript)
    counts = ClaimCounts(
        checked=len(settled),
        supported=sum(c.verdict == "supported" for c in settled),
        contradicted=sum(c.verdict == "contradicted" for c in settled),
        not_found=sum(c.verdict == "not_found" for c in settled),
        unchecked=sum(c.verdict == "unchecked" for c in settled),
        escalated=sum(c.escalated for c in settled),
        removed=sum(not c.in_summary for c in settled),
        corrected=sum(c.judged_by == CORRECTED_BY for c in settled),
    )
    return settled, counts


def _report(
    grounding: Grounding, claims: ClaimCounts, ctx: RunContext, chunks_escalated: int
) -> VerificationReport:
    records = ctx.client.meter.records
    entities, quotes = grounding.entity_counts, grounding.quote_counts
    grounded = entities.grounded + entities.recovered + quotes.grounded + quotes.recovered
    return VerificationReport(
        checked=entities.checked + quotes.checked,
        grounded=grounded,
        dropped=entities.dropped + quotes.dropped,
        entities=entities,
        quotes=quotes,
        claims=claims,
        chunks_escalated=chunks_escalated,
        verification_usd=sum(r.usd for r in records if r.tag.kind == "judge"),
        escalation_usd=sum(r.usd for r in records if r.tag.escalated),
        untrusted_segments=grounding.untrusted,
    )


def _topics(state: EnrichState, entities: list[Entity], ctx: RunContext) -> list[Topic]:
    """The model's topics that are subjects, and while there are fewer than `_SUBJECTS`, the
    pipeline's noun-phrase subjects (`ciagent.subjects`), when it ran."""
    analysis = state.get("analysis")
    more: list[Topic] = []
    limit = ctx.settings.max_topics
    if analysis is not None:
        segments = state["transcript"].segments
        more = subject_topics(
            analysis,
            len(segments),
            names=[name for e in entities for name in (e.name, *e.aliases)],
            speakers=state["transcript"].speakers,
            limit=limit,
        )
    found = subjects(state["merged"].topics, entities, more, min(_SUBJECTS, limit))
    return _as_written(found)[:limit]


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _as_written(topics: list[Topic]) -> list[Topic]:
    """The topics as a person lists them: letters spelled one by one written as one word
    ("D_V_D_ player" -> "DVD player"), and a topic said again in the plural ("remote controls"
    after "remote control") left out."""
    listed: list[Topic] = []
    seen: set[tuple[str, ...]] = set()
    for topic in topics:
        name = spelled_out(topic.name)
        key = tuple(_singular(w) for w in normalize_key(name).split())
        if key in seen:
            continue
        seen.add(key)
        listed.append(topic if name == topic.name else topic.model_copy(update={"name": name}))
    return listed


def finalize(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    transcript = state["transcript"]
    merged = state["merged"]
    flag = ctx.settings.on_unverified == "flag"
    entities, quotes, grounding = _settle_items(state, ctx, flag)
    claims, claim_counts = _settle_claims(state.get("claims", []), flag, transcript)
    # Written as a person writes ("an underwater robot", "The episode describes", not "The
    # transcript lines describe"): after the checks, which read the model's words; the
    # requests the model answered never see the change.
    claims = [c.model_copy(update={"text": with_articles(as_episode(c.text))}) for c in claims]
    summary = " ".join(c.text for c in claims if c.in_summary)
    notes = state.get("notes", [])
    failures = [
        StepFailure(step="notes", chunk_id=r.chunk_id, error=r.error)
        for r in sorted(notes, key=lambda r: r.chunk_id)
        if r.error is not None
    ]
    failures += state.get("extract_failures", [])
    failures += state.get("step_failures", [])
    budget = ctx.client.budget
    if budget is not None and budget.refusals:
        # Which cap stopped the episode: its own, or the run's (which stops a batch too).
        refused = budget.refusals[0]
        failures.append(StepFailure(step="budget", error=str(refused), cap=refused.kind))
    stand_in = False
    if not summary and claims:
        # Every sentence the model wrote was contradicted or not found: the episode's most
        # central lines stand in (said in the episode, so nothing to check), and it is said so.
        untrusted = set(grounding.untrusted) | skipped(transcript, ctx.settings)
        every = [i for i in range(len(transcript.segments)) if i not in untrusted]
        summary = stand_in_summary(transcript, every, transcript.speakers, _STAND_IN_LINES)
        stand_in = bool(summary)
    if not summary:
        failures.append(
            StepFailure(step="summary", error="no summary sentence survived verification")
        )
    records = ctx.client.meter.records
    models = sorted({r.model for r in records}) or [ctx.client.spec.model_id]
    if state.get("analysis") is not None:
        models.append(NLP_PRODUCER)
    folder = ctx.settings.prompts_dir
    names = [
        NOTES_PROMPT,
        CHUNK_SUMMARY_PROMPT,
        SUMMARY_PROMPT,
        CHAPTERS_PROMPT,
        LOCATE_PROMPT,
    ]
    judges = {"verdict": [JUDGE_PROMPT], "contrast": [CONTRAST_PROMPT], "lexical": []}
    names += judges[ctx.reading.judge]
    if ctx.reading.claims_per_call > 1 and ctx.reading.judge == "verdict":
        names.append(JUDGE_GROUP_PROMPT)
    prompts = [load_prompt(name, folder) for name in names]
    prompts += [extractor_prompt(e, folder) for e in ctx.settings.extractors]
    prompts += [
        extractor_prompt(e, folder, EPISODE_TEMPLATE)
        for e in ctx.settings.extractors
        if e.episode is not None
    ]
    extractors = ctx.settings.extractors
    extras = gathered(extractors, state.get("extract_found", {}), notes)
    linked(extractors, extras, entities)
    extras.update(state.get("extras", {}))
    result = EpisodeEnrichment(
        status="budget_exceeded" if ctx.budget_exceeded else "partial" if failures else "complete",
        summary=summary,
        chapters=[
            c.model_copy(update={"summary": with_articles(c.summary)})
            for c in summarized(
                state.get("chapters", []),
                transcript,
                [text for cid, text in merged.summaries if cid not in merged.stand_ins],
                grounding.untrusted,
            )
        ],
        topics=_topics(state, entities, ctx),
        entities=entities,
        quotes=quotes,
        claims=claims,
        verification=_report(
            grounding, claim_counts, ctx, sum(r.escalated for r in notes) + grounding.chunks_reread
        ).model_copy(update={"summaries_replaced": merged.stand_ins, "summary_stand_in": stand_in}),
        cost=ctx.client.meter.report(wall_s=time.perf_counter() - ctx.started),
        failures=failures,
        extras=extras,
        provenance=Provenance(
            run_id=ctx.settings.run_id or "",
            episode_id=ctx.episode_id,
            source=transcript.source,
            created_at=datetime.now(UTC),
            settings_hash=settings_hash(ctx.settings),
            models=models,
            prompt_versions={p.name: p.version for p in prompts},
            ciagent_version=__version__,
            transcript_sha256=transcript.sha256,
            transcript_format=transcript.format,
            timed=transcript.timed,
        ),
    )
    ctx.report("finalize")
    return {"result": with_ids(screen(result))}
