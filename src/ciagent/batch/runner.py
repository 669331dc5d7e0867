"""Many episodes on one machine: `enrich_many` (bounded concurrency, results as they finish)
and `run_batch` (the same into an output folder, resumable).

All episodes of a batch share one run id, so the run caps (`budget_usd`, `budget_tokens`) cap
the whole batch; once a cap is reached no further episode is started. Episodes are started only
as others finish, so a catalog of millions never sits in memory as tasks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ciagent.batch.sources import EpisodeSource, SourceLike
from ciagent.batch.store import ResultStore
from ciagent.batch.tuning import batch_process
from ciagent.cache import response_cache
from ciagent.errors import BudgetExceeded
from ciagent.events import EventCallback
from ciagent.preflight import preflight
from ciagent.resolve import new_router, routed
from ciagent.routing.policy import Router
from ciagent.settings import Settings
from ciagent.shared import Shared
from ciagent.types import EpisodeEnrichment

__all__ = [
    "BatchItem",
    "BatchSummary",
    "batch_settings",
    "enrich_many",
    "finish",
    "record",
    "run_batch",
    "start",
    "todo",
]

_UNFINISHED = (
    "the episode did not finish within the budget; its partial result is not kept (rerun "
    "with --retry-failed and more budget)"
)
_PARTIAL = (
    "its partial result is in {name} (rerun with --retry-failed: the parts that were answered "
    "come from the cache)"
)


@dataclass(frozen=True)
class BatchItem:
    """One episode's outcome: a result (complete, partial or budget-exceeded) or an error."""

    source: EpisodeSource
    result: EpisodeEnrichment | None = None
    error: Exception | None = None
    wall_s: float = 0.0

    @property
    def budget_exceeded(self) -> bool:
        """Whether a cap (the episode's or the run's) stopped this episode."""
        if self.result is not None:
            return self.result.status == "budget_exceeded"
        return isinstance(self.error, BudgetExceeded)

    @property
    def finished(self) -> bool:
        """Whether the episode came back whole: not partial, not stopped by a budget."""
        return self.result is not None and self.result.status == "complete"

    @property
    def run_budget_reached(self) -> bool:
        """Whether the run's cap stopped it: then no further episode can start."""
        if isinstance(self.error, BudgetExceeded):
            return self.error.kind == "run"
        return self.result is not None and any(f.cap == "run" for f in self.result.failures)


def batch_settings(settings: Settings | None) -> Settings:
    """The settings with one run id for the whole batch (kept if the caller set one)."""
    settings = settings or Settings.load()
    if settings.run_id is None:
        settings = settings.model_copy(update={"run_id": f"batch-{uuid.uuid4().hex}"})
    return settings


async def _one(
    source: EpisodeSource, settings: Settings, shared: Shared, on_event: EventCallback | None
) -> BatchItem:
    from ciagent.api import aenrich  # the model layer loads when an episode runs, not on import

    started = time.perf_counter()
    try:
        result = await aenrich(
            source.input, settings, shared=shared, episode_id=source.id, on_event=on_event
        )
    except Exception as exc:  # one bad episode must not stop a catalog
        return BatchItem(source, error=exc, wall_s=time.perf_counter() - started)
    return BatchItem(source, result=result, wall_s=time.perf_counter() - started)


def batch_router(settings: Settings) -> Router | None:
    """One router for the episodes of a batch (`model = "auto"`, or a named deployment with a
    `max_concurrency`; None otherwise)."""
    return new_router(settings) if routed(settings) else None


