"""What the model says is in the transcript, before it is checked: the places it cites, and
the entities merged across chunks with theirs. The text work (`ciagent.alignment`) checks them;
the graph's state (`ciagent.state`) carries them between steps."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ciagent.types import EntityType

__all__ = ["Candidate", "MergedEntity"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Candidate(_Model):
    """A place the model says something is said: to be checked against the transcript."""

    chunk_id: int
    segment_id: int | None = Field(description="The segment cited, None when the line was wrong.")
    text: str


class MergedEntity(_Model):
    name: str
    type: EntityType
    aliases: list[str]
    candidates: list[Candidate]
