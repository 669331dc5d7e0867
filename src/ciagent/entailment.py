"""Checks of a claim against the transcript that need no model: what a judge of any size gets
wrong most and what words can settle.

- **Not found.** A claim most of whose content words (by stem) the episode never says speaks of
  something else: fewer than `SAID` of them said anywhere in the transcript. Words that tell of
  the telling ("the hosts discuss", "the episode highlights") are not counted.
- **A number changed.** A claim giving a number that its evidence lines never say, where they
  say other numbers ("from six to nine" against "from six to eight"), is contradicted. Digits
  and number words are compared as values (not "one", nor ordinals: too often not a count).
- **A negation added or dropped.** A claim that says nearly the same words as one evidence
  sentence (at least `ALIGNED` of its content stems) with the opposite polarity ("did not
  agree" against "agreed") is contradicted.
- **Someone else holds that role.** A claim that a named person is a role ("Maya Okafor is a
  marine ecologist") where an evidence line gives that role to another by name ("Dr. Sarah
  Chen, a marine ecologist") and none to the one named is contradicted: small models often
  give the host the guest's introduction.
- **Someone else said it.** A claim that credits one of the episode's voices ("PhD B thought
  that...", "Hefin David asked...") where every evidence line carrying its words (at least
  `CARRIED` of its stems besides the name) is spoken by another voice and none of them names the
  one credited is contradicted: small models often put a line in the wrong mouth.

Anything else is left to a judge. Measured on the labelled claim set of the QMSum meetings
(`tools/judge_eval.py`, docs/evals.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ciagent.textnorm import split_sentences
from ciagent.vocabulary import STOPWORDS, listed, stems, words

__all__ = [
    "ALIGNED",
    "CARRIED",
    "SAID",
    "Finding",
    "check",
    "credited_elsewhere",
    "numbers",
    "polarity",
    "role_corrected",
    "role_elsewhere",
    "said_stems",
]

SAID = 0.6
ALIGNED = 0.7
CARRIED = 3
_TITLE = re.compile(r"^(?:Right Hon\.|Hon\.|Mrs?\.|Ms\.|Dr\.?|Prof\.?|The)\s+|\s+AM$")

# How a summary speaks of an episode, not what the episode says.
_TELLING = frozenset(
    {
        w[:5]
        for w in listed(
            "podcast episode show meeting conversation interview discussion discuss discusses "
            "discussed talk talks talked speaker speakers host hosts guest guests participants "
            "team group mention mentions mentioned explain explains explained describe "
            "describes described highlight highlights highlighted importance important "
            "share shares shared overall also topic topics point points express expressed "
            "suggest suggested agree agreed thought believe believed noted"
        )
    }
)
_UNITS = listed(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = listed("twenty thirty forty fifty sixty seventy eighty ninety")
_WORD_VALUES = {
    **{w: n for n, w in enumerate(_UNITS)},
    **{w: 10 * (n + 2) for n, w in enumerate(_TENS)},
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "dozen": 12,
}
del _WORD_VALUES["one"]  # far more often a pronoun ("one of them") than a count
_QUALIFIED = re.compile(r"\b(?:not\s+(?:just|only|merely|simply)|no\s+longer)\b", re.I)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = frozenset(
    listed(
        "not no never nothing nobody none neither nor cannot without n't isn't aren't wasn't "
        "weren't don't doesn't didn't won't wouldn't can't couldn't shouldn't hasn't haven't "
        "hadn't"
    )
)


@dataclass(frozen=True)
class Finding:
    """What the checks settled: a verdict, the evidence line (by position) it rests on, why."""

    verdict: Literal["contradicted", "not_found"]
    line: int | None
    reason: str


def said_stems(texts: Iterable[str]) -> frozenset[str]:
    """The content stems a transcript says (its segments' texts): what `check` compares with."""
    return frozenset().union(*(stems(text) for text in texts))


def numbers(text: str) -> set[float]:
    """The values of the numbers a text says, as digits or as words."""
    found = {float(n.replace(",", "")) for n in _DIGITS.findall(text)}
    found |= {float(_WORD_VALUES[w]) for w in words(text) if w in _WORD_VALUES}
    return found


def polarity(text: str) -> bool:
    """False when the text is negated (an odd number of negations), else True. "Not just",
    "not only" and "no longer" contrast or qualify; they do not negate."""
    said = words(_QUALIFIED.sub(" ", text))
    count = sum(1 for w in said if w in _NEGATION or w.endswith("n't"))
    return count % 2 == 0


def _aligned(claim: set[str], lines: Sequence[str]) -> tuple[int, str] | None:
    """The evidence sentence saying most of the claim's stems, when it says at least
    `ALIGNED` of them: (its line, the sentence)."""
    best: tuple[float, int, str] | None = None
    for number, line in enumerate(lines):
        for sentence in split_sentences(line) or [line]:
            share = len(claim & stems(sentence)) / len(claim)
            if share >= ALIGNED and (best is None or share > best[0]):
                best = (share, number, sentence)
    return None if best is None else (best[1], best[2])


def _names(voice: str) -> set[str]:
    """How a summary names a voice: its label without titles or a bracketed riding ("Hon. Marie
    Smith (Compton, Lib.)" -> "Marie Smith"), and the surname of a full name."""
    name = _TITLE.sub("", voice.partition("(")[0].strip()).strip()
    parts = name.split()
    names = {name} if name else set()
    if len(parts) > 1 and len(parts[-1]) > 2 and not any(c.isdigit() for c in name):
        names.add(parts[-1])
    return names


def _says(text: str, names: Iterable[str]) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)