async def enrich_many(
    sources: Iterable[SourceLike],
    settings: Settings | None = None,
    *,
    concurrency: int = 4,
    shared: Shared | None = None,
    on_event: EventCallback | None = None,
) -> AsyncIterator[BatchItem]:
    """Enrich episodes, `concurrency` at a time, yielding each outcome as it finishes.

    A key that is not set (ConfigError) or no model server reachable (ModelCallError) is raised
    before the first episode. An episode that fails yields its error (it does not stop the
    others), and so does one that reaches its own cap (`episode_budget_usd`). When the run's cap
    is reached, episodes in flight finish (with what they got done) and no more are started. The
    episodes share one router and one open response cache, or those of `shared` (and its ledger)
    when given. While it runs the process is tuned for it (`ciagent.batch.tuning`).

    `on_event` gets every episode's events as they happen (`ciagent.events`, each naming its
    episode): starts, finishes, each model call as it settles, progress. Cancelling the task
    that iterates (or leaving the loop and closing the iterator) cancels the episodes in flight
    and waits for them to stop: their budget holds are released, the cache closed, and nothing
    is yielded after; what was yielded before stays valid.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    settings = batch_settings(settings)
    # The run's own problems (a key not set, no model server reachable) stop it here, once,
    # before any episode is marked failed.
    await asyncio.to_thread(preflight, settings)
    with batch_process():
        async for item in _enrich_all(sources, settings, concurrency, shared, on_event):
            yield item


async def _enrich_all(
    sources: Iterable[SourceLike],
    settings: Settings,
    concurrency: int,
    shared: Shared | None,
    on_event: EventCallback | None,
) -> AsyncIterator[BatchItem]:
    # One router for the batch (deployment health and max_concurrency hold across episodes), and
    # one open response cache.
    given = shared or Shared()
    cache = given.cache
    own_cache = cache is None and settings.cache
    if own_cache:
        cache = response_cache(settings)
    shared = Shared(given.ledger, given.router or batch_router(settings), cache)
    pending: Iterator[EpisodeSource] = (EpisodeSource.of(s) for s in sources)
    running: set[asyncio.Task[BatchItem]] = set()
    stopped = False
    try:
        while True:
            while not stopped and len(running) < concurrency:
                source = next(pending, None)
                if source is None:
                    stopped = True
                    break
                running.add(asyncio.create_task(_one(source, settings, shared, on_event)))
            if not running:
                return
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: t.result().source.id):
                item = task.result()
                stopped = stopped or item.run_budget_reached
                yield item
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if own_cache and cache is not None:
            cache.close()


@dataclass
class BatchSummary:
    """What a batch run did."""

    total: int = 0
    skipped: int = 0
    """Episodes finished by an earlier run (not run again)."""
    held_back: int = 0
    """Episodes that failed in an earlier run and were not retried (`retry_failed` off)."""
    done: int = 0
    failed: int = 0
    not_started: int = 0
    usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    wall_s: float = 0.0
    budget_reached: bool = False
    failures: list[str] = field(default_factory=list)
    outstanding: int = 0
    """Episodes of the folder still failed after the run (this run's and earlier ones')."""

    def add(self, item: BatchItem) -> None:
        self.budget_reached = self.budget_reached or item.run_budget_reached
        if item.result is not None:
            cost = item.result.cost
            self.usd += cost.usd
            self.prompt_tokens += cost.prompt_tokens
            self.completion_tokens += cost.completion_tokens
            self.calls += cost.calls
        if item.finished:
            self.done += 1
        else:
            self.failed += 1
            self.failures.append(item.source.id)


def todo(
    sources: list[EpisodeSource], store: ResultStore, retry_failed: bool
) -> list[EpisodeSource]:
    """The episodes a run must do: not finished, and not failed unless retrying failures."""
    return _sorted(sources, store, retry_failed)[0]


def _sorted(
    sources: list[EpisodeSource], store: ResultStore, retry_failed: bool
) -> tuple[list[EpisodeSource], int]:
    """The episodes to do, and how many are finished already (each file looked up once)."""
    failed = store.failures()
    finished = [store.finished(s.id) for s in sources]
    work = [
        s
        for s, done in zip(sources, finished, strict=True)
        if not done and (retry_failed or s.id not in failed)
    ]
    return work, sum(finished)


def start(
    sources: list[EpisodeSource], store: ResultStore, retry_failed: bool
) -> tuple[list[EpisodeSource], BatchSummary]:
    """The episodes a run must do, and its summary so far: those finished before are skipped,
    those failed before and not retried held back (never counted as finished)."""
    store.clear_partial()
    work, finished = _sorted(sources, store, retry_failed)
    summary = BatchSummary(
        total=len(sources), skipped=finished, held_back=len(sources) - len(work) - finished
    )
    return work, summary


async def run_batch(
    sources: list[EpisodeSource],
    out: Path,
    settings: Settings | None = None,
    *,
    concurrency: int = 4,
    retry_failed: bool = False,
    on_item: Callable[[BatchItem | None, BatchSummary], None] | None = None,
    on_event: EventCallback | None = None,
) -> BatchSummary:
    """Enrich every episode not yet finished in `out`; write each result as it finishes.

    A budget-exceeded episode is recorded as a failure (`BudgetExceeded`) and its partial result
    is not written, so a rerun with more budget (`--retry-failed`) does it whole. A `partial`
    episode (a part of it failed) is a failure too (`PartialResult`, naming the failed parts),
    its result kept as `<id>.partial.json`; `--retry-failed` asks again what failed, the rest
    coming from the response cache. `on_item` is
    called once before the first episode (with None), then after each; `on_event` as
    `enrich_many` says.
    """
    store = ResultStore(out)
    work, summary = start(sources, store, retry_failed)
    started = time.perf_counter()
    if on_item is not None:
        on_item(None, summary)
    try:
        async for item in enrich_many(work, settings, concurrency=concurrency, on_event=on_event):
            record(store, item)
            summary.add(item)
            summary.wall_s = time.perf_counter() - started
            if on_item is not None:
                on_item(item, summary)
    finally:
        store.tidy_failures()
    return finish(summary, store, len(work), started)


def finish(summary: BatchSummary, store: ResultStore, work: int, started: float) -> BatchSummary:
    """The summary's closing counts: not started, still failed, wall time."""
    summary.not_started = work - summary.done - summary.failed
    summary.outstanding = len(store.failures())
    summary.wall_s = time.perf_counter() - started
    return summary


def record(store: ResultStore, item: BatchItem) -> None:
    """Write an outcome: the result file, or a line in `failures.jsonl` (a partial result is
    kept beside, under another name, and is not taken for a finished episode)."""
    if item.finished and item.result is not None:
        store.write(item.source, item.result)
    elif item.result is not None and not item.budget_exceeded:
        kept = store.write_partial(item.source, item.result)
        failed = "; ".join(
            f"{f.step}"
            + (f" (chunk {f.chunk_id})" if f.chunk_id is not None else "")
            + f": {f.error}"
            for f in item.result.failures
        )
        message = f"partial: {failed or 'some parts failed'}; {_PARTIAL.format(name=kept.name)}"
        store.fail(item.source, "PartialResult", message)
    elif item.result is not None:
        caps = [f.error for f in item.result.failures if f.step == "budget"]
        store.fail(item.source, "BudgetExceeded", "; ".join([*caps[:1], _UNFINISHED]))
    elif item.error is not None:
        store.fail(item.source, type(item.error).__name__, str(item.error))
