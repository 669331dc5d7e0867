"""A batch's output folder: one result file per finished episode, and `failures.jsonl`.

An episode that came back partial (a part of it failed) is not finished: its result is kept as
`<id>.partial.json` and it is listed in `failures.jsonl` until a rerun finishes it.

A result file is written whole (temp file, fsync, rename), so a file that exists is complete: a
rerun skips those episodes, with no model call. A failure is appended to `failures.jsonl` (one
line each, the typed error and its message); at the end of a run the file is rewritten with the
failures still outstanding. A line cut short by a kill is ignored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from ciagent.batch.sources import EpisodeSource, file_name
from ciagent.files import append_line, write_atomic
from ciagent.types import EpisodeEnrichment

__all__ = ["FAILURES", "EpisodeRecord", "FailureRecord", "ResultStore"]

FAILURES = "failures.jsonl"


class EpisodeRecord(BaseModel):
    """What a batch writes for one finished episode: who it is, and its enrichment."""

    model_config = ConfigDict(frozen=True)

    id: str
    path: str
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    result: EpisodeEnrichment


class FailureRecord(BaseModel):
    """An episode that failed: the error's type (`TranscriptError`, `ModelCallError`, ...)."""

    model_config = ConfigDict(frozen=True)

    id: str
    path: str
    error: str
    message: str
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ResultStore:
    """The output folder of one batch (created if missing)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def clear_partial(self) -> int:
        """Remove the temp files of writes cut off by a kill (a run owns its folder)."""
        stale = list(self.folder.glob(".*.tmp"))
        for temp in stale:
            temp.unlink(missing_ok=True)
        return len(stale)

    def path(self, episode_id: str) -> Path:
        return self.folder / file_name(episode_id)

    def finished(self, episode_id: str) -> bool:
        """Whether the episode's result is there (written whole, or not at all)."""
        return self.path(episode_id).is_file()

    def read(self, episode_id: str) -> EpisodeRecord | None:
        try:
            return EpisodeRecord.model_validate_json(self.path(episode_id).read_bytes())
        except (OSError, ValidationError):
            return None

    def results(self, ids: list[str]) -> list[EpisodeEnrichment]:
        """The results of the episodes of `ids` that are finished here, in that order."""
        found = (self.read(episode_id) for episode_id in ids if self.finished(episode_id))
        return [record.result for record in found if record is not None]

    def partial_path(self, episode_id: str) -> Path:
        """Where an episode's partial result is kept: never taken for a finished one."""
        return self.path(episode_id).with_suffix(".partial.json")

    def write(self, source: EpisodeSource, result: EpisodeEnrichment) -> Path:
        """The finished episode's file; a partial result kept earlier is removed."""
        target = self._write(self.path(source.id), source, result)
        self.partial_path(source.id).unlink(missing_ok=True)
        return target

    def write_partial(self, source: EpisodeSource, result: EpisodeEnrichment) -> Path:
        return self._write(self.partial_path(source.id), source, result)

    @staticmethod
    def _write(target: Path, source: EpisodeSource, result: EpisodeEnrichment) -> Path:
        record = EpisodeRecord(
            id=source.id, path=source.origin, metadata=source.metadata, result=result
        )
        write_atomic(target, record.model_dump_json(indent=2) + "\n")
        return target

    def fail(self, source: EpisodeSource, error: str, message: str) -> FailureRecord:
        failure = FailureRecord(id=source.id, path=source.origin, error=error, message=message)
        append_line(self.folder / FAILURES, failure.model_dump_json())
        return failure

    def failures(self) -> dict[str, FailureRecord]:
        """The last failure of each episode not finished since."""
        found: dict[str, FailureRecord] = {}
        try:
            lines = (self.folder / FAILURES).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return found
        for line in lines:
            try:
                failure = FailureRecord.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError):
                continue
            found[failure.id] = failure
        return {key: value for key, value in found.items() if not self.finished(key)}

    def tidy_failures(self) -> None:
        """Rewrite `failures.jsonl` with only the failures still outstanding."""
        outstanding = self.failures()
        path = self.folder / FAILURES
        if outstanding or path.exists():
            text = "".join(f.model_dump_json() + "\n" for f in outstanding.values())
            write_atomic(path, text)
