"""The escalation cascade on fake deployments: what fails on the small tier is re-asked on the
frontier tier, re-verified, and what still fails is dropped or flagged."""

from __future__ import annotations

import re
from typing import Any

import pytest

import ciagent
from ciagent import Settings
from ciagent.routing.registry import Deployment, Tier, TokenPrice
from ciagent.steps.escalate import same_name
from ciagent.testing import FakeModel, FakeRequest, default_answer
from ciagent.textnorm import split_sentences
from tests.helpers import assert_grounded, model_entities, transcript_of

TRANSCRIPT = transcript_of(
    "Maya: My guest is Doctor Sarah Chen from MBARI.\n"
    "Sarah: We put satellite tags on twenty-two white sharks near Guadalupe Island.\n"
    "Maya: The ship cost forty thousand dollars a day.\n"
    "Sarah: Yes, it was expensive.\n"
)
_LINE = re.compile(r"^\[(\d+)\]\s+[^:\n]+:\s+(.*)$", re.MULTILINE)
_ITEM = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)
_CLAIM = re.compile(r"^\((\d+)\) ", re.MULTILINE)

SMALL_NOTES = {
    "entities": [
        {"name": "Sarah Chen", "type": "person", "mentions": [{"segment_id": 1, "text": "Chen"}]},
        {
            "name": "Monterey Bay Aquarium Research Institute",
            "type": "organization",
            "mentions": [{"segment_id": 1, "text": "Monterey Bay Aquarium Research Institute"}],
        },
        {
            "name": "Jacques Cousteau",
            "type": "person",
            "mentions": [{"segment_id": 3, "text": "Jacques Cousteau"}],
        },
    ],
    "topics": ["white sharks"],
    "quotes": [{"segment_id": 2, "text": "We tagged twenty-two sharks near Guadalupe."}],
    "summary": "Sarah Chen works at MBARI. The ship cost nothing.",
}


def small_answer(request: FakeRequest) -> dict[str, Any] | str:
    """The small tier: notes with an unfound name, an invention and a paraphrased quote, and a
    judge that finds nothing."""
    if request.schema_name == "ChunkNotes":
        return SMALL_NOTES
    if request.schema_name == "ClaimJudgement":
        return {"lines": [], "verdict": "not_found"}
    if request.schema_name == "ClaimJudgements":
        numbers = _CLAIM.findall(request.prompt.rpartition("Claims:")[2])
        return {
            "judgements": [{"claim": int(n), "lines": [], "verdict": "not_found"} for n in numbers]
        }
    return default_answer(request)


def frontier_answer(request: FakeRequest) -> dict[str, Any] | str:
    """The frontier tier: reads the numbered lines it is shown, as a stronger model would."""
    lines = {int(n): text for n, text in _LINE.findall(request.prompt)}
    if request.schema_name == "LocatedItems":
        found = []
        for number, label in _ITEM.findall(request.prompt.split("Items:")[-1]):
            line, text = 0, ""
            for n, said in lines.items():
                if "Monterey" in label and "MBARI" in said:
                    line, text = n, "MBARI"
                elif "quote" in label and "satellite" in said:
                    line, text = n, said
            found.append({"item": int(number), "line": line, "text": text})
        return {"found": found}
    if request.schema_name == "ClaimJudgement":
        claim = request.prompt.rsplit("Claim:", 1)[-1]
        cited = [n for n, said in lines.items() if "MBARI" in said or "ship" in said]
        verdict = "supported" if "MBARI" in claim else "contradicted"
        return {"lines": cited, "verdict": verdict}
    return default_answer(request)


