"""Names step: the transcript read by the NLP pipeline (`ciagent.nlp`), from the episode's start
and beside the model calls (`read_ahead`), and the entities it finds joined with the model's.

The pipeline's names are grounded spans from the start. An entity the model named and the
pipeline found becomes one entity with every mention of both; the pipeline's type wins for people,
organizations, places and events (OntoNotes-trained, it types these better than a small model),
the model's for works and products. A name only the pipeline found is still an entity, marked
`produced_by` the pipeline, up to `max_recognized_entities` (the most said first). Dates, times,
numbers, money, nationalities and languages are not entities; neither is a role, a filler or a
speaker label (`ciagent.vocabulary`), nor, in a transcript that uses capitals, a span without one.
A one-word name folds into the one longer name of its type that starts or ends with it ("Sarah"
into "Sarah Chen", "Baja" into "Baja California").
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field

from ciagent import nlp, nlp_pool, telemetry
from ciagent.errors import ModelAssetError
from ciagent.nlp import Phrase, TextAnalysis
from ciagent.offload import off_loop
from ciagent.settings import Settings
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.steps.merge import entity_key
from ciagent.textnorm import normalize_key
from ciagent.types import Entity, EntityType, Mention, Transcript
from ciagent.vocabulary import CONNECTORS, FILLERS, UNITS, not_metadata

__all__ = [
    "LABEL_TYPES",
    "PRODUCER",
    "SENTENCE_END",
    "merged_mentions",
    "mid_sentence",
    "names",
    "read_ahead",
    "recognized_entities",
    "uses_capitals",
    "with_recognized",
]

LABEL_TYPES = {
    "PERSON": EntityType.PERSON,
    "ORG": EntityType.ORGANIZATION,
    "GPE": EntityType.PLACE,
    "LOC": EntityType.PLACE,
    "FAC": EntityType.PLACE,
    "WORK_OF_ART": EntityType.WORK,
    "PRODUCT": EntityType.PRODUCT,
    "EVENT": EntityType.EVENT,
}
"""OntoNotes labels that are entities; the rest (DATE, TIME, CARDINAL, MONEY, NORP, ...) are not."""

_TRUSTED = frozenset(
    {EntityType.PERSON, EntityType.ORGANIZATION, EntityType.PLACE, EntityType.EVENT}
)
_ARTICLE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s?$")
PRODUCER = f"spacy/{nlp.PIPELINE}"


def read_ahead(transcript: Transcript, ctx: RunContext) -> None:
    """Begin the pipeline's reading of `transcript` now, as the episode starts (the chunk step,
    once the episode is admitted under a run cap): it runs beside the notes, summary and
    verification, and the names step, placed after them, collects it.
    (A step in the graph holds every step after it until it ends: langgraph runs the graph in
    rounds. Read in the names step's place, four episodes' readings held their summaries back.)
    Nothing is begun when the pipeline is off."""
    if ctx.names_read is None and nlp.in_use(ctx.settings.ner):
        ctx.names_read = asyncio.ensure_future(_read(transcript, ctx.settings))


async def _read(transcript: Transcript, settings: Settings) -> TextAnalysis | None:
    with telemetry.work("names", "read"):
        try:
            if settings.nlp_processes:
                return await nlp_pool.pool(settings.nlp_processes).analyze(transcript)
            return await off_loop(nlp.analyze, transcript)
        except ModelAssetError:
            if settings.ner == "on":
                raise
            return None


async def names(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    """The pipeline's reading of the transcript (`read_ahead`), in an NLP process
    (`settings.nlp_processes`) or the worker thread; None when it is off or, under
    `ner = "auto"`, not installed."""
    read_ahead(state["transcript"], ctx)
    if ctx.names_read is None:
        return {"analysis": None}
    return {"analysis": await ctx.names_read}


def _canonical(phrase: Phrase) -> str:
    text = _POSSESSIVE.sub("", phrase.text.strip()).strip()
    if phrase.label != "WORK_OF_ART":
        text = _ARTICLE.sub("", text)
    return text


def _mention(transcript: Transcript, phrase: Phrase, text: str) -> Mention:
    """`text` is `phrase.text` less an article or a possessive: a slice of the same span."""
    segment = transcript.segments[phrase.segment_id]
    start = phrase.start + max(0, phrase.text.find(text))
    return Mention(
        segment_ids=[segment.id],
        start=segment.start,
        end=segment.end,
        text=segment.text[start : start + len(text)],
        char_start=start,
        char_end=start + len(text),
    )


@dataclass
class _Found:
    names: Counter[str] = field(default_factory=Counter)
    types: Counter[EntityType] = field(default_factory=Counter)
    mentions: list[Mention] = field(default_factory=list)
    inside: bool = False  # said inside a sentence at least once

    @property
    def type(self) -> EntityType:
        return self.types.most_common(1)[0][0]

    def absorb(self, other: _Found) -> None:
        self.names.update(other.names)
        self.types.update(other.types)
        self.mentions.extend(other.mentions)
        self.inside = self.inside or other.inside


def _fold_short_names(groups: dict[str, _Found]) -> None:
    for key in [k for k in groups if " " not in k]:
        kind = groups[key].type
        owners = [
            k
            for k, g in groups.items()
            if " " in k and g.type == kind and key in (k.split(" ")[0], k.rsplit(" ", 1)[1])
        ]
        if len(owners) == 1:
            groups[owners[0]].absorb(groups.pop(key))


SENTENCE_END = re.compile(r"[.!?:]\s*$")


def _name_like(text: str, cased: bool) -> bool:
    """A span that can be a name: within one stretch of text (no run of spaces where a blanked
    marker was), no word twice ("Christa Christa"), no filler word ("Mm mm-mm", "ho Right"), not
    a unit of money; in a cased transcript every word capitalised but the connectors."""
    if "  " in text or "\n" in text:
        return False
    words = text.split()
    folded = [w.casefold() for w in words]
    if len(set(folded)) < len(folded) or any(w in FILLERS for w in folded):
        return False
    if len(words) == 1 and folded[0] in UNITS:
        return False
    return not cased or all(w[0].isupper() or w[0].isdigit() or w in CONNECTORS for w in words)


# A speaker breaking off and starting again: "what are we going to do now is {disfmarker} Next
# meeting is in half an hour", "so the -- Next thing".
_RESTART = re.compile(r"(?:\{disfmarker\}|--|\u2014|\u2026|\.\.\.)\s*$")


def mid_sentence(transcript: Transcript, segment_id: int, offset: int) -> bool:
    """Whether what is said at `offset` of a segment's text is inside a sentence, where a
    capital marks a name, not at the start of one (nor where the speaker starts again)."""
    before = transcript.segments[segment_id].text[:offset]
    return bool(before.strip()) and not SENTENCE_END.search(before) and not _RESTART.search(before)


def uses_capitals(transcript: Transcript) -> bool:
    """Whether the transcript writes names with capitals (not an all-lower-case ASR output)."""
    text = "".join(s.text for s in transcript.segments[:200])
    return sum(map(str.isupper, text)) > 0.005 * max(1, sum(map(str.isalpha, text)))


def recognized_entities(
    transcript: Transcript, analysis: TextAnalysis, untrusted: frozenset[int] = frozenset()
) -> dict[str, _Found]:
    """The pipeline's names grouped by entity key, with their mentions, in order of first use;
    none from `untrusted` segments (lines withheld from the model are withheld here too)."""
    speakers = transcript.speakers
    cased = uses_capitals(transcript)
    groups: dict[str, _Found] = {}
    for phrase in analysis.names:
        if phrase.segment_id in untrusted:
            continue
        kind = LABEL_TYPES.get(phrase.label)
        text = _canonical(phrase)
        if kind is None or len(text) < 2 or not any(c.isalpha() for c in text):
            continue
        if (cased and not any(c.isupper() for c in text)) or not_metadata(text, speakers):
            continue
        key = entity_key(text)
        if not key or not _name_like(text, cased):
            continue
        found = groups.setdefault(key, _Found())
        found.inside = found.inside or mid_sentence(transcript, phrase.segment_id, phrase.start)
        found.names[text] += 1
        found.types[kind] += 1
        found.mentions.append(_mention(transcript, phrase, text))
    _fold_short_names(groups)
    # A one-word name only ever said first in a sentence ("Next", "Colour") is an ordinary word
    # capitalised there, as far as a cased transcript can tell.
    return {k: g for k, g in groups.items() if g.inside or " " in k or not cased}


def merged_mentions(*lists: list[Mention]) -> list[Mention]:
    seen: dict[tuple[int, int], Mention] = {}
    for mention in (m for mentions in lists for m in mentions):
        seen.setdefault((mention.segment_ids[0], mention.char_start), mention)
    return sorted(seen.values(), key=lambda m: (m.segment_ids[0], m.char_start))


def _best_name(found: _Found, preferred: str | None = None) -> str:
    """The fullest name said ("Maya Okafor" over "Maya"), then the most said; `preferred`
    (the model's) when no name said is fuller."""
    names = dict(found.names)
    if preferred is not None:
        names[preferred] = max(names.values()) + 1
    return max(names.items(), key=lambda item: (len(item[0].split()), item[1], len(item[0])))[0]


def _said_at(entity: Entity, at: dict[int, list[tuple[int, int, str]]]) -> str | None:
    """The pipeline's name said where one of the entity's single-segment mentions is said."""
    for mention in entity.mentions:
        if len(mention.segment_ids) != 1:
            continue
        for start, end, key in at.get(mention.segment_ids[0], []):
            if start < mention.char_end and mention.char_start < end:
                return key
    return None


def with_recognized(
    entities: list[Entity],
    transcript: Transcript,
    analysis: TextAnalysis | None,
    cap: int,
    untrusted: frozenset[int] = frozenset(),
) -> tuple[list[Entity], int]:
    """The model's grounded entities joined with the pipeline's; also how many were added."""
    if analysis is None:
        return entities, 0
    groups = recognized_entities(transcript, analysis, untrusted)
    alias_of = {normalize_key(n): key for key, g in groups.items() for n in g.names}
    at: dict[int, list[tuple[int, int, str]]] = {}
    for key, found in groups.items():
        for m in found.mentions:
            at.setdefault(m.segment_ids[0], []).append((m.char_start, m.char_end, key))
    joined: list[Entity] = []
    used: set[str] = set()
    for entity in entities:
        keys = [entity_key(entity.name), *(entity_key(a) for a in entity.aliases)]
        match = (
            next((k for k in keys if k in groups), None)
            or next((alias_of[k] for k in keys if k in alias_of), None)
            or _said_at(entity, at)
        )
        if match is None or match in used:
            joined.append(entity)
            continue
        used.add(match)
        found = groups[match]
        kind = found.type if found.type in _TRUSTED else entity.type
        name = _best_name(found, entity.name)
        names = sorted({*found.names, *entity.aliases, entity.name} - {name}, key=str.casefold)
        update = {
            "name": name,
            "verification": (
                "grounded" if entity.verification == "unverified" else entity.verification
            ),
            "type": kind,
            "aliases": names,
            "mentions": merged_mentions(entity.mentions, found.mentions),
        }
        joined.append(entity.model_copy(update=update))
    rest = [(key, g) for key, g in groups.items() if key not in used]
    rest.sort(key=lambda item: -len(item[1].mentions))
    for _key, found in rest[:cap]:
        name = _best_name(found)
        joined.append(
            Entity(
                name=name,
                type=found.type,
                aliases=sorted(set(found.names) - {name}, key=str.casefold),
                mentions=merged_mentions(found.mentions),
                produced_by=PRODUCER,
            )
        )
    return joined, min(len(rest), cap)
