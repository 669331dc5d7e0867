"""The graph's typed state, the per-branch task, and the run-scoped context injected into steps."""

from __future__ import annotations

import asyncio
import contextlib
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ciagent import telemetry
from ciagent.candidates import Candidate, MergedEntity
from ciagent.llm.asking import Client
from ciagent.llm.models import Served
from ciagent.llm.reading import Reading
from ciagent.nlp import TextAnalysis
from ciagent.routing.registry import Tier
from ciagent.schemas import ChunkNotes
from ciagent.settings import Settings
from ciagent.tokens import TokenCounter
from ciagent.types import (
    Chapter,
    Chunk,
    Claim,
    Entity,
    EpisodeEnrichment,
    ItemCounts,
    Quote,
    StepFailure,
    Topic,
    Transcript,
)

__all__ = [
    "Candidate",
    "ChapterDraft",
    "ChunkTask",
    "EnrichState",
    "EnrichUpdate",
    "Grounding",
    "MergedEntity",
    "MergedNotes",
    "NoteResult",
    "ProgressCallback",
    "RunContext",
]

T = TypeVar("T", bound=BaseModel)

# (stage, done, total): stage is "chunk", "notes", "summary", "verify" or "finalize".
ProgressCallback = Callable[[str, int, int], None]


def _taken(read: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        read.exception()


@dataclass
class RunContext:
    """Dependencies of one run, injected into every step through langgraph's Runtime."""

    settings: Settings
    client: Client
    count_tokens: TokenCounter
    reading: Reading = field(default_factory=Reading)
    progress: ProgressCallback | None = None
    episode_id: str = ""
    started: float = field(default_factory=time.perf_counter)
    totals: dict[str, int] = field(default_factory=dict)
    names_read: asyncio.Future[TextAnalysis | None] | None = None
    """The NLP pipeline's reading of the transcript, begun as the episode starts
    (`ciagent.steps.names.read_ahead`); the names step collects it."""
    _done: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def drop_unread(self) -> None:
        """Cancel the reading begun ahead if no step collected it (the run failed first), and
        take its error, if it had one, so that nothing reports it as never retrieved."""
        if self.names_read is not None:
            self.names_read.cancel()  # no effect once it is done
            self.names_read.add_done_callback(_taken)

    def expect(self, stage: str, total: int) -> None:
        with self._lock:
            self.totals[stage] = total
            self._done[stage] = 0
        self._tell(stage, 0, total)

    def _tell(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)
        telemetry.progress(stage, done, total)

    @property
    def budget_exceeded(self) -> bool:
        """Whether a call of this run was refused by a budget cap."""
        return self.client.budget is not None and self.client.budget.exceeded

    def report(self, stage: str) -> None:
        with self._lock:
            self._done[stage] = self._done.get(stage, 0) + 1
            done, total = self._done[stage], self.totals.get(stage, 0)
        self._tell(stage, done, max(total, done))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoteResult(_Model):
    chunk_id: int
    notes: ChunkNotes | None = None
    error: str | None = None
    deployment: str | None = Field(default=None, description="Who wrote the notes.")
    tier: Tier = Tier.SMALL
    escalated: bool = Field(default=False, description="Re-asked on a stronger tier.")
    summary: str | None = Field(default=None, description="The chunk's summary, as written.")
    found: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="What the extractors riding in the notes call found, grounded, by name.",
    )

    @classmethod
    def answered(cls, chunk_id: int, answer: Served[ChunkNotes], escalated: bool) -> NoteResult:
        """The notes a deployment wrote for a chunk."""
        return cls(
            chunk_id=chunk_id,
            notes=answer.value,
            deployment=answer.deployment,
            tier=answer.tier,
            escalated=escalated,
        )


class MergedNotes(_Model):
    entities: list[MergedEntity]
    topics: list[Topic]
    quotes: list[Candidate]
    summaries: list[tuple[int, str]]
    stand_ins: list[int] = Field(
        default_factory=list,
        description="Chunks whose summary the model wrote unusably: their own lines stand in.",
    )


class Grounding(_Model):
    """Verification so far: what is grounded, and what was not found (to escalate, then drop
    or flag). Counts cover every item checked."""

    entities: list[Entity]
    quotes: list[Quote]
    unfound_entities: list[MergedEntity]
    unfound_quotes: list[Candidate]
    entity_counts: ItemCounts
    quote_counts: ItemCounts
    untrusted: list[int]
    chunk_scores: dict[int, tuple[int, int]] = Field(
        default_factory=dict,
        description="Per chunk: (items grounded, items produced), entities and quotes.",
    )
    chunks_reread: int = Field(default=0, description="Chunks read again on a stronger tier.")


class ChunkTask(TypedDict):
    transcript: Transcript
    chunk: Chunk


class ChapterDraft(BaseModel):
    """The chapters before their titles are checked: bounds (first and last segment), key words,
    and what the model named each, by number (title, summary), with the deployment that did."""

    model_config = ConfigDict(frozen=True)

    spans: list[tuple[int, int]] = Field(default_factory=list)
    keywords: list[list[str]] = Field(default_factory=list)
    named: dict[int, tuple[str, str]] = Field(default_factory=dict)
    by: str | None = None


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Results of steps that run side by side, each under its own name."""
    return {**old, **new}


class EnrichState(TypedDict, total=False):
    transcript: Transcript
    chunks: list[Chunk]
    chapter_draft: ChapterDraft
    analysis: TextAnalysis | None
    notes: Annotated[list[NoteResult], operator.add]
    merged: MergedNotes
    summary: str
    chapters: list[Chapter]
    grounding: Grounding
    claims: list[Claim]
    extract_found: dict[str, list[dict[str, Any]]]
    extract_failures: list[StepFailure]
    extras: Annotated[dict[str, Any], _merged]
    step_failures: Annotated[list[StepFailure], operator.add]
    result: EpisodeEnrichment


EnrichUpdate = dict[str, Any]
