"""Progress on stderr for one episode, fed by the progress callback: a rich bar per stage on a
terminal, and plain lines elsewhere (a log file, a CI job, a pipe), one when a stage starts and
ends and at most one every `_EVERY_S` seconds between."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["StageProgress"]

_EVERY_S = 10.0

_LABELS = {
    "notes": "reading chunks",
    "summary": "summarising",
    "chapters": "naming chapters",
    "verify": "verifying",
    "claims": "judging summary claims",
    "escalate": "escalating to a stronger tier",
    "finalize": "finalising",
}


class StageProgress:
    """Context manager; pass `update` as the `progress` callback of `enrich`."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._plain = not console.is_terminal
        self._said: dict[str, tuple[int, float]] = {}  # stage: (done, when) last written
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StageProgress:
        if not self._plain:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._plain:
            self._progress.stop()

    def update(self, stage: str, done: int, total: int) -> None:
        if self._plain:
            self._line(stage, done, total)
            return
        task = self._tasks.get(stage)
        if task is None:
            task = self._progress.add_task(_LABELS.get(stage, stage), total=total)
            self._tasks[stage] = task
        self._progress.update(task, completed=done, total=total)

    def _line(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        last = self._said.get(stage)
        if last is not None and done < total and now - last[1] < _EVERY_S:
            return
        if last is not None and last[0] == done:
            return
        self._said[stage] = (done, now)
        self._console.print(f"{_LABELS.get(stage, stage)}: {done}/{total}", highlight=False)
