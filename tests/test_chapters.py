"""Chapters: boundaries on segment starts by lexical cohesion, times from the segments."""

from __future__ import annotations

import itertools
from pathlib import Path

import ciagent
from ciagent import Settings
from ciagent.segmentation import ChapterBounds, chapter_spans
from ciagent.testing import FakeModel
from ciagent.types import Segment, Transcript
from ciagent.vocabulary import is_vague

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


def bounds(
    min_words: int = 60, max_words: int = 3000, min_s: float = 30, max_s: float = 900
) -> ChapterBounds:
    return ChapterBounds(
        min_words=min_words, min_share=1.0, max_words=max_words, min_s=min_s, max_s=max_s
    )


def test_a_change_of_subject_is_the_boundary() -> None:
    assert chapter_spans(two_subjects(), bounds()) == [(0, 19), (20, 39)]


def test_untimed_transcripts_measure_chapters_in_words() -> None:
    untimed = two_subjects(timed=False)  # 20 lines of 13 or 14 words on each subject
    assert chapter_spans(untimed, bounds(min_words=100)) == [(0, 19), (20, 39)]
    # No chapter may be shorter than 300 words: the change of subject cannot be used.
    assert chapter_spans(untimed, bounds(min_words=300)) == [(0, 39)]


def test_the_minimum_scales_down_with_a_short_episode() -> None:
    # 540 words in all: a tenth of the episode (54 words) is the minimum, not 600 words.
    assert chapter_spans(two_subjects(timed=False), ChapterBounds()) == [(0, 19), (20, 39)]
    assert chapter_spans(two_subjects(timed=False), ChapterBounds(min_share=0.6)) == [(0, 39)]


def test_a_timed_chapter_is_at_least_min_s_long() -> None:
    # Each subject lasts 119 s: a 150 s minimum forbids the boundary.
    assert chapter_spans(two_subjects(), bounds(min_s=150)) == [(0, 39)]


def test_a_chapter_longer_than_the_maximum_is_split() -> None:
    spans = chapter_spans(two_subjects(each=30), bounds(max_s=100))
    lengths = [(b - a + 1) * 6.0 for a, b in spans]
    assert all(30 <= length <= 100 for length in lengths), spans
    assert spans[0][0] == 0
    assert spans[-1][1] == 59
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(spans))
    by_words = chapter_spans(
        two_subjects(timed=False, each=30), bounds(min_words=50, max_words=200)
    )
    assert len(by_words) >= 4, by_words


def test_chapter_times_are_their_segments_times(examples_dir: Path) -> None:
    fake = FakeModel()
    path = examples_dir / "long-tide-ep41.vtt"
    result = ciagent.enrich(path, Settings(model=fake, min_chapter_s=60))
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
    # The fake titles a chapter with its first two key words; a vague one ("Next and camera")
    # gives way to the chapter's noun phrase.
    for chapter in result.chapters:
        proposed = " and ".join(chapter.keywords[:2]).capitalize()
        assert chapter.titled_by == (None if is_vague(proposed) else fake.model_id), proposed
    assert sum(c.titled_by == fake.model_id for c in result.chapters) >= 2


def test_a_title_not_about_its_chapter_falls_back_to_its_key_words() -> None:
    def invented(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            return {
                "chapters": [
                    {"number": 1, "title": "Tom Hale at the Louvre", "summary": "Tom went."},
                    {
                        "number": 2,
                        "title": "Coffee prices",
                        "summary": "The farmers sold their beans.",
                    },
                ]
            }
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=invented)  # type: ignore[arg-type]
    result = ciagent.enrich(two_subjects(), Settings(model=fake, min_chapter_s=30))
    first, second = result.chapters
    assert first.titled_by is None
    # The invented title's summary goes with it; the chapter's own line stands in.
    assert "Tom" not in first.summary
    assert first.summary_from == "lines"
    assert "Shark" in first.title or "shark" in first.title
    assert (second.title, second.titled_by) == ("Coffee prices", fake.model_id)
    assert second.summary == "The farmers sold their beans."
    assert second.summary_from == "model"


def island_farmers() -> Transcript:
    """Two subjects, with the words "island farmers" said in both."""
    lines = [f"{SHARKS} Island farmers watched."] * 20 + [f"{COFFEE} Island farmers too."] * 20
    return Transcript(
        segments=tuple(
            Segment(id=i, start=i * 6.0, end=i * 6.0 + 5, text=t) for i, t in enumerate(lines)
        ),
        timed=True,
        format="txt",
    )


