"""A statement's opposite polarity, made by rule: "The team agreed on the price." -> "The team
did not agree on the price.", "It could not be heavy." -> "It could be heavy.".

The contrast claim judge (`ciagent.steps.contrast`) asks which of a claim and its negation the
evidence supports; the labelled claim set (`ciagent.evals.claimset`) makes contradicted claims
the same way. Only the first auxiliary ("is", "will", "can", "has ... -ed") or past-tense
verb with a subject before it is changed: enough for the plain sentences summaries are written in,
and None rather than a guess for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

__all__ = ["negate"]


def _table(pairs: str) -> dict[str, str]:
    return dict(pair.split(":") for pair in pairs.split())


_AUX = frozenset(_table("is: are: was: were: will: would: should: could: must: might: may: can:"))
_HAVE = _table("has:does have:do had:did")
_UNDONE = _table(
    "isn't:is aren't:are wasn't:was weren't:were won't:will can't:can cannot:can couldn't:could "
    "wouldn't:would shouldn't:should"
)
_ADVERBS = frozenset(_table("also: still: already: only: always: really: just: even:"))
_NOT_AFTER = frozenset(
    _table("the: a: an: of: to: be: been: being: by: and: or: but: who: which: that:")
)
_IRREGULAR = _table(
    "began:begin thought:think wrote:write got:get gave:give made:make took:take said:say "
    "felt:feel found:find told:tell brought:bring came:come went:go saw:see knew:know led:lead "
    "held:hold kept:keep met:meet spoke:speak chose:choose"
)
_VOWELS = "aeiou"
_PAST = {base: past for past, base in _IRREGULAR.items()} | {"have": "had"}
_DONE = _table("don't:do doesn't:does didn't:did")


def _base(word: str, vocabulary: AbstractSet[str], guess: bool) -> str | None:
    """The bare form of a past-tense verb, if it is one and the text uses that form (or, with
    `guess`, the likeliest spelling of it when the text does not)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) < 5 or not word.endswith("ed"):
        return None
    stem = word[:-2]
    if word.endswith(("ied", "eed")):
        options = [stem[:-1] + "y" if word.endswith("ied") else word[:-1]]
    else:
        double = stem[-1] == stem[-2] and stem[-1] not in "aeioudfslz"  # admitted, planned
        single = stem[-2] in _VOWELS and (len(stem) < 3 or stem[-3] not in _VOWELS)
        silent_e = stem[-1] in "cuv" or (stem[-1] not in _VOWELS + "wxy" and single)
        options = [stem[:-1]] if double else []
        options += [stem + "e", stem] if silent_e else [stem, stem + "e"]
    known = [option for option in options if {option, option + "s"} & vocabulary]
    if not known and (guess or stem + "ing" in vocabulary):
        known = options
    return known[0] if known else None


def _adverb(word: str) -> bool:
    return word in _ADVERBS or word[-2:] == "ly"


def _affirmed(aux: str, verb: str) -> str:
    """What "do/does/did not VERB" says without the negation: "want", "wants", "wanted"."""
    plain = verb.endswith("y") and verb[-2:-1] not in _VOWELS  # "try": "tries", "tried"
    if aux == "do":
        return verb
    if aux == "does":
        if verb == "have":
            return "has"
        if plain:
            return verb[:-1] + "ies"
        return verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "o", "z")) else "s")
    if verb in _PAST:
        return _PAST[verb]
    if plain:
        return verb[:-1] + "ied"
    return verb + ("d" if verb.endswith("e") else "ed")


def negate(sentence: str, vocabulary: AbstractSet[str], *, guess: bool = False) -> str | None:
    """The sentence with its first auxiliary or past-tense verb (one with a subject before it)
    negated, or an auxiliary's "not" taken away; None when it has neither. `vocabulary`: the
    words of the text it speaks of, to tell a past tense's bare form ("agreed" -> "agree"). With
    `guess`, forms the text never says are guessed: a "-ed" word's bare form, and the verb
    of "do/does/did not VERB" affirmed ("did not agree" -> "agreed")."""
    words = list(re.finditer(r"[A-Za-z']+", sentence))
    lower = [w.group(0).lower() for w in words] + ["", ""]
    for i, (m, word) in enumerate(zip(words, lower, strict=False)):
        at = i + 1 + (lower[i + 1] == "also")  # "were also not concerned"
        verb = next((w for w in lower[i + 1 :] if not _adverb(w)), "")
        if word in _UNDONE:
            return f"{sentence[: m.start()]}{_UNDONE[word]}{sentence[m.end() :]}"
        if m.group(0) == word and (word in _AUX or (word in _HAVE and verb[-2:] in ("ed", "en"))):
            if lower[at] == "not":
                return f"{sentence[: words[at].start()].rstrip()}{sentence[words[at].end() :]}"
            if word == "can":
                return f"{sentence[: m.end()]}not{sentence[m.end() :]}"
            end = words[at - 1].end()
            return f"{sentence[:end]} not{sentence[end:]}"
        if i == 0 or lower[i - 1] in _NOT_AFTER:
            continue
        if guess and (word in _DONE or (word in ("do", "does", "did") and lower[i + 1] == "not")):
            aux, after = (_DONE[word], i + 1) if word in _DONE else (word, i + 2)
            found = next((w for w in words[after:] if not _adverb(w.group(0).lower())), None)
            if found is not None and found.group(0).isalpha() and found.group(0).islower():
                kept = sentence[words[after].start() : found.start()]  # "really"
                said = f"{kept}{_affirmed(aux, found.group(0))}"
                return f"{sentence[: m.start()]}{said}{sentence[found.end() :]}"
        if word in ("do", "does", "did") or word.endswith("n't"):
            return None
        base = "have" if word in _HAVE else _base(word, vocabulary, guess)
        if base is not None:
            negated = f"{_HAVE.get(word, 'did')} not {base}"
            return f"{sentence[: m.start()]}{negated}{sentence[m.end() :]}"
    return None
