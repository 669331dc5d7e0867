"""Chapters: boundaries on segment starts by lexical cohesion, times from the segments."""

from __future__ import annotations

import itertools
from pathlib import Path

import ciagent
from ciagent import Settings
from ciagent.segmentation import chapter_spans
from ciagent.testing import FakeModel
from ciagent.types import Segment, Transcript

SHARKS = "We tagged white sharks near the island and tracked the sharks for weeks."
COFFEE = "The coffee farmers sold their beans to a cooperative at a fair price."


def two_subjects(timed: bool = True, each: int = 20) -> Transcript:
    lines = [SHARKS] * each + [COFFEE] * each
    return Transcript(
        segments=tuple(
            Segment(id=i, start=i * 6.0 if timed else i, end=i * 6.0 + 5 if timed else i, text=t)
            for i, t in enumerate(lines)
        ),
        timed=timed,
        format="txt",
    )


def test_a_change_of_subject_is_the_boundary() -> None:
    assert chapter_spans(two_subjects(), min_length=30, max_length=900) == [(0, 19), (20, 39)]


def test_untimed_transcripts_measure_chapters_in_turns() -> None:
    untimed = two_subjects(timed=False)
    assert chapter_spans(untimed, min_length=5, max_length=100) == [(0, 19), (20, 39)]
    # No chapter may be shorter than 25 turns: the change of subject cannot be used.
    assert chapter_spans(untimed, min_length=25, max_length=100) == [(0, 39)]


def test_a_chapter_longer_than_the_maximum_is_split() -> None:
    spans = chapter_spans(two_subjects(each=30), min_length=30, max_length=100)
    lengths = [(b - a + 1) * 6.0 for a, b in spans]
    assert all(30 <= length <= 100 for length in lengths), spans
    assert spans[0][0] == 0
    assert spans[-1][1] == 59
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(spans))


def test_chapter_times_are_their_segments_times(examples_dir: Path) -> None:
    fake = FakeModel()
    path = examples_dir / "long-tide-ep41.vtt"
    result = ciagent.enrich(path, Settings(model=fake.model_id, min_chapter_s=60))
    transcript = ciagent.load_transcript(path)
    assert len(result.chapters) >= 2
    covered = [sid for chapter in result.chapters for sid in chapter.segment_ids]
    assert covered == list(range(len(transcript.segments)))
    for chapter in result.chapters:
        first, last = chapter.segment_ids[0], chapter.segment_ids[-1]
        assert chapter.segment_ids == list(range(first, last + 1))
        assert chapter.start == transcript.segments[first].start
        assert chapter.end == transcript.segments[last].end
        assert chapter.title
        assert chapter.keywords
        if chapter != result.chapters[-1]:
            assert chapter.end - chapter.start >= 60 - 10  # cue gaps aside
    assert {c.titled_by for c in result.chapters} == {fake.model_id}


def test_a_title_not_about_its_chapter_falls_back_to_its_key_words() -> None:
    def invented(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            return {
                "chapters": [
                    {"number": 1, "title": "Tom Hale at the Louvre", "summary": "Tom went."},
                    {"number": 2, "title": "Coffee prices", "summary": "Farmers sold beans."},
                ]
            }
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=invented)  # type: ignore[arg-type]
    result = ciagent.enrich(two_subjects(), Settings(model=fake.model_id, min_chapter_s=30))
    first, second = result.chapters
    assert first.titled_by is None
    assert first.summary == ""
    assert "Shark" in first.title or "shark" in first.title
    assert (second.title, second.titled_by) == ("Coffee prices", fake.model_id)
    assert second.summary == "Farmers sold beans."
