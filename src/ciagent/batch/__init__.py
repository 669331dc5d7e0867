"""Many episodes: `enrich_many` (library), `run_batch` and `ciagent batch` (an output folder,
resumable), and the inputs they read (a folder or a JSONL manifest)."""

from __future__ import annotations

from ciagent.batch.runner import BatchItem, BatchSummary, enrich_many, run_batch
from ciagent.batch.sources import BatchInputError, EpisodeSource, read_sources
from ciagent.batch.store import EpisodeRecord, FailureRecord, ResultStore

__all__ = [
    "BatchInputError",
    "BatchItem",
    "BatchSummary",
    "EpisodeRecord",
    "EpisodeSource",
    "FailureRecord",
    "ResultStore",
    "enrich_many",
    "read_sources",
    "run_batch",
]
