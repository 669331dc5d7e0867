"""Chapter boundaries by lexical cohesion (TextTiling, Hearst 1997), on segment starts only.

For every gap between two segments, the words of a window before it and a window after it are
compared (cosine of their stem counts); a gap where the talk changes vocabulary has a low
similarity. Its depth (how far it dips below the highest similarity on each side) scores it as a
boundary. Boundaries are taken deepest first while every chapter stays at least `min_length`
long, then any chapter longer than `max_length` is split at its deepest gap. Lengths are measured
on the transcript's own clock: seconds when it is timed, turns when it is not. No model is used,
so a boundary is always the start of a segment and a chapter's times are its segments' times.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

from ciagent.retrieval import terms
from ciagent.types import Transcript

__all__ = ["chapter_spans", "gap_depths"]

_WINDOW_WORDS = 120


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[term] for term, count in a.items() if term in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _window(words: list[list[str]], gap: int, step: int) -> Counter[str]:
    """Stem counts of about `_WINDOW_WORDS` words from the gap, backwards (-1) or forwards."""
    counts: Counter[str] = Counter()
    taken = 0
    position = gap - 1 if step < 0 else gap
    while 0 <= position < len(words) and taken < _WINDOW_WORDS:
        counts.update(words[position])
        taken += max(1, len(words[position]))
        position += step
    return counts


def gap_depths(transcript: Transcript) -> list[float]:
    """Depth score of the gap before each segment (index i: between i-1 and i), for the gaps
    where similarity has a valley; 0 elsewhere and for i = 0."""
    words = [terms(segment.text) for segment in transcript.segments]
    count = len(words)
    similarity = [1.0] + [
        _cosine(_window(words, gap, -1), _window(words, gap, 1)) for gap in range(1, count)
    ]
    depths = [0.0] * count
    for gap in range(1, count):
        before = similarity[gap - 1] if gap > 1 else math.inf
        after = similarity[gap + 1] if gap + 1 < count else math.inf
        if similarity[gap] > before or similarity[gap] > after:
            continue  # only a valley of similarity can be a boundary
        left = max(similarity[1 : gap + 1])
        right = max(similarity[gap:])
        depths[gap] = (left - similarity[gap]) + (right - similarity[gap])
    return depths


def _length(transcript: Transcript, first: int, stop: int) -> float:
    """Length of segments [first, stop): seconds, or turns when untimed."""
    if not transcript.timed:
        return float(stop - first)
    return transcript.segments[stop - 1].end - transcript.segments[first].start


def _fits(transcript: Transcript, cuts: list[int], cut: int, min_length: float) -> bool:
    ordered = sorted([0, *cuts, cut, len(transcript.segments)])
    spot = ordered.index(cut)
    before, after = ordered[spot - 1], ordered[spot + 1]
    return (
        _length(transcript, before, cut) >= min_length
        and _length(transcript, cut, after) >= min_length
    )


def chapter_spans(
    transcript: Transcript, min_length: float, max_length: float
) -> list[tuple[int, int]]:
    """(first, last) segment ids of each chapter, in order, covering every segment."""
    count = len(transcript.segments)
    if count == 0:
        return []
    depths = gap_depths(transcript)
    scored = [gap for gap in range(1, count) if depths[gap] > 0]
    if scored:
        mean = sum(depths[g] for g in scored) / len(scored)
        spread = math.sqrt(sum((depths[g] - mean) ** 2 for g in scored) / len(scored))
        threshold = mean + spread / 2  # TextTiling's cut-off for a real change of subject
    else:
        threshold = math.inf
    cuts: list[int] = []
    for gap in sorted(scored, key=lambda g: (-depths[g], g)):
        if depths[gap] >= threshold and _fits(transcript, cuts, gap, min_length):
            cuts.append(gap)
    bounds = sorted([0, *cuts, count])
    spans: list[tuple[int, int]] = []
    for first, stop in itertools.pairwise(bounds):
        spans.extend(_split_long(transcript, depths, first, stop, min_length, max_length))
    return spans


def _split_long(
    transcript: Transcript,
    depths: list[float],
    first: int,
    stop: int,
    min_length: float,
    max_length: float,
) -> list[tuple[int, int]]:
    """[first, stop) as one chapter, or split at its deepest gap while it is too long."""
    if _length(transcript, first, stop) <= max_length or stop - first < 2:
        return [(first, stop - 1)]
    gaps = [
        g
        for g in range(first + 1, stop)
        if _length(transcript, first, g) >= min_length
        and _length(transcript, g, stop) >= min_length
    ] or list(range(first + 1, stop))
    cut = max(gaps, key=lambda g: (depths[g], -abs((first + stop) / 2 - g)))
    return [
        *_split_long(transcript, depths, first, cut, min_length, max_length),
        *_split_long(transcript, depths, cut, stop, min_length, max_length),
    ]