def cascade(**overrides: Any) -> tuple[Settings, FakeModel, FakeModel]:
    small = FakeModel(respond=overrides.pop("small", small_answer), input_usd_per_mtok=0.1)
    frontier = FakeModel(
        respond=overrides.pop("frontier", frontier_answer),
        input_usd_per_mtok=10.0,
        output_usd_per_mtok=30.0,
    )
    deployments = (
        Deployment(
            name="small",
            model=small.model_id,
            backend=small,
            tier=Tier.SMALL,
            context_window=32768,
            price=TokenPrice(input_usd_per_mtok=0.1, output_usd_per_mtok=0.2),
        ),
        Deployment(
            name="frontier",
            model=frontier.model_id,
            backend=frontier,
            tier=Tier.FRONTIER,
            context_window=32768,
            price=TokenPrice(input_usd_per_mtok=10.0, output_usd_per_mtok=30.0),
        ),
    )
    # The judges' verdicts are scripted here: no lexical check rules before them.
    overrides = {"lexical_checks": False, **overrides}
    settings = Settings(model="auto", deployments=deployments, cache=False, **overrides)
    return settings, small, frontier


def test_failed_items_are_escalated_recovered_or_dropped() -> None:
    settings, small, frontier = cascade(reread_below=0)
    result = ciagent.enrich(TRANSCRIPT, settings)

    by_name = {e.name: e for e in model_entities(result)}
    assert set(by_name) == {"Sarah Chen", "Monterey Bay Aquarium Research Institute"}
    assert by_name["Sarah Chen"].verification == "grounded"
    assert by_name["Sarah Chen"].produced_by == "small"
    mbari = by_name["Monterey Bay Aquarium Research Institute"]
    assert (mbari.verification, mbari.produced_by) == ("recovered", "frontier")
    assert "MBARI" in mbari.aliases
    assert [(m.text, m.segment_ids) for m in mbari.mentions] == [("MBARI", [0])]
    [quote] = result.quotes
    assert quote.text == TRANSCRIPT.segments[1].text
    assert (quote.verification, quote.produced_by) == ("recovered", "frontier")
    assert_grounded(result, TRANSCRIPT)

    report = result.verification
    entities = report.entities
    assert (entities.checked, entities.grounded, entities.escalated) == (3, 1, 2)
    assert (entities.recovered, entities.dropped, entities.flagged) == (1, 1, 0)
    assert entities.grounding_rate_before == pytest.approx(1 / 3)
    assert entities.grounding_rate_after == pytest.approx(2 / 3)
    assert (report.quotes.escalated, report.quotes.recovered) == (1, 1)

    claims = {c.text: c for c in result.claims}
    supported = claims["Sarah Chen works at MBARI."]
    assert (supported.verdict, supported.judged_by, supported.escalated) == (
        "supported",
        "frontier",
        True,
    )
    assert supported.evidence_segment_ids[0] == 0
    wrong = claims["The ship cost nothing."]
    assert (wrong.verdict, wrong.in_summary) == ("contradicted", False)
    assert result.summary == "Sarah Chen works at MBARI."
    assert report.claims.model_dump() == {
        "checked": 2,
        "supported": 1,
        "contradicted": 1,
        "not_found": 0,
        "unchecked": 0,
        "escalated": 2,
        "removed": 1,
        "corrected": 0,
    }

    steps = result.cost.by_step
    escalation = sum(line.usd for step, line in steps.items() if step.startswith("escalate."))
    assert report.escalation_usd == pytest.approx(escalation)
    assert report.verification_usd == pytest.approx(steps["judge"].usd)
    assert escalation > 0
    assert report.verification_usd > 0
    assert {"escalate.locate", "escalate.judge"} <= set(steps)
    # The frontier tier read only what failed: one locate call and the two claims.
    assert sorted(str(r.schema_name) for r in frontier.requests) == [
        "ClaimJudgement",
        "ClaimJudgement",
        "LocatedItems",
    ]
    assert all(r.schema_name != "LocatedItems" for r in small.requests)


