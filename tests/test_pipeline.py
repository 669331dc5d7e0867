"""The whole graph on fake models: orchestration, merging, verification, cost and failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import ciagent
from ciagent import EpisodeEnrichment, ModelCallError, Settings, nlp
from ciagent.graph import build_graph
from ciagent.steps.names import PRODUCER
from ciagent.testing import FakeModel, FakeRequest, default_answer
from ciagent.textnorm import split_sentences
from ciagent.transcripts import load_transcript
from tests.conftest import QMSUM, needs_qmsum
from tests.helpers import assert_grounded, transcript_of


def test_sample_episode_on_fake_model(examples_dir: Path) -> None:
    fake = FakeModel()
    path = examples_dir / "long-tide-ep41.vtt"
    result = ciagent.enrich(path, Settings(model=fake, chunk_tokens=600))
    transcript = ciagent.load_transcript(path)

    assert result.status == "complete"
    assert EpisodeEnrichment.model_validate_json(result.to_json()) == result
    names = {e.name for e in result.entities}
    assert {"Sarah Chen", "Monterey Bay Aquarium Research Institute", "Guadalupe Island"} <= names
    assert_grounded(result, transcript)
    chunk_calls = [r for r in fake.requests if r.schema_name == "ChunkNotes"]
    assert len(chunk_calls) >= 3
    assert result.cost.calls == len(fake.requests)
    steps = result.cost.by_step
    # The fake summarises by copying lines: its claims are matched verbatim, with no judge call.
    # The summary rides in the notes, but for the chunks holding the intro and the outro: their
    # summaries are asked apart, of the other lines (`skip_non_content`).
    assert set(steps) == {"notes", "chunk_summary", "summary", "chapters"}
    assert steps["chunk_summary"].calls == 2
    assert {c.judged_by for c in result.claims} == {"transcript (verbatim)"}
    assert sum(line.calls for line in steps.values()) == result.cost.calls
    assert sum(line.usd for line in steps.values()) == pytest.approx(result.cost.usd)
    assert list(result.cost.by_model) == [fake.model_id]
    assert result.cost.by_model[fake.model_id].prompt_tokens == result.cost.prompt_tokens
    assert result.cost.prompt_tokens > 0
    assert result.cost.completion_tokens > 0
    assert result.verification.checked == result.verification.grounded + result.verification.dropped
    assert result.provenance.transcript_sha256 == transcript.sha256
    assert result.provenance.prompt_versions == {
        "chunk_notes": "3",
        "chunk_summary": "2",
        "episode_summary": "1",
        "chapter_titles": "1",
        "judge_claim": "1",
        "locate_items": "1",
        "judge_claims": "1",  # a served model: claims are judged together
    }
    assert [c.text for c in result.claims if c.in_summary] == split_sentences(result.summary)
    assert result.verification.claims.checked == len(result.claims) > 0
    assert result.provenance.timed
    assert all(0 < t.score <= 1 for t in result.topics)


EPISODE = transcript_of(
    """Maya: Welcome. My guest is Dr. Sarah Chen from MBARI.
