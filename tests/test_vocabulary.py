"""The shared vocabulary, prose cleaning and the NLP pipeline's names (no model call)."""

from __future__ import annotations

import pytest

from ciagent import nlp
from ciagent.prose import as_prose, central_sentences, checkable
from ciagent.steps.merge import subjects, topic_name
from ciagent.steps.names import PRODUCER, with_recognized
from ciagent.steps.summarize import cover_parts
from ciagent.types import Entity, EntityType, Topic
from ciagent.vocabulary import is_filler, is_role, is_speaker_label, not_metadata
from tests.helpers import transcript_of


@pytest.mark.parametrize(
    "phrase",
    [
        "Yeah, like, mean",
        "you know",
        "Right.",
        "Project Manager",
        "the User Interface",
        "Marketing Expert",
        "Industrial Designer",
        "the host",
        "PhD B",
        "M_E_",
        "Speaker 2",
        "me013",
    ],
)
def test_fillers_roles_and_labels_are_not_metadata(phrase: str) -> None:
    assert not_metadata(phrase)


@pytest.mark.parametrize(
    "phrase", ["remote control design", "white shark tagging", "Maya Okafor", "Guadalupe Island"]
)
def test_subjects_and_names_are_metadata(phrase: str) -> None:
    assert not not_metadata(phrase, ["Maya Okafor"])
    assert not is_filler(phrase)
    assert not is_role(phrase)


def test_a_speaker_label_that_is_a_name_is_not_a_label() -> None:
    assert not is_speaker_label("Maya Okafor", ["Maya Okafor"])
    assert is_speaker_label("Project Manager", ["Project Manager"])


def test_topics_are_subjects() -> None:
    assert topic_name("the remote control design", set()) == "remote control design"
    assert topic_name("the User Interface", set()) is None
    assert topic_name("the Long Tide is produced by Harbor Light Media today", set()) is None
    show = Entity(
        name="The Long Tide", type=EntityType.WORK, mentions=[], verification="unverified"
    )
    institute = Entity(
        name="Monterey Bay Aquarium Research Institute",
        type=EntityType.ORGANIZATION,
        aliases=["MBARI"],
        mentions=[],
        verification="unverified",
    )
    topics = [Topic(name=n, score=0.1) for n in ("Long Tide", "MBARI", "white shark tagging")]
    assert [t.name for t in subjects(topics, [show, institute])] == ["white shark tagging"]
    assert subjects(topics[:2], [show, institute]) == topics[:2]  # all names: they stay
    assert not_metadata("1869")


def test_summaries_are_prose() -> None:
    text = (
        "Maya Okafor: I remember those headlines. Part 1: Sharks came near the beaches of "
        "Santa Cruz. Right. Yeah, so, the team picked a rubber case. Is it yellow?"
    )
    assert as_prose(text, ["Maya Okafor"]) == (
        "Sharks came near the beaches of Santa Cruz. The team picked a rubber case."
    )
    assert as_prose("We tagged twenty sharks in the bay.", said=True)
    assert not checkable("Thanks, Maya.")
    assert not checkable("Dash, Marketing, Project Manager, Marketing, User Interface, Industrial,")
    assert not checkable("Marketing, Project Manager and the User Interface designer spoke.")
    assert checkable("The project manager set a price of twelve euros.")


def test_a_summary_covers_every_part_in_order() -> None:
    parts = [
        "Sarah Chen tagged white sharks at Guadalupe Island. The tags recorded dives.",
        "An autonomous robot followed the sharks to the White Shark Cafe and sampled squid.",
        "Juvenile sharks swim near Santa Cruz beaches and nobody was bitten.",
    ]
    # the reduce call spoke of the last part only: the first two come back, in order
    summary = "Young sharks swim near the Santa Cruz beaches, and nobody was bitten."
    assert cover_parts(summary, parts) == (
        "Sarah Chen tagged white sharks at Guadalupe Island. "
        "An autonomous robot followed the sharks to the White Shark Cafe and sampled squid. "
        + summary
    )
    whole = (
        "Chen tagged white sharks at Guadalupe Island and recorded their dives. A robot "
        "sampled squid at the White Shark Cafe. Juvenile sharks swim near Santa Cruz."
    )
    assert cover_parts(whole, parts) == whole  # nothing left out: nothing added


def test_the_central_sentences_share_the_most_words() -> None:
    sentences = [
        "White sharks gather at the cafe every spring.",
        "The weather was nice.",
        "Tags showed white sharks diving at the cafe.",
        "White sharks at the cafe feed on squid.",
    ]
    chosen = central_sentences(sentences, 2)
    assert len(chosen) == 2
    assert "The weather was nice." not in chosen
    assert chosen == [s for s in sentences if s in chosen]  # in their order


@pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")
def test_recognized_names_join_the_models_and_stand_alone() -> None:
    transcript = transcript_of(
        """Maya Okafor: My guest is Sarah Chen from Stanford University.
Sarah Chen: Thanks Maya. We tagged sharks near Guadalupe Island with the Project Manager."""
    )
    analysis = nlp.analyze(transcript)
    entities, added = with_recognized([], transcript, analysis, cap=10)
    by = {e.name: e for e in entities}
    assert {"Sarah Chen", "Stanford University", "Guadalupe Island"} <= set(by)
    assert "Project Manager" not in by
    assert all(e.produced_by == PRODUCER for e in entities)
    assert added == len(entities)
    for entity in entities:
        for mention in entity.mentions:
            text = transcript.segments[mention.segment_ids[0]].text
            assert text[mention.char_start : mention.char_end] == mention.text
    assert with_recognized([], transcript, analysis, cap=1)[1] == 1


def test_spans_that_cannot_be_names() -> None:
    from ciagent.steps.names import _name_like

    for span in (
        "Christa              Christa",
        "Christa Christa",
        "Mm mm-mm",
        "ho Right",
        "Euros",
    ):
        assert not _name_like(span, cased=True), span
    for span in ("Bank of England", "Leonardo da Vinci", "Christa Pavlov", "MBARI"):
        assert _name_like(span, cased=True), span
    assert _name_like("bank of england", cased=False)
