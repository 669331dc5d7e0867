"""Entities a person would ship: rules with no model call, applied once the model's entities and
the NLP pipeline's are joined (`ciagent.steps.names`).

- **Names, not phrases.** In a transcript that uses capitals, an entity none of whose mentions is
  written as a name ("tagging", "environmental DNA", "we will sell it at twenty five Euros") is a
  phrase the model took for one, and is dropped; so is an amount ("Twenty five Euros").
- **One entity, one name.** "The Devil's Teeth by Susan Casey" is a work and a person; an acronym
  is the entity it abbreviates when exactly one entity's initials spell it ("NOAA": the National
  Oceanic and Atmospheric Administration, kept as an alias); a one-word name is the one person
  whose first or last name it is ("Bethan" typed a place, beside the person Bethan Owen), also
  when that person is only known as a voice of the transcript ("Bethan Owen AM"); a one-word
  name is a group of places it begins ("Farallones": the Farallon Islands).
- **Types a reader expects**: `ciagent.steps.entity_types`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ciagent.steps.entity_types import HONORIFIC, entity_type, roster
from ciagent.steps.merge import entity_key
from ciagent.steps.names import SENTENCE_END, merged_mentions, mid_sentence, uses_capitals
from ciagent.types import Entity, EntityType, Mention, Transcript
from ciagent.vocabulary import CONNECTORS, is_amount, is_role, listed

__all__ = ["tidy_entities"]

_BY = re.compile(r"^(?P<work>.+?)\s+by\s+(?P<who>[A-Z][\w'.\u2019-]*(?:\s+[A-Z][\w'.\u2019-]*)+)$")
_ACRONYM = re.compile(r"^[A-Z]{2,7}$")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_LOWER_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=\S)")
_CALENDAR = frozenset(
    listed(
        """
        january february march april may june july august september october november december
        monday tuesday wednesday thursday friday saturday sunday
        """
    )
)
_GROUP_HEADS = frozenset(listed("islands isles keys mountains hills lakes"))
_WORD_BEFORE = re.compile(r"(?P<word>[\w\u00C0-\u024F-]+)\s$")


def _written_as_name(text: str) -> bool:
    """Every word capitalised (or a digit) but the connectors inside a name ("Bank of
    England"); no comma (a list), no connector last ("Lampeter and")."""
    text = _POSSESSIVE.sub("", _ARTICLE.sub("", text.strip(" .;:!?\"'"))).strip()
    words = text.split()
    if not words or "," in text or words[-1].casefold() in CONNECTORS - {"'s"}:
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.casefold() in CONNECTORS for w in words)


def _said_name(entity: Entity, transcript: Transcript) -> str | None:
    """The entity's name when a mention writes it as a name (a one-word name inside a sentence,
    where a capital marks a name), or when no mention holds it and it is written as one (the
    model's spelling); else an alias some mention writes as a name; as said there, without a
    lower-case article ("the Farallon Islands" -> "Farallon Islands"); else None.
    A name the model wrote in lower case is no name ("university")."""
    if not entity.mentions:
        return entity.name  # unverified, kept flagged: nothing said to judge by
    if entity.name == entity.name.casefold():
        return None
    for form in (entity.name, *entity.aliases):
        said = [
            (m, m.text[at : at + len(form)])
            for m in entity.mentions
            if (at := m.text.casefold().find(form.casefold())) >= 0
        ]
        if form == entity.name and not said and _written_as_name(form):
            return form
        for mention, text in said:
            if _written_as_name(text) and (
                " " in form.strip()
                or mid_sentence(transcript, mention.segment_ids[0], mention.char_start)
            ):
                return _LOWER_ARTICLE.sub("", text) or text  # as said: not "SemARNAT"
    return None


def _named(entity: Entity, transcript: Transcript) -> Entity | None:
    """The entity under a name said as one, its honorific moved to its aliases ("Mr. Bruce
    Stanton" -> "Bruce Stanton"); None when it is never said as a name."""
    name = _said_name(entity, transcript)
    if name is None:
        return None
    bare = HONORIFIC.sub("", name).strip()
    if len(bare.split()) >= 2:
        name = bare
    if name == entity.name:
        return entity
    aliases = sorted({*entity.aliases, entity.name} - {name}, key=str.casefold)
    return entity.model_copy(update={"name": name, "aliases": aliases})


def _merged(target: Entity, other: Entity) -> Entity:
    aliases = {*target.aliases, *other.aliases, other.name} - {target.name}
    grounded = "grounded" in (target.verification, other.verification)
    return target.model_copy(
        update={
            "aliases": sorted(aliases, key=str.casefold),
            "mentions": merged_mentions(target.mentions, other.mentions),
            "verification": "grounded" if grounded else target.verification,
        }
    )


def _slice(mention: Mention, part: str) -> Mention | None:
    """The mention narrowed to `part` of its text, when the text holds it."""
    at = mention.text.find(part)
    if at < 0 or len(mention.segment_ids) != 1:
        return None
    start = mention.char_start + at
    return mention.model_copy(
        update={"text": part, "char_start": start, "char_end": start + len(part)}
    )


def _split_by(entity: Entity) -> list[Entity]:
    """ "The Devil's Teeth by Susan Casey" -> the work and its author, each where it is said."""
    found = _BY.match(entity.name)
    if found is None:
        return [entity]
    work = found.group("work")
    parts: list[Entity] = []
    for name, kind in ((work, EntityType.WORK), (found.group("who"), EntityType.PERSON)):
        mentions = [m for m in (_slice(m, name) for m in entity.mentions) if m is not None]
        if mentions or not entity.mentions:
            update = {"name": name, "type": kind, "aliases": [], "mentions": mentions}
            parts.append(entity.model_copy(update=update))
    return parts or [entity]