Sarah: Thanks Maya. We tagged sharks near Guadalupe Island.
Maya: Chen, you also worked with NOAA?
Sarah: Yes, NOAA ran the ship."""
)


def notes(
    entities: list[dict[str, Any]], quotes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "summary": "Sarah Chen tagged sharks near Guadalupe Island.",
        "topics": ["sharks"],
        "entities": entities,
        "quotes": quotes or [],
    }


def notes_else_default(answer: dict[str, Any]) -> Any:
    """A responder: `answer` to chunk-notes requests, the default answer to any other."""

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        return answer if request.schema_name == "ChunkNotes" else default_answer(request)

    return respond


def test_verification_corrects_lines_and_drops_inventions() -> None:
    # The model cites line numbers within its chunk, from 1: line n is segment n - 1 here.
    answer = notes(
        [
            {
                "name": "Sarah Chen",
                "type": "person",
                "mentions": [
                    {"segment_id": 1, "text": "Sarah Chen"},
                    {"segment_id": 1, "text": "Chen"},  # wrong line: it is said on line 3
                ],
            },
            {"name": "Chen", "type": "person", "mentions": [{"segment_id": 3, "text": "Chen"}]},
            {
                "name": "NOAA",
                "type": "organization",
                "mentions": [{"segment_id": 1, "text": "NOAA"}],
            },
            {
                "name": "Jacques Cousteau",
                "type": "person",
                "mentions": [{"segment_id": 2, "text": "Jacques Cousteau"}],
            },
            {
                "name": "MBARI",
                "type": "organization",
                "mentions": [{"segment_id": 1, "text": "the weather today"}],
            },
        ],
        quotes=[
            {"segment_id": 4, "text": "Yes, NOAA ran the ship."},
            {"segment_id": 2, "text": "Sharks are fish, said nobody."},
        ],
    )
    fake = FakeModel(respond=notes_else_default(answer))
    result = ciagent.enrich(EPISODE, Settings(model=fake))

    by_name = {e.name: e for e in result.entities}
    assert "Jacques Cousteau" not in by_name  # invented: dropped
    sarah = by_name["Sarah Chen"]
    assert sarah.aliases == ["Chen"]  # the surname alone is the same person
    assert [m.segment_ids for m in sarah.mentions] == [[0], [2]]
    assert by_name["NOAA"].mentions[0].segment_ids == [2]  # corrected from the cited line 1
    assert by_name["MBARI"].mentions[0].text == "MBARI"  # found by name, not the bogus words
    assert [q.text for q in result.quotes] == ["Yes, NOAA ran the ship."]
    report = result.verification
    assert (report.entities.checked, report.entities.grounded, report.entities.dropped) == (4, 3, 1)
    assert (report.quotes.checked, report.quotes.grounded, report.quotes.dropped) == (2, 1, 1)
    assert (report.checked, report.grounded, report.dropped) == (6, 4, 2)
    assert report.entities.escalated == 0  # one deployment: nothing to escalate to
    assert_grounded(result, EPISODE)
    # One chunk: its summary is the episode's, no reduce call.
    assert [r.schema_name for r in fake.requests] == [
        "ChunkNotes",
        "ChapterTitles",
        "ClaimJudgement",
    ]
    assert result.summary == "Sarah Chen tagged sharks near Guadalupe Island."


def test_invalid_output_is_reasked_and_every_attempt_counted() -> None:
    answers = iter(['{"summary": "no closing brace"', {"summary": "x"}, notes([])])

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        return next(answers) if request.schema_name == "ChunkNotes" else default_answer(request)

    fake = FakeModel(respond=respond)
    result = ciagent.enrich(EPISODE, Settings(model=fake, max_reasks=2))
    assert result.status == "complete"
    assert result.cost.by_step["notes"].calls == 3
    assert result.cost.by_step["notes"].retries == 2
    reask = fake.requests[2].messages
    assert any(
        "validation" in str(m.get("content", "")).lower()
        or "error" in str(m.get("content", "")).lower()
        for m in reask[2:]
    )


def test_a_failing_chunk_gives_a_partial_result_with_the_rest_kept() -> None:
    def respond(request: FakeRequest) -> dict[str, Any] | str:
        said = " ".join(str(m.get("content", "")) for m in request.messages)
        if request.schema_name == "ChunkNotes" and "Line 0 names" in said:
            return "not json at all"
        return default_answer(request)

    fake = FakeModel(respond=respond)
    transcript = transcript_of("\n".join(f"S: Line {n} names Guadalupe Island." for n in range(40)))
    settings = Settings(model=fake, chunk_tokens=100, chunk_overlap_tokens=0, max_reasks=1)
    result = ciagent.enrich(transcript, settings)
    assert result.status == "partial"
    assert [f.chunk_id for f in result.failures] == [0]
    assert "invalid output" in result.failures[0].error
    assert result.entities
    assert result.summary


def test_every_chunk_failing_is_an_error() -> None:
    fake = FakeModel(respond=lambda request: "nope")
    with pytest.raises(ModelCallError, match="every chunk failed"):
        ciagent.enrich(EPISODE, Settings(model=fake, max_reasks=0))


def test_hierarchical_summary_when_notes_do_not_fit() -> None:
    def respond(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "EpisodeSummary":
            return {"summary": " ".join(f"A summary of part {n} of several." for n in range(8))}
        answer = default_answer(request)
        subjects = [
            "reefs",
            "kelp",
            "tides",
            "whales",
            "plankton",
            "storms",
            "urchins",
            "seals",
            "ports",
            "trawlers",
        ]
        answer["summary"] = " ".join(f"Point {n} covers {s}." for n, s in enumerate(subjects))
        return answer

    fake = FakeModel(respond=respond, context_window=2600)
    transcript = transcript_of("\n".join(f"S: Line {n} is about the reef." for n in range(400)))
    settings = Settings(
        model=fake,
        chunk_tokens=150,
        chunk_overlap_tokens=0,
        max_output_tokens=256,
        verify_claims=False,
    )
    result = ciagent.enrich(transcript, settings)
    assert {c.verdict for c in result.claims} == {"unchecked"}
    summary_calls = [r for r in fake.requests if r.schema_name == "EpisodeSummary"]
    assert len(summary_calls) >= 3  # several groups, then one over their summaries
    assert result.summary.startswith("A summary")


def test_chunks_too_big_for_the_context_are_refused_before_any_call() -> None:
    fake = FakeModel(context_window=1000)
    with pytest.raises(ciagent.ConfigError, match="lower chunk_tokens"):
        ciagent.enrich(EPISODE, Settings(model=fake, chunk_tokens=900))
    assert fake.requests == []


def test_async_api_and_sync_api_inside_a_running_loop() -> None:
    fake = FakeModel()

    async def main() -> tuple[EpisodeEnrichment, EpisodeEnrichment]:
        first = await ciagent.aenrich(EPISODE, Settings(model=fake))
        # The sync API also works while an event loop is running (as in a notebook).
        second = ciagent.enrich(EPISODE, Settings(model=fake))
        return first, second

    first, second = asyncio.run(main())
    assert first.status == second.status == "complete"
    assert first.summary == second.summary


def test_a_summary_about_something_else_is_dropped_and_flagged() -> None:
    answer = notes([])
    answer["summary"] = "Jacques Cousteau filmed the Calypso near Marseille."
    fake = FakeModel(respond=notes_else_default(answer))
    result = ciagent.enrich(EPISODE, Settings(model=fake))
    assert "Cousteau" not in result.summary
    # The lines that say the chunk's topics stand in, verbatim, and the report says so.
    said = " ".join(segment.text for segment in EPISODE.segments)
    assert result.summary
    assert all(sentence in said for sentence in split_sentences(result.summary))
    assert result.status == "complete"
    assert result.verification.summaries_replaced == [0]


def test_asr_spelling_noise_is_grounded_to_what_was_said() -> None:
    noisy = transcript_of(
        """Maya: My guest is Dr. Sara Chen from the Monteray Bay Aquarium.