def test_a_title_given_to_an_earlier_chapter_falls_back() -> None:
    def repeated(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            chapter = {"title": "Island farmers", "summary": "The farmers sold their beans."}
            return {"chapters": [{"number": n, **chapter} for n in (1, 2)]}
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=repeated)  # type: ignore[arg-type]
    transcript = island_farmers()
    result = ciagent.enrich(transcript, Settings(model=fake, min_chapter_s=30))
    first, second = result.chapters
    assert (first.title, first.titled_by) == ("Island farmers", fake.model_id)
    assert second.titled_by is None
    assert second.title != first.title


def test_a_list_of_key_words_or_a_near_repeat_is_no_title() -> None:
    def listed(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            return {
                "chapters": [
                    {"number": 1, "title": "Island farmers and sharks", "summary": ""},
                    {"number": 2, "title": "The island farmers and sharks", "summary": ""},
                ]
            }
        return ciagent.testing.default_answer(request)

    transcript = island_farmers()
    fake = FakeModel(respond=listed)  # type: ignore[arg-type]
    first, second = ciagent.enrich(transcript, Settings(model=fake, min_chapter_s=30)).chapters
    assert first.titled_by == fake.model_id
    assert second.titled_by is None  # nearly the first one's title

    def keywords(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            title = {"title": "Sharks, island, farmers, weeks", "summary": ""}
            return {"chapters": [{"number": 1, **title}]}
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=keywords)  # type: ignore[arg-type]
    first, _ = ciagent.enrich(transcript, Settings(model=fake, min_chapter_s=30)).chapters
    assert first.titled_by is None
    assert first.title != "Sharks, island, farmers, weeks"


def test_a_title_loses_the_fillers_it_opens_with() -> None:
    def hesitant(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            return {
                "chapters": [
                    {"number": 1, "title": "Uh white shark tagging", "summary": ""},
                    {"number": 2, "title": "Yeah, so, coffee prices", "summary": ""},
                ]
            }
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=hesitant)  # type: ignore[arg-type]
    result = ciagent.enrich(two_subjects(), Settings(model=fake, min_chapter_s=30))
    assert [c.title for c in result.chapters] == ["White shark tagging", "Coffee prices"]
    assert all(c.titled_by == fake.model_id for c in result.chapters)


def test_a_vague_title_gives_way_to_a_noun_phrase_as_a_person_writes_it() -> None:
    """'Thirty minutes', 'Small camera' and 'But no screens' are no titles; the stand-in is
    the chapter's noun phrase without the hesitation it opens with, its tokenised hyphen joined,
    and not an earlier chapter's title again."""
    from ciagent.nlp import Phrase, TextAnalysis
    from ciagent.steps.chapters import _phrase_title

    def np(text: str) -> Phrase:
        return Phrase(segment_id=1, start=0, end=len(text), text=text, label="NP")

    analysis = TextAnalysis(
        names=[],
        noun_phrases=[
            np("thirty minutes"),
            np("small camera"),
            np("but no screens"),
            np("uh echo cancellation - like techniques"),
            np("echo"),
        ],
    )
    words = ["minutes", "camera", "screens", "echo", "cancellation"]
    assert _phrase_title(analysis, (0, 3), words, set(), []) == "Echo cancellation-like techniques"
    used = [{"echo", "cance", "like", "techn"}]
    assert _phrase_title(analysis, (0, 3), words, set(), used) == "Echo"


def test_a_title_that_slips_into_another_script_or_runs_on_is_no_title() -> None:
    """The embedded 0.5B model titled a chapter "Second Shift, the show about the people who
    work while the其余": a script the transcript never uses, and a sentence, not a title."""

    def slipping(request: ciagent.testing.FakeRequest) -> object:
        if request.schema_name == "ChapterTitles":
            return {
                "chapters": [
                    {"number": 1, "title": "Island farmers 其余", "summary": ""},
                    {
                        "number": 2,
                        "title": "The farmers who sold their beans to the island sharks",
                        "summary": "",
                    },
                ]
            }
        return ciagent.testing.default_answer(request)

    fake = FakeModel(respond=slipping)  # type: ignore[arg-type]
    first, second = ciagent.enrich(
        island_farmers(), Settings(model=fake, min_chapter_s=30)
    ).chapters
    assert first.titled_by is None
    assert "其" not in first.title
    assert second.titled_by is None
    assert len(second.title.split()) <= 8