def _initials(name: str) -> set[str]:
    words = [w for w in re.split(r"[\s-]+", name) if w]
    every = "".join(w[0] for w in words if w[0].isalpha()).upper()
    named = "".join(w[0] for w in words if w.casefold() not in CONNECTORS and w[0].isalpha())
    return {every, named.upper()}


def _extended(entity: Entity, transcript: Transcript) -> Entity:
    """The name with the capitalised word said before it at every mention, inside a sentence
    ("Emily" before "Warren Roebling", a capital "The" before "Barn"): a name the pipeline cut."""
    if not entity.mentions or any(len(m.segment_ids) != 1 for m in entity.mentions):
        return entity
    before = set()
    for mention in entity.mentions:
        text = transcript.segments[mention.segment_ids[0]].text[: mention.char_start]
        found = _WORD_BEFORE.search(text)
        if found is None or SENTENCE_END.search(text[: found.start()] or "."):
            return entity
        before.add(found.group("word"))
    word = before.pop() if len(before) == 1 else ""
    if not word or HONORIFIC.match(word) or word.casefold() in CONNECTORS - {"the"}:
        return entity
    if word.casefold() in _CALENDAR or not any(c.isalpha() for c in entity.name):
        return entity
    if is_role(word) or not ((word[0].isupper() and word[1:].islower()) or word == "The"):
        return entity
    if entity.type is EntityType.WORK and word != "The":  # "The Devil's Teeth", not "Read Jaws"
        return entity
    name = f"{word} {entity.name}"
    mentions = [
        m.model_copy(
            update={"text": f"{word} {m.text}", "char_start": m.char_start - len(word) - 1}
        )
        for m in entity.mentions
    ]
    aliases = sorted({*entity.aliases, entity.name}, key=str.casefold)
    return entity.model_copy(update={"name": name, "aliases": aliases, "mentions": mentions})


def _part_of(short: Entity, entities: Sequence[Entity]) -> Entity | None:
    """The one longer entity, not a person, whose name begins or ends with this person-typed
    name ("Counter Culture" in "Counter Culture Coffee"): the pipeline took part of a name for
    a person."""
    if short.type is not EntityType.PERSON:
        return None
    words = entity_key(short.name).split()
    owners = [
        e
        for e in entities
        if e.type is not EntityType.PERSON
        and len(longer := entity_key(e.name).split()) > len(words)
        and words in (longer[: len(words)], longer[-len(words) :])
    ]
    return owners[0] if len(owners) == 1 else None


def _ends(name: str) -> tuple[str, str]:
    words = entity_key(name).split()
    return words[0], words[-1]


def _owners(entity: Entity, kept: Sequence[Entity]) -> list[Entity]:
    """What a one-word name stands for: the entities an acronym abbreviates, the people whose
    first or last name it is, or a group of places it begins."""
    name = entity.name.strip()
    if _ACRONYM.match(name):
        return [e for e in kept if " " in e.name.strip() and name in _initials(e.name)]
    key = entity_key(name)
    return [
        e
        for e in kept
        if (e.type is EntityType.PERSON and " " in entity_key(e.name) and key in _ends(e.name))
        or _group_named(key, e)
    ]


def _group_named(key: str, entity: Entity) -> bool:
    """Whether a one-word name is what a group of places is called for short: "Farallones" for
    the Farallon Islands, "Galapagos" for the Galapagos Islands."""
    words = entity_key(entity.name).split()
    return (
        entity.type is EntityType.PLACE
        and len(words) == 2
        and words[1] in _GROUP_HEADS
        and len(words[0]) >= 4
        and key != words[0] + " " + words[1]
        and key.startswith(words[0])
    )


def _fold(entities: list[Entity], people: dict[str, str]) -> list[Entity]:
    """Parts of names into the names, then acronyms into what they abbreviate and one-word
    names into the one person they name (the transcript's voices included)."""
    kept = list(entities)
    for at in range(len(kept) - 1, -1, -1):
        owner = _part_of(kept[at], kept) if " " in kept[at].name.strip() else None
        if owner is not None:
            kept[kept.index(owner)] = _merged(owner, kept.pop(at))
    for at in range(len(kept) - 1, -1, -1):
        entity = kept[at]
        if " " in entity.name.strip():
            continue
        owners = _owners(entity, kept)
        if len(owners) == 1:
            kept[kept.index(owners[0])] = _merged(owners[0], kept.pop(at))
            continue
        known = [full for full in people.values() if entity_key(entity.name) in _ends(full)]
        if not owners and len(known) == 1 and not _ACRONYM.match(entity.name.strip()):
            renamed = entity.model_copy(
                update={"name": known[0], "type": EntityType.PERSON, "aliases": []}
            )
            kept[at] = _merged(renamed, entity)
    return kept


def tidy_entities(
    entities: Sequence[Entity], transcript: Transcript, speakers: Iterable[str] = ()
) -> list[Entity]:
    """The entities as a person would list them (see the module's rules), in the same order."""
    cased = uses_capitals(transcript)
    people = roster(speakers)
    split = [part for entity in entities for part in _split_by(entity)]
    split = [_extended(e, transcript) for e in split]
    named = [
        e
        for e in (e if not cased else _named(e, transcript) for e in split)
        if e is not None and not is_amount(e.name)
    ]
    places = {entity_key(e.name) for e in named if e.type is EntityType.PLACE}
    typed = [
        e.model_copy(update={"type": entity_type(e, transcript, people, places)}) for e in named
    ]
    joined: dict[str, Entity] = {}
    for entity in typed:  # the split may name one already listed ("Susan Casey")
        key = entity_key(entity.name)
        joined[key] = _merged(joined[key], entity) if key in joined else entity
    return _fold(list(joined.values()), people)
