"""What a run reports as it goes, one typed event at a time, each naming its run and episode.

Pass `on_event` to `ciagent.aenrich`, `ciagent.enrich` or `ciagent.enrich_many`: it is called
with an `EpisodeStarted` when an episode begins, a `CallSettled` as each model call settles
(answered, from the cache, or failed for good), a `Progress` as chunks and steps finish, and an
`EpisodeFinished` at the end. It is called on the thread doing the work (the event loop's, or a
worker thread's for a step that runs in one): keep it quick, and thread-safe, or hand the event
to a queue (`asyncio.Queue` with `loop.call_soon_threadsafe`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CallSettled",
    "EpisodeFinished",
    "EpisodeStarted",
    "Event",
    "EventCallback",
    "Progress",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(description="The run's id (shared by the episodes of a batch).")
    episode_id: str = Field(description="The episode's id, as in its result's provenance.")


class EpisodeStarted(_Event):
    kind: Literal["episode_started"] = "episode_started"
    source: str = Field(description="The transcript's file, or the id of one given in memory.")


class CallSettled(_Event):
    """One model call, settled: its attempts (re-asks and retries) summed."""

    kind: Literal["call"] = "call"
    step: str = Field(description="The call's label: `notes[3]`, `judge[0-4]`, `summary`.")
    model: str
    deployment: str
    outcome: Literal["ok", "cached", "failed"]
    attempts: int = Field(description="Requests sent: 0 for a cached answer, 1 plus retries.")
    prompt_tokens: int
    completion_tokens: int
    usd: float
    latency_s: float = Field(description="Wall time of the call, its retries included.")
    error: str | None = None


class Progress(_Event):
    kind: Literal["progress"] = "progress"
    stage: str = Field(description="`notes`, `summary`, `chapters`, `verify`, `claims`, ...")
    done: int
    total: int


class EpisodeFinished(_Event):
    kind: Literal["episode_finished"] = "episode_finished"
    status: str = Field(description="The result's status, or `failed` when it raised.")
    usd: float = 0.0
    calls: int = 0
    cache_hits: int = 0
    wall_s: float = 0.0
    error: str | None = None


Event = Annotated[
    EpisodeStarted | CallSettled | Progress | EpisodeFinished, Field(discriminator="kind")
]
EventCallback = Callable[[Event], None]
