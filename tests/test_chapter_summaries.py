"""Every chapter gets a summary a reader can use (`ciagent.steps.chapter_summaries`): the model's
when it reads as prose, else the chunk summaries' sentences about the chapter, else its most
central line; and the result says which."""

from __future__ import annotations

from pathlib import Path

import pytest

import ciagent
from ciagent.steps.chapter_summaries import central_line, reads_as_prose, summarized
from ciagent.testing import FakeModel
from ciagent.types import Chapter, Segment, Transcript

LINES = [
    ("Maya Okafor", "Welcome back to the show, and thanks for listening."),
    ("Sarah Chen", "We spent six weeks at Guadalupe Island on the research vessel."),
    ("Sarah Chen", "Guadalupe Island is one of the best places on Earth to study white sharks."),
    ("Maya Okafor", "How did the satellite tags work out?"),
    ("Sarah Chen", "Each tag records depth, temperature and light for about nine months."),
    ("Sarah Chen", "After nine months the tag pops off, floats, and sends its data home."),
    ("Maya Okafor", "Let's talk about where the money for all this comes from."),
    ("Sarah Chen", "The Packard Foundation pays for most of the ship time we use."),
    ("Sarah Chen", "Ship time is the most expensive part of the whole project by far."),
]
TRANSCRIPT = Transcript(
    segments=tuple(
        Segment(id=i, start=i * 10.0, end=i * 10.0 + 9, speaker=who, text=text)
        for i, (who, text) in enumerate(LINES)
    ),
    timed=True,
    format="vtt",
)


def chapter(first: int, last: int, summary: str = "") -> Chapter:
    return Chapter(
        title="A chapter",
        summary=summary,
        start=first * 10.0,
        end=last * 10.0 + 9,
        segment_ids=list(range(first, last + 1)),
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "So the fact that there there is no uh low-pass filtering before the downsampling.",
        "The team looked at the at the budget.",
        "Filters were discussed. | PhD C: Mmm.",
        "They want, you know, cleaner recordings.",
        "Maya Okafor: we went out on the boat.",
        "My favourite animal is",
    ],
)
def test_lines_copied_from_a_transcript_do_not_read_as_prose(sentence: str) -> None:
    assert not reads_as_prose(sentence, TRANSCRIPT.speakers)


def test_a_written_sentence_reads_as_prose() -> None:
    assert reads_as_prose("Sarah Chen describes how satellite tags record depth and light.")


def test_each_chapter_gets_a_summary_and_says_where_it_came_from() -> None:
    chapters = [
        chapter(0, 2, "Sarah Chen spent six weeks at Guadalupe Island on a research vessel."),
        chapter(3, 5, "So uh the tag the tag records."),  # the model copied a line: not kept
        chapter(6, 8),
    ]
    chunk_summaries = [
        "Sarah Chen explains that each satellite tag records depth, temperature and light, "
        "then pops off and floats. She mentions the tags were built on Mars."  # never said
    ]
    got = summarized(chapters, TRANSCRIPT, chunk_summaries)
    assert [c.summary_from for c in got] == ["model", "notes", "lines"]
    assert got[0].summary == chapters[0].summary
    assert got[1].summary.startswith("Sarah Chen explains that each satellite tag records")
    assert "Mars" not in got[1].summary  # names what the chapter never says
    # No chunk summary speaks of the money: its most central line, in the third person.
    assert got[2].summary == "Ship time is the most expensive part of the whole project by far."


def test_a_chunk_summary_sentence_the_lines_contradict_is_not_placed() -> None:
    got = summarized(
        [chapter(0, 2), chapter(3, 5)],
        TRANSCRIPT,
        ["Each tag records depth, temperature and light for about four months."],  # nine
    )
    assert got[1].summary_from == "lines"
    assert "four" not in got[1].summary


def test_the_central_line_leaves_out_withheld_and_scrappy_lines() -> None:
    assert central_line(TRANSCRIPT, [0, 3]) == ""  # a greeting and a question: nothing to say
    line = central_line(TRANSCRIPT, [1, 2])
    assert line.startswith("Guadalupe Island is")  # not "We spent six weeks ..."


def test_the_central_line_is_no_address_and_opens_on_no_conjunction() -> None:
    # TS3010a's chapter summary was "And Next instructions you'll get in your email."
    meeting = Transcript(
        segments=(
            Segment(
                id=0,
                start=0,
                end=9,
                speaker="A",
                text="And Next instructions you'll get in your email after the meeting.",
            ),
            Segment(
                id=1,
                start=10,
                end=19,
                speaker="B",
                text="And the budget for the remote control is twenty five Euro in total.",
            ),
        ),
        timed=True,
        format="vtt",
    )
    assert central_line(meeting, [0, 1]) == (
        "The budget for the remote control is twenty five Euro in total."
    )
    assert (
        central_line(meeting, [0])
        == "Next instructions you'll get in your email after the meeting."
    )


def test_the_enriched_chapters_all_have_summaries(examples_dir: Path) -> None:
    result = ciagent.enrich(examples_dir / "long-tide-ep41.vtt", model=FakeModel())
    assert result.chapters
    assert all(c.summary and c.summary_from for c in result.chapters)
