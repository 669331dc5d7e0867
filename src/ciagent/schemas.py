"""What the model is asked to return: the response schemas of the model-calling steps.

Bounds on lengths and counts are part of the schema the model decodes against, which keeps
answers short and stops a weak model from running on.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from ciagent.types import EntityType

__all__ = [
    "ChapterTitle",
    "ChapterTitles",
    "ChunkNotes",
    "ClaimJudgement",
    "EpisodeSummary",
    "FoundItem",
    "LocatedItems",
    "NoteEntity",
    "NoteMention",
    "NoteQuote",
]

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


_SCHEMAS: dict[tuple[object, ...], dict[str, Any]] = {}


class _Answer(BaseModel):
    """A response model whose JSON schema is built once: the structured-output layer asks for
    it on every request, and building it is most of the client's own time per call."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, *args, *sorted(kwargs.items()))
        schema = _SCHEMAS.get(key)
        if schema is None:
            schema = _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(schema)  # a caller may change its copy


class NoteMention(BaseModel):
    segment_id: int = Field(description="The number of the line where it is said.")
    text: Short = Field(description="The exact words used on that line.")


class NoteEntity(BaseModel):
    name: Short
    type: EntityType
    mentions: list[NoteMention] = Field(min_length=1, max_length=3)


class NoteQuote(BaseModel):
    segment_id: int
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ChunkNotes(_Answer):
    """What one chunk says: the model's answer, before any verification.

    Entities come first: a small model names them best before it starts paraphrasing.
    """

    entities: list[NoteEntity] = Field(max_length=12)
    topics: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=48)]] = Field(
        min_length=1, max_length=5
    )
    quotes: list[NoteQuote] = Field(max_length=2)
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=700)]


class EpisodeSummary(_Answer):
    """The summary of an episode, or of a group of its parts in a hierarchical reduce."""

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1500)]


class ClaimJudgement(_Answer):
    """A judge's verdict on one claim, given numbered evidence lines. The lines come first, so
    the verdict follows from what was cited."""

    lines: list[int] = Field(
        max_length=4, description="Numbers of the evidence lines that bear on the claim."
    )
    verdict: Literal["supported", "contradicted", "not_found"]


class FoundItem(BaseModel):
    item: int = Field(description="The number of the item asked about.")
    line: int = Field(description="The number of the line where it is said; 0 if nowhere.")
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = Field(
        description="The exact words on that line; empty if nowhere."
    )


class LocatedItems(_Answer):
    """Where a stronger model finds items that a first answer named but verification could not."""

    found: list[FoundItem] = Field(max_length=12)


class ChapterTitle(BaseModel):
    number: int
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class ChapterTitles(_Answer):
    """Titles for chapters whose boundaries are fixed: the model only names them."""

    chapters: list[ChapterTitle] = Field(max_length=40)
