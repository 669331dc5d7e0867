"""How much a model reads at once: chunk size and claims per judge call, chosen for the model,
and claims judged together on their pooled evidence (fake models, and one real call)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import ciagent
from ciagent import Settings
from ciagent.api import reading
from ciagent.llm.backend import CallTag
from ciagent.llm.call import ModelClient
from ciagent.llm.models import ModelSpec
from ciagent.llm.reading import Reading, reading_for
from ciagent.llm.usage import UsageMeter
from ciagent.retrieval import SegmentIndex
from ciagent.routing.registry import Deployment, TokenPrice
from ciagent.schemas import ChunkNotes, chunk_notes_model
from ciagent.state import RunContext
from ciagent.steps.claims import Evidence, _groups, judge_together
from ciagent.steps.notes import notes_request
from ciagent.testing import FakeModel, FakeRequest, default_answer
from ciagent.tokens import token_counter
from tests.helpers import transcript_of


def hosted(
    context: int, chunk_tokens: int | None = None, model: str = "hosted_vllm/some-7b"
) -> Deployment:
    return Deployment(
        name="served",
        model=model,
        api_base="http://127.0.0.1:9/v1",
        context_window=context,
        chunk_tokens=chunk_tokens,
        price=TokenPrice(input_usd_per_mtok=0.2, output_usd_per_mtok=0.8),
    )


EMBEDDED = Deployment(
    name="local", model="embedded/qwen2.5-coder-0.5b-instruct", context_window=8192
)


# A chunk read once, its summary in the notes, claims asked for a verdict.
LARGE = Reading(4000, 8, 2731, summary_apart=False, judge="verdict", extractors_ride=True)


@pytest.mark.parametrize(
    ("deployments", "expected"),
    [
        ((EMBEDDED,), Reading(1500, 1)),
        ((hosted(32768),), LARGE),  # output scaled with the chunk
        (
            (hosted(8192),),
            Reading(2048, 8, 1398, False, "verdict", True),
        ),  # a quarter of the context
        (
            (hosted(4096),),
            Reading(1500, 8, summary_apart=False, judge="verdict", extractors_ride=True),
        ),  # never below what a small model reads
        (
            (hosted(32768, chunk_tokens=3000),),
            Reading(3000, 8, 2048, False, "verdict", True),
        ),  # the deployment's own choice
        ((EMBEDDED, hosted(32768)), Reading(1500, 1)),  # routed: whichever may answer
        # A small model served: its name gives its size.
        ((hosted(32768, model="hosted_vllm/Qwen/Qwen2.5-0.5B-Instruct"),), Reading(1500, 1)),
        (
            (hosted(32768, model="hosted_vllm/meta-llama/Llama-3.1-8B"),),
            Reading(4000, 8, 2731, False, "verdict", True),
        ),
        (
            (hosted(32768, model="hosted_vllm/Qwen/Qwen3-30B-A3B"),),
            Reading(4000, 8, 2731, False, "verdict", True),
        ),
    ],
)
def test_reading_is_chosen_for_the_models_that_may_answer(
    deployments: tuple[Deployment, ...], expected: Reading
) -> None:
    model = "auto" if len(deployments) > 1 else deployments[0].name
    assert reading(Settings(model=model, deployments=deployments)) == expected


def test_a_fake_models_name_never_reads_as_a_small_models() -> None:
    """A default FakeModel is a served model of unknown size (not small), whatever its random
    name: one in sixteen once read as "3B" and the like, and tests failed now and then."""
    for _ in range(300):
        spec = ModelSpec(
            model_id=FakeModel().model_id,
            context_window=32768,
            input_usd_per_mtok=0.0,
            output_usd_per_mtok=0.0,
        )
        assert reading_for(Settings(), [spec]).judge == "verdict", spec.model_id


def test_explicit_settings_win() -> None:
    settings = Settings(model="auto", deployments=(hosted(32768),), chunk_tokens=900)
    assert reading(settings) == Reading(
        900, 8, summary_apart=False, judge="verdict", extractors_ride=True
    )
    contrast = settings.model_copy(update={"claim_judge": "contrast"})
    assert reading(contrast).judge == "contrast"
    assert reading(Settings(claim_judge="verdict")).judge == "verdict"  # the embedded model asked
    settings = settings.model_copy(update={"claims_per_judge_call": 2})
    assert reading_for(settings, [ModelSpec.of(hosted(32768))]) == Reading(
        900, 2, summary_apart=False, judge="verdict", extractors_ride=True
    )
    own = settings.model_copy(update={"extractor_calls": "own"})
    assert not reading(own).extractors_ride
    assert reading(Settings(extractor_calls="ride")).extractors_ride  # the embedded model too
    assert reading(Settings()) == Reading(1500, 1)  # the embedded default


EPISODE = transcript_of(
    """Maya: Welcome back. My guest today is Doctor Sarah Chen from MBARI.