def credited_elsewhere(
    claim: str, lines: Sequence[str], speakers: Sequence[str | None], voices: Iterable[str]
) -> Finding | None:
    """The claim credits one of `voices` with what the evidence `lines` (spoken by `speakers`)
    have only others say, none of them naming the one credited (see the module)."""
    named = [(voice, _names(voice)) for voice in voices]
    credited = [(voice, names) for voice, names in named if names and _says(claim, names)]
    if len(credited) != 1:
        return None
    voice, names = credited[0]
    rest = stems(claim) - set().union(*(stems(n) for n in names)) - _TELLING
    carrying = [i for i, line in enumerate(lines) if len(stems(line) & rest) >= CARRIED]
    if not carrying or any(speakers[i] == voice or _says(lines[i], names) for i in carrying):
        return None
    return Finding("contradicted", carrying[0], "the evidence has someone else say it")


_PROPER = r"[A-Z][\w'.-]*(?:\s+(?:[A-Z][\w'.-]*|de|van|von|da))*"
_ROLE_CLAIM = re.compile(
    rf"^(?P<name>{_PROPER})(?:,|,?\s+(?:is|was|works\s+as))\s+(?:a|an|the)\s+"
    r"(?P<role>[a-z][a-z-]*(?:\s+[a-z][a-z-]*)*)"
)


def _role(words_after: str) -> str:
    """The role's words up to the first function word: "marine ecologist at MBARI" -> "marine
    ecologist"."""
    kept: list[str] = []
    for word in words_after.split():
        if word in STOPWORDS:
            break
        kept.append(word)
    return " ".join(kept)


def _role_holder(claim: str, lines: Sequence[str]) -> tuple[str, int, str] | None:
    """(the name the claim gives a role, the evidence line that gives it to another, that
    other's name), or None."""
    found = _ROLE_CLAIM.match(claim)
    if found is None:
        return None
    role = _role(found.group("role"))
    names = _names(found.group("name"))
    if not role or not names or not any(" " in n for n in names):
        return None
    holder = re.compile(
        rf"(?P<who>{_PROPER}),?\s+(?:is\s+|was\s+)?(?:a|an|the|our|my)\s+{re.escape(role)}\b"
    )
    for number, line in enumerate(lines):
        for given in holder.finditer(line):
            if _says(given.group("who"), names):
                return None
            if _names(given.group("who")) - names:
                return found.group("name"), number, given.group("who")
    return None


def role_elsewhere(claim: str, lines: Sequence[str]) -> Finding | None:
    """The claim says a named person is a role ("Maya Okafor is a marine ecologist", "Maya
    Okafor, a marine ecologist, ...") that the evidence gives to someone else by name ("my
    guest, Dr. Sarah Chen, a marine ecologist") and never to the one named."""
    held = _role_holder(claim, lines)
    if held is None:
        return None
    return Finding("contradicted", held[1], "the evidence gives that role to another")


def role_corrected(claim: str, lines: Sequence[str]) -> str | None:
    """The claim with the role given to the one the evidence gives it ("Maya Okafor is a marine
    ecologist ..." -> "Sarah Chen is a marine ecologist ..."), or None when `role_elsewhere`
    does not hold. Only the name is corrected: the rest of the sentence stays unchecked."""
    held = _role_holder(claim, lines)
    if held is None:
        return None
    named, _line, holder = held
    name = _TITLE.sub("", holder.strip()).strip()
    return name + claim[len(named) :] if name else None


def check(
    claim: str,
    lines: Sequence[str],
    said: frozenset[str],
    speakers: Sequence[str | None] = (),
    voices: Iterable[str] = (),
) -> Finding | None:
    """The verdict the words settle for `claim` against its evidence `lines` (spoken by
    `speakers`, when known) and what the transcript says (`said_stems`; its `voices`), or None: a
    judge must rule."""
    claimed_stems = stems(claim)
    content = claimed_stems - _TELLING
    if not content:
        return None
    if len(content & said) < SAID * len(content):
        return Finding("not_found", None, "most of its words are never said")
    claimed = numbers(claim)
    if claimed:
        evidenced = numbers(" ".join(lines))
        if evidenced and not claimed <= evidenced:
            return Finding("contradicted", None, "it gives a number the evidence does not")
    aligned = _aligned(claimed_stems, lines)
    if aligned is not None and polarity(aligned[1]) != polarity(claim):
        return Finding("contradicted", aligned[0], "the evidence says the opposite")
    given = role_elsewhere(claim, lines)
    if given is not None:
        return given
    if len(speakers) == len(lines):
        return credited_elsewhere(claim, lines, speakers, voices)
    return None