Sara: We tagged sharks near Guadalupe Island."""
    )
    answer = notes(
        [
            {
                "name": "Sarah Chen",
                "type": "person",
                "mentions": [{"segment_id": 1, "text": "Sarah Chen"}],
            },
            {
                "name": "Monterey Bay Aquarium",
                "type": "organization",
                "mentions": [{"segment_id": 1, "text": "Monterey Bay Aquarium"}],
            },
            {
                "name": "Jacques Cousteau",
                "type": "person",
                "mentions": [{"segment_id": 2, "text": "Jacques Cousteau"}],
            },
        ]
    )
    fake = FakeModel(respond=notes_else_default(answer))
    result = ciagent.enrich(noisy, Settings(model=fake, cache=False))
    found = {e.name: [m.text for m in e.mentions] for e in result.entities}
    assert found == {
        "Sarah Chen": ["Sara Chen"],
        "Monterey Bay Aquarium": ["Monteray Bay Aquarium"],
        # Never named by the model: the NLP pipeline's own name, said on line 2.
        "Guadalupe Island": ["Guadalupe Island"],
    }
    by = {e.name: e.produced_by for e in result.entities}
    assert by["Guadalupe Island"] == PRODUCER
    assert by["Sarah Chen"] != PRODUCER
    assert_grounded(result, noisy)


def test_chapter_titles_are_asked_beside_the_notes_not_after_them(examples_dir: Path) -> None:
    """The titles' call needs only the transcript: it is made before the notes are merged (so
    before the episode summary is asked), and its titles still pass the chapters' checks."""
    fake = FakeModel()
    path = examples_dir / "long-tide-ep41.vtt"
    result = ciagent.enrich(path, Settings(model=fake, chunk_tokens=600))
    order = [r.schema_name for r in fake.requests]
    assert order.index("ChapterTitles") < order.index("EpisodeSummary")
    edges = build_graph().get_graph().edges
    assert {e.source for e in edges if e.target == "chapter_titles"} == {"chunk"}
    assert result.chapters
    assert any(c.titled_by == fake.model_id for c in result.chapters)


