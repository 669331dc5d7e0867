"""Summaries written as prose: no speaker prefixes, part labels, fillers or one-word turns; and,
when transcript lines must stand in for a summary, the most central ones.

`as_prose` cleans what a model wrote (small models copy "Maya Okafor: Right." into a summary) or
what stands in for it. `central_sentences` ranks a passage's sentences by TextRank (Mihalcea and
Tarau, 2004): a sentence is central when sentences that share its content words are central,
with similarity |shared words| / (log |a| + log |b|), by power iteration over that graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from ciagent.textnorm import clean, split_sentences
from ciagent.vocabulary import (
    FILLERS,
    HESITATIONS,
    ROLE_WORDS,
    STOPWORDS,
    is_filler,
    meaningful_words,
    words,
)

__all__ = [
    "as_episode",
    "as_prose",
    "central_sentences",
    "checkable",
    "is_hosting",
    "quotable",
    "with_articles",
    "without_leading_fillers",
]

_PART = re.compile(r"^part\s+\d+(?:\s*\([^)]*\))?\s*:\s*", re.IGNORECASE)
_LABEL = re.compile(
    r"^([A-Z][\w.'\u2019-]*(?:\s+[A-Z][\w.'\u2019-]*){0,3}|[A-Za-z]+\s+[A-Z0-9])\s*:\s+"
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:um+|uh+|erm|mm-?hmm|hmm+|oh|ah|yeah|yep|yes|okay|ok|i mean|you know)\b[,.!]*\s*"
    r"|(?:so|well|right|like|and|but|now|anyway|actually)\s*,\s*)+",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(
    r"\b(?:I|I'm|I've|I'd|I'll)\b|\b(?:we|we're|we've|our|ours|us|my|me)\b", re.I
)
_MIN_WORDS = 4
_DAMPING = 0.85
_ROUNDS = 50


def checkable(sentence: str) -> bool:
    """A statement that can be checked: not a question, not a greeting or a one-word turn, not
    cut off (ending in a comma), at least four words of which two carry meaning, and not mostly
    a list of roles ("Marketing, Project Manager, User Interface")."""
    text = sentence.strip()
    if not text or text.endswith(("?", ",", ";")) or is_filler(text):
        return False
    meaning = meaningful_words(text)
    if len(text.split()) < _MIN_WORDS or len(meaning) < 2:
        return False
    return sum(w in ROLE_WORDS for w in meaning) * 2 <= len(meaning)


# "a" before a vowel sound: "a underwater robot" -> "an underwater robot"; not before a "you"
# or "one" sound ("a university", "a one-off", "a European").
_A_BEFORE_VOWEL = re.compile(
    r"\b([Aa])\s+(?=(?:[aeioAEIO]|u(?:n(?!i)|p|m|g|l|s(?!u|e|a))|hour|honest|honou?r)\w*)"
    r"(?!(?i:one\b|once\b|eu|uni|use|usu))",
)


_LINES_SAY = re.compile(
    r"^(?:the |these )?transcript lines (describe|summari[sz]e|discuss|outline|cover|highlight"
    r"|explain|mention|show|detail|focus)\b",
    re.IGNORECASE,
)
_TRANSCRIPT_SAYS = re.compile(r"^(?:this|the) transcript\b", re.IGNORECASE)


def as_episode(sentence: str) -> str:
    """A summary sentence about the episode, not about the lines it was read from: "The
    transcript lines describe X" -> "The episode describes X"; "This transcript" -> "This
    episode"."""
    said = _LINES_SAY.match(sentence)
    if said:
        verb = said.group(1).lower()
        verb += "es" if verb.endswith("ss") else "s"
        return f"The episode {verb}{sentence[said.end() :]}"
    return _TRANSCRIPT_SAYS.sub("This episode", sentence, count=1)


def with_articles(text: str) -> str:
    """The text with "a" written "an" before a vowel sound, as a person writes it."""
    return _A_BEFORE_VOWEL.sub(lambda m: m.group(1) + "n ", text)


def without_leading_fillers(text: str) -> str:
    """The text without the fillers it opens with ("Uh echo cancellation" -> "Echo
    cancellation"), capitalised; unchanged when it is nothing but fillers."""
    rest = _LEADING_FILLER.sub("", text.strip()).strip()
    return rest[:1].upper() + rest[1:] if rest else text