def test_flag_keeps_what_still_fails_marked_unverified() -> None:
    settings, _, _ = cascade(on_unverified="flag", reread_below=0)
    result = ciagent.enrich(TRANSCRIPT, settings)
    cousteau = next(e for e in result.entities if e.name == "Jacques Cousteau")
    assert (cousteau.verification, cousteau.mentions) == ("unverified", [])
    assert result.verification.entities.flagged == 1
    assert result.verification.entities.dropped == 0
    assert result.summary == "Sarah Chen works at MBARI. The ship cost nothing."
    assert result.verification.claims.removed == 0


def test_escalation_off_drops_without_asking_the_frontier() -> None:
    settings, _, frontier = cascade(escalate=False)
    result = ciagent.enrich(TRANSCRIPT, settings)
    assert [e.name for e in model_entities(result)] == ["Sarah Chen"]
    assert result.quotes == []
    assert frontier.requests == []
    assert result.verification.escalation_usd == 0
    # The small judge found nothing for either claim: both removed, and the episode's most
    # central lines stand in for the summary, verbatim, with the report saying so.
    assert all(c.verdict == "not_found" and not c.in_summary for c in result.claims)
    said = " ".join(s.text for s in TRANSCRIPT.segments)
    assert result.summary
    assert all(sentence in said for sentence in split_sentences(result.summary))
    assert result.verification.summary_stand_in
    assert result.status == "complete"


def test_a_stronger_judge_that_fails_leaves_the_first_verdict() -> None:
    def no_verdicts(request: FakeRequest) -> dict[str, Any] | str:
        return "{broken" if request.schema_name == "ClaimJudgement" else frontier_answer(request)

    settings, _, _ = cascade(frontier=no_verdicts, reread_below=0, max_reasks=0)
    result = ciagent.enrich(TRANSCRIPT, settings)
    # The small judge found neither claim: never "unchecked" (which would keep them) after a
    # failed re-judge, so both stay out of the summary.
    assert [(c.verdict, c.escalated, c.in_summary) for c in result.claims] == [
        ("not_found", True, False),
        ("not_found", True, False),
    ]


def test_items_of_a_chunk_whose_re_read_failed_are_asked_about_one_by_one() -> None:
    def no_notes(request: FakeRequest) -> dict[str, Any] | str:
        return "{broken" if request.schema_name == "ChunkNotes" else frontier_answer(request)

    settings, _, frontier = cascade(frontier=no_notes, max_reasks=0)
    result = ciagent.enrich(TRANSCRIPT, settings)
    assert result.verification.chunks_escalated == 0
    assert "LocatedItems" in {r.schema_name for r in frontier.requests}
    mbari = next(e for e in result.entities if e.name.startswith("Monterey"))
    assert mbari.verification == "recovered"