def test_a_summary_whose_every_claim_fails_gives_way_to_central_lines() -> None:
    """Nothing of the model's summary held (the judge contradicts its one claim): the episode's
    most central lines stand in, said so in the report, and the episode is complete (rerunning
    it would give the same), not partial."""
    answer = notes([])
    answer["summary"] = "Sarah Chen tagged forty sharks near Guadalupe Island."

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "ChunkNotes":
            return answer
        if request.schema_name == "ClaimJudgement":
            return {"lines": [2], "verdict": "contradicted"}
        return default_answer(request)

    fake = FakeModel(respond=respond)
    result = ciagent.enrich(EPISODE, Settings(model=fake, claim_judge="verdict"))
    assert [c.verdict for c in result.claims] == ["contradicted"]
    assert "forty" not in result.summary
    said = " ".join(segment.text for segment in EPISODE.segments)
    assert result.summary
    assert all(sentence in said for sentence in split_sentences(result.summary))
    assert result.verification.summary_stand_in
    assert result.status == "complete"
    assert not result.failures


def test_an_article_said_before_a_name_is_not_part_of_it() -> None:
    """'the Guadalupe Island', as a model writes a name said mid-sentence, is the entity
    Guadalupe Island."""
    mention = {"segment_id": 2, "text": "Guadalupe Island"}
    answer = notes([{"name": "the Guadalupe Island", "type": "place", "mentions": [mention]}])
    fake = FakeModel(respond=notes_else_default(answer))
    result = ciagent.enrich(EPISODE, Settings(model=fake, ner="off"))
    names = {e.name for e in result.entities}
    assert "Guadalupe Island" in names
    assert "the Guadalupe Island" not in names


def test_a_sentence_giving_the_guest_role_to_the_host_is_written_again_with_the_guest(
    examples_dir: Path,
) -> None:
    """The host introduces 'Dr. Sarah Chen, a marine ecologist at the Monterey Bay Aquarium
    Research Institute'; a summary that makes the host the marine ecologist loses that sentence,
    and the same sentence naming Sarah Chen takes its place (unchecked: only the name was
    checked), so the next sentence's "She" still has someone to refer to."""
    wrong = "Maya Okafor is a marine ecologist at the Monterey Bay Aquarium Research Institute."

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "EpisodeSummary":
            return {"summary": f"{wrong} She tags white sharks off Guadalupe Island."}
        return default_answer(request)

    fake = FakeModel(respond=respond)
    path = examples_dir / "long-tide-ep41.vtt"
    settings = Settings(model=fake, claim_judge="lexical", chunk_tokens=600)
    result = ciagent.enrich(path, settings)
    by_text = {c.text: c for c in result.claims}
    assert (by_text[wrong].verdict, by_text[wrong].in_summary) == ("contradicted", False)
    right = wrong.replace("Maya Okafor", "Sarah Chen")
    assert (by_text[right].verdict, by_text[right].in_summary) == ("unchecked", True)
    assert result.summary.startswith(f"{right} She tags")
    assert result.verification.claims.corrected == 1


@needs_qmsum
@pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")
def test_a_word_said_as_the_speaker_starts_again_is_no_name() -> None:
    # TS3010a: "what are we going to do now is {disfmarker} Next meeting is in half an hour";
    # spaCy calls "Next" an organization, and it was listed as one.
    meeting = load_transcript(QMSUM / "TS3010a.json")
    result = ciagent.enrich(meeting, Settings(model=FakeModel(), cache=False, ner="on"))
    assert "Next" not in {e.name for e in result.entities}
    assert "Kay" in {e.name for e in result.entities}  # a name said there still is one


def test_topics_are_listed_as_written_and_once() -> None:
    # AMI spells letters out ("D_V_D_"); a small model lists the plural beside the singular.
    meeting = transcript_of(
        """Kay: The remote control has to work the D_V_D_ player and the video recorder.
Maya: Remote controls get lost, so ours has to be one remote control for the D_V_D_ player.
Kay: And the remote control should be cheap, the budget is twenty five Euro."""
    )
    answer = notes([])
    answer["topics"] = ["remote control", "remote controls", "D_V_D_ player", "budget"]
    fake = FakeModel(respond=notes_else_default(answer))
    result = ciagent.enrich(meeting, Settings(model=fake, cache=False, ner="off"))
    names = [t.name for t in result.topics]
    assert "DVD player" in names, names
    assert "D_V_D_ player" not in names, names
    assert "remote control" in names, names
    assert "remote controls" not in names, names
