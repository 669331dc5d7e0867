"""What the model is asked to return: the response schemas of the model-calling steps.

Bounds on lengths and counts are part of the schema the model decodes against, which keeps
answers short and stops a weak model from running on.
"""

from __future__ import annotations

import copy
import functools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from ciagent.types import EntityType

__all__ = [
    "ChapterTitle",
    "ChapterTitles",
    "ChunkNotes",
    "ClaimJudgement",
    "ClaimJudgements",
    "ClaimVerdict",
    "EpisodeSummary",
    "FoundItem",
    "LocatedItems",
    "NoteEntity",
    "NoteMention",
    "NoteQuote",
    "SummarizedNotes",
    "chunk_notes_model",
    "in_words",
    "quote_limit",
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

    Entities come first: a small model names them best before it starts paraphrasing. The
    chunk's summary is asked for on its own, as prose (`prompts/chunk_summary.toml`): inside a
    JSON string a small model copies lines and loops where, asked plainly, it summarises.
    """

    entities: list[NoteEntity] = Field(max_length=12)
    topics: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=48)]] = Field(
        min_length=1, max_length=5
    )
    quotes: list[NoteQuote] = Field(max_length=2)


class SummarizedNotes(ChunkNotes):
    """ChunkNotes with the chunk's summary, for a model that writes one well inside JSON."""

    model_config = ConfigDict(title="ChunkNotes")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=700)]


# The chunk size ChunkNotes' bounds are set for; a larger chunk gets proportionally more room.
NOTES_BASE_TOKENS = 1500
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def quote_limit(chunk_tokens: int) -> int:
    """Most quotes asked of one chunk: two per 1,500 tokens of transcript."""
    return max(2, round(2 * chunk_tokens / NOTES_BASE_TOKENS))


def in_words(number: int) -> str:
    return _NUMBERS[number] if 0 <= number < len(_NUMBERS) else str(number)


@functools.cache
def chunk_notes_model(chunk_tokens: int, summary: bool = False) -> type[ChunkNotes]:
    """ChunkNotes (with the `summary` field, SummarizedNotes) with room for as many entities and
    quotes per transcript token as a 1,500-token chunk has, so that larger chunks do not thin out
    an episode's metadata."""
    base: type[ChunkNotes] = SummarizedNotes if summary else ChunkNotes
    if chunk_tokens <= NOTES_BASE_TOKENS:
        return base
    entities = round(12 * chunk_tokens / NOTES_BASE_TOKENS)
    sized: type[ChunkNotes] = create_model(
        "ChunkNotes",
        __base__=base,
        __doc__=base.__doc__,
        entities=(list[NoteEntity], Field(max_length=entities)),
        quotes=(list[NoteQuote], Field(max_length=quote_limit(chunk_tokens))),
    )
    return sized


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


class ClaimVerdict(_Answer):
    """One claim's verdict in a judgement of several."""

    claim: int = Field(description="The number of the claim.")
    lines: list[int] = Field(
        max_length=4, description="Numbers of the evidence lines that bear on the claim."
    )
    verdict: Literal["supported", "contradicted", "not_found"]


class ClaimJudgements(_Answer):
    """Verdicts on several claims of a summary, judged on their shared evidence lines."""

    judgements: list[ClaimVerdict] = Field(max_length=16)


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
