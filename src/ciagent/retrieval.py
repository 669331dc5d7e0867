"""A lexical retriever over transcript segments (BM25), for the evidence a claim is judged on.

Words are compared casefolded, without punctuation or corpus markers, on a five-letter stem
("tagging" and "tagged" meet), and short function words are ignored. It needs no model and no
index on disk: building it for a 2-hour transcript takes milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from ciagent.textnorm import content_words
from ciagent.types import Segment

__all__ = ["SegmentIndex", "terms", "with_neighbours"]

_K1 = 1.2
_B = 0.75


def terms(text: str) -> list[str]:
    """The index terms of a text: its content words, cut to a five-letter stem."""
    return [word[:5] for word in content_words(text)]


class SegmentIndex:
    """BM25 over a set of segments (a whole transcript, or one chunk's)."""

    def __init__(self, segments: Iterable[Segment]) -> None:
        self._ids: list[int] = []
        self._counts: list[Counter[str]] = []
        for segment in segments:
            self._ids.append(segment.id)
            self._counts.append(Counter(terms(segment.text)))
        lengths = [sum(c.values()) for c in self._counts]
        self._lengths = lengths
        self._average = (sum(lengths) / len(lengths)) if lengths else 0.0
        frequency: Counter[str] = Counter()
        for counts in self._counts:
            frequency.update(counts.keys())
        total = len(self._counts)
        self._idf = {
            term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in frequency.items()
        }

    def scores(self, query: str) -> dict[int, float]:
        """Segment id -> BM25 score, for the segments sharing a term with `query`."""
        wanted = set(terms(query))
        found: dict[int, float] = {}
        for position, counts in enumerate(self._counts):
            score = 0.0
            norm = _K1 * (1 - _B + _B * self._lengths[position] / (self._average or 1.0))
            for term in wanted.intersection(counts):
                tf = counts[term]
                score += self._idf[term] * tf * (_K1 + 1) / (tf + norm)
            if score > 0:
                found[self._ids[position]] = score
        return found

    def search(self, query: str, k: int) -> list[int]:
        """Ids of the `k` best segments for `query`, best first (ties: earlier first)."""
        scored = self.scores(query)
        return sorted(scored, key=lambda sid: (-scored[sid], sid))[:k]


def with_neighbours(hits: Sequence[int], last_id: int, limit: int) -> list[int]:
    """The hits with the segment before and after each (short turns need their context), in
    transcript order, at most `limit` ids, the hits themselves kept first."""
    chosen: list[int] = list(dict.fromkeys(hits))[:limit]
    for hit in hits:
        for near in (hit - 1, hit + 1):
            if len(chosen) >= limit:
                break
            if 0 <= near <= last_id and near not in chosen:
                chosen.append(near)
    return sorted(chosen)
