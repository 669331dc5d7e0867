"""What kind of thing a name is, with no model call: the transcript's words beside it, then an
honorific, a digit or its head noun; and which voices of a transcript are people.

- A voice of the transcript is a person ("Hon. Bill Blair (Minister of Public Safety)" -> "Bill
  Blair", "Bethan Owen AM" -> "Bethan Owen"); so is a name after an honorific ("Mr.", "Hon.").
- The words beside a name say what it is where the transcript has them: "Iron and Stone, a
  history podcast" (a work), "a rust-resistant variety called Castillo" (a product), "his son,
  Washington Roebling" (a person), "Cold Spring, New York" (a place), "the movie Jaws" (a
  work), "the paper came out in Nature" (a work: where a paper appears is a publication).
- A person's name has no digit ("COVID-19"); a name whose head noun says what it is ("...
  Aquarium", "... Foundation", "... Bridge") is an organization or a place.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ciagent.steps.merge import entity_key
from ciagent.textnorm import normalize_key
from ciagent.types import Entity, EntityType, Transcript
from ciagent.vocabulary import is_role, is_speaker_label, listed

__all__ = ["HONORIFIC", "entity_type", "roster"]

HONORIFIC = re.compile(
    r"^(?:(?:hon|mr|mrs|ms|miss|mx|dr|sir|dame|lady|lord|prof|professor|rev)\.?\s*)+",
    re.IGNORECASE,
)
_POSTNOMINAL = frozenset(listed("am ms mp mla mep mpp msp td phd md jr sr qc kc"))
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")
_ORGANIZATION_HEADS = frozenset(
    listed(
        """
        institute institution university college school academy foundation association council
        agency administration board bank committee party society museum aquarium laboratory lab
        company corporation corp inc ltd llc group media federation union ministry department
        service commission network press records studio studios trust fund club league
        """
    )
)
_PLACE_HEADS = frozenset(
    listed(
        """
        island islands bay river lake mountain mountains street avenue road park valley ocean sea
        gulf coast county city canyon bridge heights gorge peninsula desert forest harbor harbour
        strait sound beach falls
        """
    )
)

_CUES: dict[EntityType, frozenset[str]] = {
    EntityType.WORK: frozenset(
        listed(
            """
            podcast show book novel memoir film movie documentary album series song paper
            journal magazine newsletter article report play poem
            """
        )
    ),
    EntityType.PRODUCT: frozenset(
        listed(
            """
            vessel ship boat vehicle robot device app software tool camera drug vaccine variety
            breed strain model phone car aircraft satellite
            """
        )
    ),
    EntityType.ORGANIZATION: frozenset(
        listed(
            """
            company firm lab laboratory institute nonprofit cooperative co-op charity foundation
            startup center centre agency organization organisation federation university
            roaster roastery brewery restaurant bakery shop store label publisher band team
            """
        )
    ),
    EntityType.PLACE: frozenset(
        listed("island town city village river bay lake region county province country")
    ),
    EntityType.EVENT: frozenset(
        listed("heatwave storm hurricane war battle festival conference election pandemic")
    ),
    EntityType.PERSON: frozenset(
        listed(
            """
            son daughter wife husband father mother brother sister uncle aunt cousin friend
            colleague guest host author writer founder engineer scientist
            """
        )
    ),
}
"""Nouns that say what a name is when the transcript puts them beside it: "a research vessel
called the Western Flyer", "Iron and Stone, a history podcast", "his son, Washington Roebling"."""

