"""Chapter boundaries by lexical cohesion (TextTiling, Hearst 1997), on segment starts only.

For every gap between two segments, the words of a window before it and a window after it are
compared (cosine of their stem counts); a gap where the talk changes vocabulary has a low
similarity. Its depth (how far it dips below the peaks reached climbing away on each side)
scores it as a boundary. Gaps deeper than the mean depth are taken deepest first while every
chapter stays at least the minimum long; then any chapter longer than the maximum is split at
its deepest gap. No model is used, so a boundary is always the start of a segment and a
chapter's times are its segments' times.

Lengths are measured in words, which unlike turns do not depend on how a transcript was cut into
segments; a timed transcript also has bounds in seconds. The minimum scales with the episode
(`ChapterBounds.min_share` of its words, at most `min_words`), so a ten-minute episode gets short
chapters and a three-hour one does not get hundreds. The window is an eighth of the episode, at
most 200 words. These values were chosen on the eval datasets (`docs/evals.md`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciagent.retrieval import terms
from ciagent.types import Transcript

if TYPE_CHECKING:
    from ciagent.settings import Settings

__all__ = ["ChapterBounds", "chapter_spans", "gap_depths"]

_WINDOW_WORDS = 200
_MIN_WINDOW_WORDS = 30
_WINDOW_SHARE = 8  # the window is at most an eighth of the episode


@dataclass(frozen=True)
class ChapterBounds:
    """How short and how long a chapter may be (`min_s`/`max_s` apply to timed transcripts)."""

    min_words: int = 600
    min_share: float = 0.1
    max_words: int = 3000
    min_s: float = 30.0
    max_s: float = 900.0

    @classmethod
    def of(cls, settings: Settings) -> ChapterBounds:
        return cls(
            min_words=settings.min_chapter_words,
            min_share=settings.min_chapter_share,
            max_words=settings.max_chapter_words,
            min_s=settings.min_chapter_s,
            max_s=settings.max_chapter_s,
        )


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[term] for term, count in a.items() if term in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _window(words: list[list[str]], gap: int, step: int, size: int) -> Counter[str]:
    """Stem counts of about `size` words from the gap, backwards (-1) or forwards (+1)."""
    counts: Counter[str] = Counter()
    taken = 0
    position = gap - 1 if step < 0 else gap
    while 0 <= position < len(words) and taken < size:
        counts.update(words[position])
        taken += max(1, len(words[position]))
        position += step
    return counts


def _word_counts(transcript: Transcript) -> list[int]:
    return [max(1, len(segment.text.split())) for segment in transcript.segments]


def gap_depths(transcript: Transcript) -> list[float]:
    """Depth score of the gap before each segment (index i: between i-1 and i), for the gaps
    where similarity has a valley; 0 elsewhere and for i = 0."""
    words = [terms(segment.text) for segment in transcript.segments]
    count = len(words)
    size = min(
        _WINDOW_WORDS, max(_MIN_WINDOW_WORDS, sum(_word_counts(transcript)) // _WINDOW_SHARE)
    )
    similarity = [1.0] + [
        _cosine(_window(words, gap, -1, size), _window(words, gap, 1, size))
        for gap in range(1, count)
    ]
    depths = [0.0] * count
    for gap in range(1, count):
        before = similarity[gap - 1] if gap > 1 else math.inf
        after = similarity[gap + 1] if gap + 1 < count else math.inf
        if similarity[gap] > before or similarity[gap] > after:
            continue  # only a valley of similarity can be a boundary
        left = gap
        while left > 1 and similarity[left - 1] >= similarity[left]:
            left -= 1
        right = gap
        while right + 1 < count and similarity[right + 1] >= similarity[right]:
            right += 1
        depths[gap] = (similarity[left] - similarity[gap]) + (similarity[right] - similarity[gap])
    return depths


class _Measure:
    """Lengths of runs of segments, in words and (timed transcripts) seconds."""

    def __init__(self, transcript: Transcript, bounds: ChapterBounds) -> None:
        self._transcript = transcript
        self._words = [0, *itertools.accumulate(_word_counts(transcript))]
        self._bounds = bounds
        self.min_words = min(float(bounds.min_words), bounds.min_share * self._words[-1])

    def _seconds(self, first: int, stop: int) -> float:
        segments = self._transcript.segments
        return segments[stop - 1].end - segments[first].start

    def long_enough(self, first: int, stop: int) -> bool:
        if self._words[stop] - self._words[first] < self.min_words:
            return False
        return not self._transcript.timed or self._seconds(first, stop) >= self._bounds.min_s

    def too_long(self, first: int, stop: int) -> bool:
        if self._words[stop] - self._words[first] > self._bounds.max_words:
            return True
        return self._transcript.timed and self._seconds(first, stop) > self._bounds.max_s


def chapter_spans(
    transcript: Transcript, bounds: ChapterBounds | None = None
) -> list[tuple[int, int]]:
    """(first, last) segment ids of each chapter, in order, covering every segment."""
    count = len(transcript.segments)
    if count == 0:
        return []
    measure = _Measure(transcript, bounds or ChapterBounds())
    depths = gap_depths(transcript)
    scored = [gap for gap in range(1, count) if depths[gap] > 0]
    threshold = sum(depths[g] for g in scored) / len(scored) if scored else math.inf
    cuts: list[int] = []
    for gap in sorted(scored, key=lambda g: (-depths[g], g)):
        if depths[gap] < threshold:
            break
        ordered = sorted([0, *cuts, gap, count])
        spot = ordered.index(gap)
        if measure.long_enough(ordered[spot - 1], gap) and measure.long_enough(
            gap, ordered[spot + 1]
        ):
            cuts.append(gap)
    bounds_at = sorted([0, *cuts, count])
    spans: list[tuple[int, int]] = []
    for first, stop in itertools.pairwise(bounds_at):
        spans.extend(_split_long(measure, depths, first, stop))
    return spans


def _split_long(
    measure: _Measure, depths: list[float], first: int, stop: int
) -> list[tuple[int, int]]:
    """[first, stop) as one chapter, or split at its deepest gap while it is too long."""
    if not measure.too_long(first, stop) or stop - first < 2:
        return [(first, stop - 1)]
    gaps = [
        g
        for g in range(first + 1, stop)
        if measure.long_enough(first, g) and measure.long_enough(g, stop)
    ] or list(range(first + 1, stop))
    cut = max(gaps, key=lambda g: (depths[g], -abs((first + stop) / 2 - g)))
    return [
        *_split_long(measure, depths, first, cut),
        *_split_long(measure, depths, cut, stop),
    ]
