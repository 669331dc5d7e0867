"""Signals of a team's own, declared rather than forked: an `Extractor` says what one chunk of a
transcript yields (a pydantic model per item), in words the model reads, and how the chunks'
items come together. ciagent asks for it chunk by chunk on the run's model, grounds every span
an item cites (`Span`: a line number and the words said there) in the transcript, drops an item
whose span is not found, merges the chunks' items, and puts them in
`EpisodeEnrichment.extras[name]`; the calls are cached, held against the budget, and counted
under `extract.<name>` in `cost.by_step`.

    from pydantic import BaseModel
    from ciagent import Settings, Span, extractor

    @extractor("books", "Books and papers mentioned, with their author when it is said.",
               key="title", verbatim="title")
    class Book(BaseModel):
        title: str
        author: str | None = None
        evidence: Span

    result = ciagent.enrich("episode.vtt", Settings(extractors=(Book,)))
    result.extras["books"]   # [{"title": ..., "author": ..., "evidence": {"text": ..., ...}}]
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

from ciagent.errors import ConfigError
from ciagent.types import Mention, Transcript

__all__ = [
    "Checker",
    "Extractor",
    "Finder",
    "FoundBy",
    "Reducer",
    "Span",
    "extractor",
    "lines",
    "said",
    "span_fields",
]

M = TypeVar("M", bound=type[BaseModel])
Reducer = Callable[[list[dict[str, Any]]], Any]
Finder = Callable[[Transcript], list[dict[str, Any]]]
Checker = Callable[[dict[str, Any], Transcript], bool]
FoundBy = Literal["model", "rules"]
"""Who found an item: the model's answer (grounded), or the extractor's `find` function."""


class Span(BaseModel):
    """Where an item is said, as the model cites it: the line's number and the words said there,
    copied exactly. In the result it is the grounded place: the words as the transcript has
    them, the segments, their times and character offsets (as an entity's mention)."""

    model_config = ConfigDict(extra="forbid")

    segment_id: int = Field(description="The number of the line the words are on.")
    text: str = Field(min_length=1, max_length=300, description="The words, copied exactly.")


@dataclass(frozen=True)
class Extractor:
    """What to extract: `item`, the model of one item (its `Span` fields are grounded);
    `instructions`, what to look for, in words the model reads; `key`, a field whose value
    (case aside) makes two items one (None: every item kept, in transcript order); `reduce`, a
    function over all the chunks' items (as dicts) instead; `find`, a function that finds items
    with no model call (in the result's form: each span as `said` gives it), added to the
    model's before they are merged; `confirm`, a check a model's grounded item must pass to be
    kept (the item in the result's form, and the transcript); `result`, the model of what
    `reduce` returns when that is one object for the episode rather than a list of items;
    `link`, a field whose value names an entity of the result (the item gets `entity`, that
    entity's name, or None); `episode`, instructions for one more call, over the episode's
    merged items and its summary, answered as `result` (that answer is `extras[name]`; None
    when the call fails); `verbatim`, a field whose value must be said on the lines the item
    cites (case and punctuation aside), or the model's item is dropped (a title, a name);
    `call`, "own" to be asked in a call of its own even where it could ride in the notes call
    (`Settings.extractor_calls`); `max_items` per chunk; `version`, to bump when the
    instructions change (it is part of every cache key). Every item in the result says who
    found it (`found_by`: `model` or `rules`)."""

    name: str
    item: type[BaseModel]
    instructions: str
    key: str | None = None
    reduce: Reducer | None = None
    max_items: int = 8
    version: str = "1"
    find: Finder | None = None
    confirm: Checker | None = None
    result: type[BaseModel] | None = None
    link: str | None = None
    call: Literal["auto", "own"] = "auto"
    episode: str | None = None
    verbatim: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ConfigError(f"extractor {self.name!r}", "a name is a Python identifier")
        if not self.instructions.strip():
            raise ConfigError(f"extractor {self.name}", "instructions are empty")
        if self.key is not None and self.key not in self.item.model_fields:
            raise ConfigError(f"extractor {self.name}", f"no field {self.key!r} to key items by")
        if self.verbatim is not None and self.verbatim not in self.item.model_fields:
            raise ConfigError(f"extractor {self.name}", f"no field {self.verbatim!r} said verbatim")
        if self.link is not None and self.link not in self.item.model_fields:
            raise ConfigError(f"extractor {self.name}", f"no field {self.link!r} to link by")
        if self.episode is not None:
            if self.result is None or self.reduce is not None:
                raise ConfigError(
                    f"extractor {self.name}",
                    "an episode call needs a result model to answer, and no reduce function",
                )
            if span_fields(self.result) or not self.episode.strip():
                raise ConfigError(
                    f"extractor {self.name}",
                    "an episode call's result cites no spans, and its instructions are not empty",
                )
        elif self.result is not None and self.reduce is None:
            needs = "a result model needs a reduce function or an episode call"
            raise ConfigError(f"extractor {self.name}", needs)
        if not 1 <= self.max_items <= 50:
            raise ConfigError(f"extractor {self.name}", "max_items must be 1 to 50")

    def result_model(self) -> type[BaseModel]:
        """What `extras[name]` holds: the `result` model, or one item as the result holds it
        (each `Span` the grounded place, a `Mention`; who found it; the linked entity)."""
        if self.result is not None:
            return self.result
        fields: dict[str, Any] = {}
        for name, field in self.item.model_fields.items():
            many = span_fields(self.item).get(name)
            kind = field.annotation if many is None else list[Mention] if many else Mention
            if many is False and not field.is_required():
                kind = Mention | None
            fields[name] = (kind, field)
        fields["found_by"] = (FoundBy, Field(description="The model's answer, or rules."))
        if self.link is not None:
            fields["entity"] = (str | None, Field(None, description="The entity it names."))
        return create_model(self.title("Item"), **fields)

    @property
    def listed(self) -> bool:
        """Whether `extras[name]` is a list of items (else one object, `result`)."""
        return self.result is None

    def title(self, suffix: str) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + suffix

    def answer_model(self) -> type[BaseModel]:
        """What one chunk's call answers: `{"items": [...]}`, at most `max_items`."""
        return create_model(
            self.title("Items"),
            __config__=ConfigDict(extra="forbid"),
            items=(list[self.item], Field(max_length=self.max_items)),  # type: ignore[name-defined]
        )


def extractor(
    name: str,
    instructions: str,
    *,
    key: str | None = None,
    reduce: Reducer | None = None,
    max_items: int = 8,
    version: str = "1",
    find: Finder | None = None,
    confirm: Checker | None = None,
    result: type[BaseModel] | None = None,
    link: str | None = None,
    call: Literal["auto", "own"] = "auto",
    episode: str | None = None,
    verbatim: str | None = None,
) -> Callable[[M], M]:
    """A class decorator: the pydantic model becomes an extractor's item, reachable as
    `Model.extractor` and passed as `Settings(extractors=(Model,))` or by its
    `module:attribute` name."""

    def declare(item: M) -> M:
        declared = Extractor(
            name,
            item,
            instructions,
            key,
            reduce,
            max_items,
            version,
            find,
            confirm,
            result,
            link,
            call,
            episode,
            verbatim,
        )
        item.extractor = declared  # type: ignore[attr-defined]
        return item

    return declare


def as_extractor(value: object, where: str = "extractors") -> Extractor:
    """An `Extractor`, or a model the `extractor` decorator declared, as an Extractor."""
    if isinstance(value, Extractor):
        return value
    declared = getattr(value, "extractor", None)
    if isinstance(declared, Extractor):
        return declared
    raise ConfigError(where, f"{value!r} is not an extractor (see ciagent.extractors)")


def span_fields(item: type[BaseModel]) -> dict[str, bool]:
    """The fields of an item that cite the transcript: name -> whether it is a list of spans."""
    found: dict[str, bool] = {}
    for name, field in item.model_fields.items():
        kind = _bare(field.annotation)
        if kind is Span:
            found[name] = False
        elif get_origin(kind) is list and _bare(get_args(kind)[0]) is Span:
            found[name] = True
    return found


def _bare(annotation: Any) -> Any:
    """`Span | None` is a Span field (optional)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def said(transcript: Transcript, segment_id: int) -> dict[str, Any]:
    """A whole segment as a grounded span in the result's form (what a `find` function gives
    for a line it found)."""
    segment = transcript.segments[segment_id]
    return Mention(
        segment_ids=[segment_id],
        start=segment.start,
        end=segment.end,
        text=segment.text,
        char_start=0,
        char_end=len(segment.text),
    ).model_dump(mode="json")


def lines(item: dict[str, Any]) -> list[int]:
    """The segments every grounded span of an item (in the result's form) covers, in order."""
    found: set[int] = set()
    for value in item.values():
        for span in value if isinstance(value, list) else [value]:
            if isinstance(span, dict) and isinstance(span.get("segment_ids"), list):
                found.update(int(i) for i in span["segment_ids"])
    return sorted(found)