# "a research vessel called the ": the verb at the end first (one pass), then the words before it.
_CALLED = re.compile(
    r"(?<=\s)(?:is\s+|was\s+)?(?:called|named|titled|dubbed|known\s+as)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_WORDS_BEFORE = re.compile(r"(?:[\w'-]+\s+){1,4}$")
# A description in lower case after a comma: "Iron and Stone, a history podcast about ...".
_APPOSED = re.compile(
    r"^['\u2019]?s?\s*,\s+(?i:a|an|the|our|my|his|her|their|its)\s+(?:[a-z][\w'-]*\s+){0,3}"
    r"(?P<after>[a-z][\w'-]*)(?=\s*(?:[,.;:!?]|$)|\s+(?:of|about|that|who|which|where|in|on|for"
    r"|from|based|with|and|run|founded|called)\b)"
)
_NAMED_BY = re.compile(r"(?:^|\s)(?:his|her|their|my|our|the)\s+(?P<noun>[\w'-]+)\s*,\s*$", re.I)
# A noun just before the name: "the movie Jaws", "the journal Nature", "the robot Tethys".
_PRECEDED = re.compile(r"\b(?:the|a|an|his|her|their|its|our|my)\s+(?P<noun>[a-z][\w'-]*)\s+$")
# Where a paper or an article appears: "The paper came out in Nature", "published in Science".
_PUBLISHED_IN = re.compile(r"\b(?:published|came\s+out|appeared|printed)\s+in\s+$", re.I)
_THEN_PLACE = re.compile(r"^\s*,\s+(?P<place>[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*)")


def _cue(words: list[str]) -> EntityType | None:
    for word in words:
        for kind, nouns in _CUES.items():
            if word.casefold() in nouns:
                return kind
    return None


def _called_by(before: str) -> str | None:
    """The one to four words before "called" (or "named", ...) that end `before`."""
    verb = _CALLED.search(before)
    if verb is None:
        return None
    words = _WORDS_BEFORE.search(before, max(0, verb.start() - 200), verb.start())
    return words.group(0) if words else None


def _cued(entity: Entity, transcript: Transcript, places: set[str]) -> EntityType | None:
    """The type the transcript's words beside the entity give it, the most given."""
    votes: Counter[EntityType] = Counter()
    for mention in entity.mentions:
        if len(mention.segment_ids) != 1:
            continue
        text = transcript.segments[mention.segment_ids[0]].text
        before, after = text[: mention.char_start], text[mention.char_end :]
        kind: EntityType | None = None
        if called := _called_by(before):
            kind = _cue(list(reversed(called.split()))[:3])
        if kind is None and (preceded := _PRECEDED.search(before)):
            kind = _cue([preceded.group("noun")])
        if kind is None and _PUBLISHED_IN.search(before):
            kind = EntityType.WORK
        if kind is None and (apposed := _APPOSED.match(after)):
            kind = _cue(apposed.group("after").split())  # "X, the sister of Y" is about Y
            kind = None if kind is EntityType.PERSON else kind
        if kind is None and (named := _NAMED_BY.search(before)):
            kind = _cue([named.group("noun")])
            kind = kind if kind is EntityType.PERSON else None
        if kind is None and (then := _THEN_PLACE.match(after)):
            kind = EntityType.PLACE if entity_key(then.group("place")) in places else None
        if kind is not None:
            votes[kind] += 1
    return votes.most_common(1)[0][0] if votes else None


def roster(speakers: Iterable[str]) -> dict[str, str]:
    """The transcript's voices that are people's names, by entity key: "Hon. Bill Blair
    (Minister of Public Safety)" -> "Bill Blair", "Bethan Owen AM" -> "Bethan Owen"; labels
    ("PhD B", "Speaker 2") and roles are not names."""
    people: dict[str, str] = {}
    for label in speakers:
        name = HONORIFIC.sub("", _PARENTHESIS.sub("", label).strip())
        words = name.split()
        while words and words[-1].casefold().strip(".") in _POSTNOMINAL:
            words.pop()
        if len(words) < 2 or not all(w[:1].isupper() for w in words):
            continue
        name = " ".join(words)
        if is_role(name) or is_speaker_label(name):
            continue
        people.setdefault(entity_key(name), name)
    return people


def entity_type(
    entity: Entity, transcript: Transcript, people: dict[str, str], places: set[str]
) -> EntityType:
    """The entity's type by the rules of the module (`people`: `roster`; `places`: the keys of
    the entities typed as places, for "Cold Spring, New York")."""
    name = entity.name
    key = entity_key(name)
    if key in people or any(
        HONORIFIC.match(n) and len(n.split()) > 1 for n in (name, *entity.aliases)
    ):
        return EntityType.PERSON
    cued = _cued(entity, transcript, places)
    if cued is not None:
        return cued
    if entity.type is EntityType.PERSON and any(c.isdigit() for c in name):
        return EntityType.OTHER
    head = normalize_key(name).rsplit(" ", 1)[-1] if " " in name.strip() else ""
    if head in _ORGANIZATION_HEADS and entity.type is not EntityType.WORK:
        return EntityType.ORGANIZATION
    if head in _PLACE_HEADS and entity.type in (EntityType.ORGANIZATION, EntityType.PERSON):
        return EntityType.PLACE
    return entity.type
