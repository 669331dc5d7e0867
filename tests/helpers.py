"""Assertions shared by the tests."""

from __future__ import annotations

from ciagent import EpisodeEnrichment, Segment, Transcript


def assert_grounded(result: EpisodeEnrichment, transcript: Transcript) -> None:
    """Every kept mention and quote is really in the segments it cites, at their times."""
    for entity in result.entities:
        assert entity.mentions
        for mention in entity.mentions:
            segments = [transcript.segments[i] for i in mention.segment_ids]
            assert mention.segment_ids == list(range(segments[0].id, segments[-1].id + 1))
            assert mention.text in " ".join(s.text for s in segments), (entity.name, mention)
            assert mention.start == segments[0].start
            assert mention.end == segments[-1].end
    for quote in result.quotes:
        segments = [transcript.segments[i] for i in quote.segment_ids]
        assert quote.text in " ".join(s.text for s in segments)
        assert quote.speaker == segments[0].speaker
        assert (quote.start, quote.end) == (segments[0].start, segments[-1].end)


def transcript_of(text: str) -> Transcript:
    """A timed transcript from `Speaker: text` lines, ten seconds per line."""
    lines = [line.split(": ", 1) for line in text.strip().splitlines()]
    return Transcript(
        segments=tuple(
            Segment(id=i, start=i * 10, end=i * 10 + 9, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ),
        timed=True,
        format="txt",
    )