Sarah: Thanks Maya. This spring we tagged twenty-two white sharks near Guadalupe Island.
Maya: How long did the tags keep sending data?
Sarah: Most of them sent positions for about nine months before the batteries died.
Maya: And the boat?
Sarah: NOAA ran the research ship, and it cost forty thousand dollars a day.
Maya: Where did the sharks go in winter?
Sarah: They swam out to the open ocean, to a place people call the White Shark Cafe."""
)
SUMMARY = (
    "Sarah Chen from MBARI joined the show. Her team put tags on white sharks at Guadalupe. "
    "The tags worked for roughly nine months. The research vessel belonged to NOAA. "
    "In winter the animals travelled to the White Shark Cafe."
)


def notes_with_summary(request: FakeRequest) -> dict[str, Any] | str:
    """Notes whose summary paraphrases the lines, so every claim needs a judge."""
    answer = default_answer(request)
    if request.schema_name == "ChunkNotes" and isinstance(answer, dict):
        answer["summary"] = SUMMARY  # a served model: the summary comes in the notes
    return answer


def test_claims_are_judged_together_on_a_served_model() -> None:
    fake = FakeModel(respond=notes_with_summary)
    settings = Settings(model=fake, claims_per_judge_call=3, lexical_checks=False)
    result = ciagent.enrich(EPISODE, settings)

    asked = [r.schema_name for r in fake.requests]
    assert asked.count("ClaimJudgements") == 2  # five claims: three, then two
    assert "ClaimJudgement" not in asked
    grouped = [r for r in fake.requests if r.schema_name == "ClaimJudgements"]
    assert "(3) The tags worked for roughly nine months." in grouped[0].prompt
    # Each evidence line once, though the claims' evidence overlaps.
    shared = grouped[0].prompt.rpartition("Transcript lines:")[2]
    assert shared.count("Guadalupe Island") == 1
    claims = result.claims
    assert len(claims) == 5
    assert [c.in_summary for c in claims] == [c.verdict == "supported" for c in claims]
    assert all(c.judged_by == fake.model_id for c in claims)
    assert all(c.verdict in ("supported", "contradicted", "not_found") for c in claims)
    assert all(0 <= s < len(EPISODE.segments) for c in claims for s in c.evidence_segment_ids)
    assert result.provenance.prompt_versions["judge_claims"] == "1"
    assert result.cost.by_step["judge"].calls == 2


def _context(fake: FakeModel, claims_per_call: int = 8, chunk_tokens: int = 4000) -> RunContext:
    settings = Settings(model=fake, cache=False, max_reasks=0, max_retries=0, lexical_checks=False)
    client = ModelClient(settings, fake, UsageMeter())
    return RunContext(
        settings=settings,
        client=client,
        count_tokens=token_counter(),
        reading=Reading(chunk_tokens, claims_per_call, judge="verdict"),
    )


def _free() -> dict[str, float]:
    return {"input_usd_per_mtok": 0.0, "output_usd_per_mtok": 0.0}


def _group(texts: list[str]) -> list[tuple[str, Evidence]]:
    index = SegmentIndex(EPISODE.segments)
    return [(t, Evidence.retrieve(EPISODE, index, t, 4)) for t in texts]


CLAIMS = ["Her team put tags on white sharks at Guadalupe.", "The research vessel was cheap."]


def test_a_claim_left_out_of_the_answer_is_judged_on_its_own() -> None:
    def first_only(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "ClaimJudgements":
            return {"judgements": [{"claim": 1, "lines": [1], "verdict": "supported"}]}
        return {"lines": [], "verdict": "contradicted"}

    fake = FakeModel(respond=first_only)
    judged = asyncio.run(
        judge_together(_context(fake), CallTag("judge", part="0-1"), _group(CLAIMS))
    )
    assert [c.verdict for c in judged] == ["supported", "contradicted"]
    assert [r.schema_name for r in fake.requests] == ["ClaimJudgements", "ClaimJudgement"]
    # The cited line is the first of its evidence; the rest of the claim's own evidence follows.
    first_evidence = _group(CLAIMS)[0][1].segment_ids
    assert set(first_evidence) <= set(judged[0].evidence_segment_ids)


def test_a_failed_group_call_leaves_its_claims_unchecked() -> None:
    def broken(request: FakeRequest) -> dict[str, Any] | str:
        return "not json at all"

    fake = FakeModel(respond=broken)
    judged = asyncio.run(
        judge_together(_context(fake), CallTag("judge", part="0-1"), _group(CLAIMS))
    )
    assert [c.verdict for c in judged] == ["unchecked", "unchecked"]
    assert all(c.evidence_segment_ids for c in judged)


@pytest.mark.slow
def test_the_embedded_model_judges_claims_together(models_dir: Path, tmp_path: Path) -> None:
    """The grouped judge schema through the real path: llama.cpp, litellm, instructor."""
    settings = Settings(models_dir=models_dir, cache_dir=tmp_path, max_output_tokens=256)
    client = ModelClient(settings, ciagent.resolve.backend(settings), UsageMeter())
    context = RunContext(
        settings=settings,
        client=client,
        count_tokens=token_counter(),
        reading=Reading(1500, 2, judge="verdict"),
    )
    judged = asyncio.run(judge_together(context, CallTag("judge", part="0-1"), _group(CLAIMS)))
    assert len(judged) == 2
    assert all(c.judged_by == client.spec.model_id for c in judged)
    assert all(c.verdict in ("supported", "contradicted", "not_found") for c in judged)
    grouped = [r for r in client.meter.records if r.step == "judge[0-1]"]
    assert grouped
    assert grouped[0].prompt_tokens > 0


def test_larger_chunks_are_asked_for_proportionally_more_notes() -> None:
    assert chunk_notes_model(1500) is ChunkNotes  # the embedded model's request is unchanged
    prompt, model, values = notes_request(Settings(), 4000)
    schema = model.model_json_schema()
    assert schema["title"] == "ChunkNotes"
    assert list(schema["properties"]) == ["entities", "topics", "quotes"]
    assert schema["properties"]["entities"]["maxItems"] == 32  # 12 per 1,500 tokens
    assert schema["properties"]["quotes"]["maxItems"] == 5
    system = prompt.messages(transcript="", **values)[0]["content"]
    assert "quotes: at most five notable sentences" in system
    assert "summary" not in system  # a small model is asked for it apart
    _, _, small = notes_request(Settings(), 1500)
    assert small == {"quotes": "two", "summary": "", "extras": ""}  # no extractor riding
    # A larger model writes the chunk's summary in the notes: the chunk is read once.
    prompt, model, values = notes_request(Settings(), 4000, summary=True)
    assert list(model.model_json_schema()["properties"]) == [
        "entities",
        "topics",
        "quotes",
        "summary",
    ]
    system = prompt.messages(transcript="", **values)[0]["content"]
    assert "- summary: two to four sentences" in system


def test_groups_hold_a_chunk_of_evidence_and_claims_per_call_at_most() -> None:
    texts = [*CLAIMS, "The tags sent positions for nine months.", "NOAA ran the ship."]
    waiting = [(n, text, evidence) for n, (text, evidence) in enumerate(_group(texts))]
    fake = FakeModel()
    assert [len(g) for g in _groups(waiting, _context(fake))] == [4]
    assert [len(g) for g in _groups(waiting, _context(fake, claims_per_call=3))] == [3, 1]
    # Room for the largest claim's evidence alone: groups split, in summary order, each within it.
    count = token_counter()
    weight = {s.id: count(s.text) + 8 for s in EPISODE.segments}
    limit = max(sum(weight[sid] for sid in e.segment_ids) for _, _, e in waiting)
    assert sum(weight[sid] for sid in {s for _, _, e in waiting for s in e.segment_ids}) > limit
    split = _groups(waiting, _context(fake, chunk_tokens=limit))
    assert len(split) > 1
    assert [n for g in split for n, _, _ in g] == [0, 1, 2, 3]
    for group in split:
        assert sum(weight[sid] for sid in {s for _, _, e in group for s in e.segment_ids}) <= limit
