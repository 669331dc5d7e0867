from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciagent import ConfigError, Segment, Transcript, load_transcript
from ciagent.chunking import chunk_text, chunk_transcript, segment_line
from ciagent.tokens import token_counter

count = token_counter()

WORDS = st.sampled_from(
    ["the", "shark", "Monterey", "Bay", "ocean", "tagged", "we", "NOAA", "really", "café", "42"]
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=14).map(lambda ws: " ".join(ws) + ".")
TURN = st.tuples(st.sampled_from(["Ana", "Bo", None]), st.lists(SENTENCE, min_size=1, max_size=12))


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    turns = draw(st.lists(TURN, min_size=1, max_size=30))
    timed = draw(st.booleans())
    segments = []
    clock = 0.0
    for index, (speaker, sentences) in enumerate(turns):
        length = draw(st.floats(min_value=0, max_value=20))
        start, end = (clock, clock + length) if timed else (index, index)
        clock += length
        segments.append(
            Segment(id=index, start=start, end=end, speaker=speaker, text=" ".join(sentences))
        )
    return Transcript(segments=tuple(segments), timed=timed, format="txt")


def _sentences_over(transcript: Transcript, limit: int) -> bool:
    return any(
        count(segment_line(s, sentence)) > limit
        for s in transcript.segments
        for sentence in re.split(r"(?<=[.!?\u2026])[\"')\]]*\s+", s.text)  # punctuation kept
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    transcript=transcripts(),
    max_tokens=st.integers(min_value=24, max_value=400),
    overlap_share=st.floats(min_value=0, max_value=0.45),
)
def test_chunking_properties(transcript: Transcript, max_tokens: int, overlap_share: float) -> None:
    overlap = int(max_tokens * overlap_share) if max_tokens // 2 > 0 else 0
    overlap = min(overlap, max_tokens // 2 - 1)
    chunks = chunk_transcript(transcript, count, max_tokens, overlap)

    # Order is kept and every segment is covered.
    covered: set[int] = set()
    for before, after in itertools.pairwise(chunks):
        assert (before.first_segment, before.first_char) < (after.first_segment, after.first_char)
        assert before.last_segment <= after.last_segment
        # Neighbours touch or overlap: no segment text is skipped between them.
        assert after.first_segment <= before.last_segment + 1
    for chunk in chunks:
        covered.update(chunk.segment_ids)
    assert covered == {s.id for s in transcript.segments}
    assert chunks[0].first_segment == 0
    assert chunks[0].first_char == 0
    assert chunks[-1].last_segment == len(transcript.segments) - 1
    assert chunks[-1].last_char_end is None

    # No chunk over the limit, unless it holds a single sentence that alone is.
    for chunk in chunks:
        text = chunk_text(transcript, chunk)
        assert chunk.tokens == count(text)
        if chunk.tokens > max_tokens:
            assert _sentences_over(transcript, max_tokens)
            assert chunk.first_segment == chunk.last_segment

    # Times are monotone and come from the segments.
    for chunk in chunks:
        assert chunk.start == transcript.segments[chunk.first_segment].start
        assert chunk.end == transcript.segments[chunk.last_segment].end
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def _turns(*texts: tuple[str, str]) -> Transcript:
    return Transcript(
        segments=tuple(
            Segment(id=i, start=i, end=i, speaker=spk, text=text)
            for i, (spk, text) in enumerate(texts)
        ),
        timed=False,
        format="txt",
    )


def test_long_turn_is_split_at_sentences_never_mid_word() -> None:
    sentences = [f"Sentence number {n} talks about Monterey Bay sharks." for n in range(40)]
    transcript = _turns(("Ana", " ".join(sentences)), ("Bo", "Short reply."))
    chunks = chunk_transcript(transcript, count, 80, 0)
    assert len(chunks) > 3
    for chunk in chunks:
        body = chunk_text(transcript, chunk)
        assert chunk.tokens <= 80
        for line in body.splitlines():
            text = line.split(": ", 1)[1]
            assert text.startswith(("Sentence", "Short")), text
            assert text.endswith("."), text


def test_cut_prefers_speaker_change() -> None:
    same = [("Ana", f"Point {n} is about the reef and the tides.") for n in range(6)]
    transcript = _turns(*same, ("Bo", "I see."), ("Bo", "Go on about the reef then."), *same)
    whole = [count(segment_line(s)) for s in transcript.segments]
    limit = sum(whole[:8]) + 7  # room for the first eight segments exactly
    chunks = chunk_transcript(transcript, count, limit, 0)
    # A cut inside Bo's two turns would be allowed, but the speaker change is preferred.
    assert chunks[0].last_segment in (5, 7)


def test_overlap_shares_whole_segments() -> None:
    transcript = _turns(*[("Ana" if n % 2 else "Bo", f"Turn {n} about sharks.") for n in range(30)])
    chunks = chunk_transcript(transcript, count, 60, 20)
    assert any(b.first_segment <= a.last_segment for a, b in itertools.pairwise(chunks))


def test_corpus_markers_are_not_sent_to_the_model() -> None:
    segment = Segment(
        id=3, start=3, end=3, speaker="PM", text="So {disfmarker} we want {vocalsound} a remote ."
    )
    assert segment_line(segment) == "[3] PM: So we want a remote."


@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (100, 50), (100, -1)])
def test_bad_sizes_are_config_errors(size: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        chunk_transcript(_turns(("A", "hi.")), count, size, overlap)


def test_chunks_are_cut_evenly_not_filled_with_a_sliver_left() -> None:
    line = "is about the reef, the tides and sharks."
    transcript = _turns(*[("Ana" if n % 2 else "Bo", f"Turn {n} {line}") for n in range(26)])
    whole = sum(count(segment_line(s)) + 1 for s in transcript.segments)
    limit = int(whole * 0.8)  # filled greedily: 80% and a 20% sliver
    chunks = chunk_transcript(transcript, count, limit, 0)
    assert len(chunks) == 2
    sizes = sorted(c.tokens for c in chunks)
    assert sizes[0] >= 0.8 * sizes[1], sizes
    assert all(c.tokens <= limit for c in chunks)


def test_the_sample_episode_is_read_in_two_even_chunks(examples_dir: Path) -> None:
    transcript = load_transcript(examples_dir / "long-tide-ep41.vtt")
    sizes = [c.tokens for c in chunk_transcript(transcript, count, 1500, 0)]
    assert len(sizes) == 2
    assert min(sizes) >= 0.8 * max(sizes), sizes