def _cleaned(sentence: str, speakers: set[str]) -> str:
    text = _PART.sub("", sentence.strip())
    label = _LABEL.match(text)
    if label and (label.group(1) in speakers or len(label.group(1).split()) <= 3):
        text = text[label.end() :]
    text = _LEADING_FILLER.sub("", text).strip()
    return text[:1].upper() + text[1:]


def as_prose(text: str, speakers: Iterable[str] = (), *, said: bool = False) -> str:
    """The text's checkable sentences, each without a part label, a speaker prefix ("Maya
    Okafor: ...") or leading fillers ("Yeah, so, ..."). A summary speaks of the speakers, never
    as one: a sentence in the first person ("We put receivers near the surf") is a transcript
    line copied, and is dropped, unless `said` (the text is transcript lines standing in)."""
    names = set(speakers)
    kept = [_cleaned(s, names) for s in split_sentences(text)]
    return " ".join(s for s in kept if checkable(s) and (said or not _FIRST_PERSON.search(s)))


def central_sentences(sentences: list[str], k: int) -> list[str]:
    """The `k` most central of `sentences` (TextRank), in their original order."""
    bags = [set(meaningful_words(s)) for s in sentences]
    n = len(sentences)
    if n <= k:
        return list(sentences)
    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            shared = len(bags[i] & bags[j])
            if shared and len(bags[i]) > 1 and len(bags[j]) > 1:
                w = shared / (math.log(len(bags[i])) + math.log(len(bags[j])))
                weights[i][j] = weights[j][i] = w
    totals = [sum(row) or 1.0 for row in weights]
    score = [1.0] * n
    for _ in range(_ROUNDS):
        score = [
            (1 - _DAMPING) + _DAMPING * sum(weights[j][i] / totals[j] * score[j] for j in range(n))
            for i in range(n)
        ]
    best = sorted(range(n), key=lambda i: (-score[i], i))[:k]
    return [sentences[i] for i in sorted(best)]


_QUOTE_WORDS = 5
_QUOTE_MEANING = 3
_HOSTING = re.compile(
    r"^(?:welcome|thanks|thank you|next time|coming up|that's all|"
    r"we(?:'ll| will)? (?:now )?(?:go|move|continue|turn)|let's (?:go|move|turn))\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"^([A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)?),\s")
_SELF_INTRODUCTION = re.compile(r"\bI'm [A-Z]\w+")


def is_hosting(text: str) -> bool:
    """The show's hosting or a self-introduction ("Welcome to ...", "We'll go to Mr. Nater
    next.", "I'm Maya Okafor"): said to run the show, not about its subject."""
    said = clean(text)
    return bool(_HOSTING.match(said) or _SELF_INTRODUCTION.search(said))


def quotable(text: str) -> bool:
    """A line worth quoting: a whole statement (not begun mid-sentence, not a question, not a
    string of scraps) of at least five words, three different ones meaning something and
    fillers no more than they do, at most one "uh"; not the show's hosting ("Welcome to ...",
    "We'll go to Mr. Nater next."), a self-introduction, or words addressed to someone ("Tomás,
    you visited them in June.")."""
    said = clean(text)
    if not said or said[0].islower() or said.rstrip().endswith("?"):
        return False
    all_words = words(said)
    meaning = meaningful_words(said)
    if len(all_words) < _QUOTE_WORDS or len(set(meaning)) < _QUOTE_MEANING:
        return False
    if 5 * len(meaning) < 2 * len(all_words):
        return False
    pieces = split_sentences(said)  # choppy: "I guess so. Radio two. Hmm. Radio two"
    if sum(len(p.split()) < 3 or p.endswith("?") for p in pieces) >= 2:
        return False
    if sum(w in HESITATIONS for w in all_words) >= 2:  # "From uh canonical mappings um"
        return False
    address = _ADDRESS.match(said)  # "Tomás, you ...", not "Yes, NOAA ..."
    addressed = address is not None and address.group(1).casefold() not in FILLERS | STOPWORDS
    return not (addressed or is_hosting(said))
