"""Topics from the pipeline's noun phrases when the model's topics are names."""

from __future__ import annotations

from ciagent.nlp import Phrase, TextAnalysis
from ciagent.steps.merge import subjects
from ciagent.subjects import subject_topics
from ciagent.types import Entity, EntityType, Topic


def _analysis(*said: tuple[int, str]) -> TextAnalysis:
    phrases = [
        Phrase(segment_id=sid, start=0, end=len(text), text=text, label="NP") for sid, text in said
    ]
    return TextAnalysis(names=[], noun_phrases=phrases)


def test_subjects_are_grouped_by_head_and_named_by_their_longer_form() -> None:
    analysis = _analysis(
        (0, "sharks"),
        (1, "white sharks"),
        (2, "white sharks"),
        (3, "young sharks"),
        (4, "ocean"),
        (5, "ocean"),
        (6, "sonar"),  # said once: no subject of the episode
        (7, "Monterey Bay"),  # capitalised: a name
        (8, "time"),
        (9, "exciting part"),  # generic heads
        (10, "time"),
        (11, "exciting part"),
        (12, "atmospheric administration"),  # two words of a name
        (13, "atmospheric administration"),
        (14, "Project Manager"),
        (15, "yeah"),
        (16, "how many sharks"),  # a question, not a subject
    )
    names = ["National Oceanic and Atmospheric Administration"]
    topics = subject_topics(analysis, 20, names, speakers=[], limit=10)
    assert [(t.name, t.segment_ids) for t in topics] == [
        ("white sharks", [0, 1, 2, 3]),
        ("ocean", [4, 5]),
    ]
    assert topics[0].score == 0.2


def test_a_name_of_one_word_is_no_subject_but_a_word_inside_a_long_name_may_be() -> None:
    analysis = _analysis((0, "nature"), (1, "nature"), (2, "ocean"), (3, "ocean"))
    names = ["Nature", "Ocean Biodiversity Information System"]
    topics = subject_topics(analysis, 4, names, speakers=[], limit=5)
    assert [t.name for t in topics] == ["ocean"]


def _topic(name: str) -> Topic:
    return Topic(name=name, score=0.5, segment_ids=[0])


def test_pipeline_subjects_fill_in_where_the_model_gave_names() -> None:
    mbari = Entity(
        name="MBARI", type=EntityType.ORGANIZATION, mentions=[], verification="unverified"
    )
    model = [_topic("MBARI"), _topic("shark tagging")]
    more = [_topic("white sharks"), _topic("ocean"), _topic("sonar")]
    # "white sharks" says what a kept topic says: the next ones fill in, up to three.
    assert [t.name for t in subjects(model, [mbari], more, least=3)] == [
        "shark tagging",
        "ocean",
        "sonar",
    ]
    assert [t.name for t in subjects(model, [mbari])] == ["shark tagging"]
    # Nothing but names, and nothing to fill in with: the names stay.
    assert [t.name for t in subjects([_topic("MBARI")], [mbari], [], least=3)] == ["MBARI"]
