"""Ids of what a result holds, derived from content so that a rerun gives the same ones.

An entity's id depends only on its type and its name as compared (casefolded words, no
diacritics, `textnorm.normalize_key`): "Sarah Chen" the person has one id in every episode, so a
warehouse joins her mentions across a catalog. A mention's and a quote's id depend on where
they are said (segments and character offsets), unique within the episode.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ciagent.textnorm import normalize_key
from ciagent.types import Entity, EntityType, EpisodeEnrichment, Mention, Quote

__all__ = ["entity_id", "with_ids"]


def _digest(*parts: object, size: int = 16) -> str:
    joined = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:size]


def entity_id(name: str, type: EntityType | str) -> str:
    """`ent_` and a hash of the type and the normalised name: the same in every episode."""
    return "ent_" + _digest(EntityType(type).value, normalize_key(name) or name.strip())


def _span(segment_ids: list[int], char_start: int, char_end: int, text: str) -> tuple[object, ...]:
    if not segment_ids:  # an unverified item: only its words place it
        return ("text", text)
    return (segment_ids[0], char_start, segment_ids[-1], char_end)


class _Unique:
    """Hands out ids, adding `-2`, `-3`... to one already given in the episode."""

    def __init__(self) -> None:
        self._given: dict[str, int] = {}

    def __call__(self, prefix: str, *parts: object) -> str:
        base = prefix + _digest(*parts, size=12)
        seen = self._given.get(base, 0) + 1
        self._given[base] = seen
        return base if seen == 1 else f"{base}-{seen}"


def _mentions(entity_key: str, mentions: Iterable[Mention], unique: _Unique) -> list[Mention]:
    return [
        m.model_copy(
            update={
                "id": unique(
                    "men_", entity_key, *_span(m.segment_ids, m.char_start, m.char_end, m.text)
                )
            }
        )
        for m in mentions
    ]


def _entity(entity: Entity, unique: _Unique) -> Entity:
    key = entity_id(entity.name, entity.type)
    return entity.model_copy(
        update={"id": key, "mentions": _mentions(key, entity.mentions, unique)}
    )


def _quote(quote: Quote, unique: _Unique) -> Quote:
    where = _span(quote.segment_ids, quote.char_start, quote.char_end, quote.text)
    return quote.model_copy(update={"id": unique("quo_", *where)})


def with_ids(result: EpisodeEnrichment) -> EpisodeEnrichment:
    """The result with every entity, mention and quote given its id."""
    unique = _Unique()
    return result.model_copy(
        update={
            "entities": [_entity(e, unique) for e in result.entities],
            "quotes": [_quote(q, unique) for q in result.quotes],
        }
    )
