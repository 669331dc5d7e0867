"""Topics from the noun phrases the NLP pipeline found, for when the model's topics are names.

A small model's topic field often lists the episode's names ("MBARI", "Nature", "Long Tide"):
entities, not subjects, and dropped as topics at finalize. What an episode is about shows in its
common-noun phrases, so these are ranked with no model call:

- a phrase is a candidate when it is written in lower case (a capitalised phrase mid-sentence is
  a name), is one to four words long, says something (`vocabulary.not_metadata`; its last word
  no generic noun such as "time" or "part") and is not a name the episode has, nor two words or
  more of one ("atmospheric administration");
- phrases are grouped by their head, the stem of their last word ("sharks", "white sharks" and
  "young sharks" are one subject), and a group scores the segments it is said in;
- a group is named by its most said phrase of two words or more when that is said at least
  twice, else by its most said phrase ("white sharks" over "sharks");
- a subject said in a single segment is no subject of the episode.

The score is the share of the episode's segments that say the subject, and the evidence the
first five of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from ciagent.nlp import TextAnalysis
from ciagent.types import Topic
from ciagent.vocabulary import STOPWORDS, is_vague, listed, meaningful_words, not_metadata, words

__all__ = ["GENERIC_NOUNS", "subject_topics"]

GENERIC_NOUNS = frozenset(
    listed(
        """
        time times way ways day days year years week weeks month months place places part parts
        point points question questions idea ideas case cases fact number numbers bit lot lots
        kind sort type types side sides end start book books show shows episode episodes
        thing things stuff people person guy guys man men woman women animal animals world work
        job jobs life home problem problems example examples reason reasons moment minute
        minutes hour hours area areas group level story stories name names word words issue
        issues meeting meetings today tomorrow yesterday everybody anybody course line lines
        instance instances matter matters sense
        """
    )
)
"""Nouns that say no subject ("book", "time", "people", "the exciting part"): a phrase ending in
one is no topic."""

_EVIDENCE = 5
_MIN_SEGMENTS = 2
_MAX_WORDS = 4


def _in_a_name(phrase: str, names: list[str]) -> bool:
    """One of `names` (each padded with spaces), or two words or more of one."""
    key = " ".join(words(phrase))
    return any(name == f" {key} " or (" " in key and f" {key} " in name) for name in names)


def _head(phrase: str) -> str:
    return meaningful_words(phrase)[-1][:5]


def subject_topics(
    analysis: TextAnalysis,
    segments: int,
    names: Iterable[str],
    speakers: Iterable[str],
    limit: int,
) -> list[Topic]:
    """Up to `limit` topics from the noun phrases of `analysis` (a transcript of `segments`
    segments) that are none of `names` nor a part of one, most said first."""
    voices = set(speakers)
    named = [f" {' '.join(words(name))} " for name in names]
    said: dict[str, set[int]] = defaultdict(set)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for phrase in analysis.noun_phrases:
        text = phrase.text.strip()
        content = meaningful_words(text)
        if (
            not content
            or text != text.lower()
            or len(text.split()) > _MAX_WORDS
            or not_metadata(text, voices)
            or is_vague(text)
            or content[-1] in GENERIC_NOUNS
            or words(text)[0] in STOPWORDS  # "how many actions"
            or _in_a_name(text, named)
        ):
            continue
        head = _head(text)
        said[head].add(phrase.segment_id)
        forms[head][text] += 1
    ranked = sorted(said, key=lambda head: (-len(said[head]), head))
    topics: list[Topic] = []
    for head in ranked[:limit]:
        where = sorted(said[head])
        if len(where) < _MIN_SEGMENTS:
            break
        longer = [(n, f) for f, n in forms[head].items() if len(f.split()) > 1 and n > 1]
        name = max(longer)[1] if longer else forms[head].most_common(1)[0][0]
        topics.append(
            Topic(
                name=name,
                score=round(min(1.0, len(where) / max(1, segments)), 4),
                segment_ids=where[:_EVIDENCE],
            )
        )
    return topics