def test_a_chunk_mostly_ungrounded_is_read_again_on_the_frontier() -> None:
    def speakers_and_inventions(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "ChunkNotes":
            return {
                "entities": [
                    {
                        "name": "Maya",
                        "type": "person",
                        "mentions": [{"segment_id": 1, "text": "Maya"}],
                    },
                    {
                        "name": "Tom Hale",
                        "type": "person",
                        "mentions": [{"segment_id": 2, "text": "Tom Hale"}],
                    },
                    {
                        "name": "Sarah Chen",
                        "type": "person",
                        "mentions": [{"segment_id": 1, "text": "Sarah Chen"}],
                    },
                ],
                "topics": ["white sharks"],
                "quotes": [{"segment_id": 2, "text": "we talked about my book, Quiet Rivers."}],
                "summary": "Sarah Chen works at MBARI.",
            }
        return small_answer(request)

    settings, _small, frontier = cascade(small=speakers_and_inventions)
    result = ciagent.enrich(TRANSCRIPT, settings)
    report = result.verification
    assert report.chunks_escalated == 1
    # The frontier read the whole chunk instead of being asked about each failed item.
    assert [r.schema_name for r in frontier.requests].count("ChunkNotes") == 1
    assert all(r.schema_name != "LocatedItems" for r in frontier.requests)
    by_name = {e.name: e for e in model_entities(result)}
    assert "Tom Hale" not in by_name
    assert "Maya" not in by_name
    sarah = by_name["Sarah Chen"]  # found by both: one entity, the first answer's
    assert (sarah.verification, sarah.produced_by) == ("grounded", "small")
    added = [e for e in model_entities(result) if e.verification == "recovered"]
    assert added
    assert {e.produced_by for e in added} == {"frontier"}
    assert "Guadalupe Island" in {e.name for e in added}
    assert_grounded(result, TRANSCRIPT)
    entities = report.entities
    assert (entities.checked - entities.reread, entities.grounded) == (3, 1)
    assert entities.reread > 0
    assert entities.recovered > 0
    assert entities.checked == (
        entities.grounded + entities.recovered + entities.dropped + entities.flagged
    )
    assert entities.grounding_rate_before == pytest.approx(1 / 3)
    assert entities.grounding_rate_after > entities.grounding_rate_before
    steps = result.cost.by_step
    assert steps["escalate.notes"].usd > 0
    assert report.escalation_usd == pytest.approx(
        sum(line.usd for step, line in steps.items() if step.startswith("escalate."))
    )


def test_a_chunk_invalid_on_the_small_tier_is_escalated() -> None:
    def broken(request: FakeRequest) -> dict[str, Any] | str:
        return "{not json" if request.schema_name == "ChunkNotes" else small_answer(request)

    settings, _, frontier = cascade(small=broken, max_reasks=1)
    result = ciagent.enrich(TRANSCRIPT, settings)
    assert result.status == "complete", result.failures
    assert result.verification.chunks_escalated == 1
    assert result.entities
    assert {e.produced_by for e in model_entities(result)} == {"frontier"}
    assert any(r.schema_name == "ChunkNotes" for r in frontier.requests)
    assert result.cost.by_step["escalate.notes"].calls == 1


@pytest.mark.parametrize(
    ("names", "said", "same"),
    [
        (["Monterey Bay Aquarium Research Institute"], "MBARI", True),
        (["Sarah Chen"], "Doctor Chen", True),
        (["Sarah Chen"], "Sara Chenn", True),
        (["Jacques Cousteau"], "the ship", False),
        (["NOAA"], "weather", False),
    ],
)
def test_same_name(names: list[str], said: str, same: bool) -> None:
    assert same_name(names, said) is same


def test_an_extractors_call_invalid_on_the_small_tier_is_escalated() -> None:
    """An extractor in a call of its own whose answer stays invalid on the small tier is asked
    again on the frontier, as a chunk's notes are; its items are kept."""
    from pydantic import BaseModel

    from ciagent import Span, extractor

    @extractor("places", "Places named.", key="name", call="own")
    class Place(BaseModel):
        name: str
        evidence: Span

    def broken(request: FakeRequest) -> dict[str, Any] | str:
        return "{not json" if request.schema_name == "PlacesItems" else small_answer(request)

    def places(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name != "PlacesItems":
            return frontier_answer(request)
        line = next(t for t in request.prompt.splitlines() if "Guadalupe Island" in t)
        number = int(line.split("]")[0].strip("["))
        return {
            "items": [
                {
                    "name": "Guadalupe Island",
                    "evidence": {"segment_id": number, "text": "Guadalupe Island"},
                }
            ]
        }

    settings, _, frontier = cascade(
        small=broken, frontier=places, max_reasks=1, extractors=(Place,)
    )
    result = ciagent.enrich(TRANSCRIPT, settings)
    assert [p["name"] for p in result.extras["places"]] == ["Guadalupe Island"]
    assert any(r.schema_name == "PlacesItems" for r in frontier.requests)
    assert result.cost.by_step["escalate.extract.places"].calls >= 1
    assert not [f for f in result.failures if f.step == "extract.places"]
