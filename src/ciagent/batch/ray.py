"""Many episodes on a Ray cluster: the local batch, spread over a Ray Dataset.

    import ray, ciagent.ray
    ray.init()                                   # or ray.init("ray://head:10001")
    summary = ciagent.ray.run_batch(read_sources(Path("catalog.jsonl")), Path("/shared/out"),
                                    settings, actors=8, concurrency=8)

Each Ray Data actor (`map_batches` with a callable class) holds its settings, its result
folder, its router, its open response cache and a handle to one `BudgetLedger` actor, and
enriches its rows `concurrency` at a time with `enrich_many`, exactly as `ciagent batch` does on
one machine; so the run caps hold across the whole cluster, and each result is written the same
way (whole, one file per episode, to a folder every node can see). Needs the `ray` extra:
`pip install 'ciagent[ray]'`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray
import ray.data

from ciagent.batch.runner import (
    BatchItem,
    BatchSummary,
    batch_router,
    batch_settings,
    enrich_many,
    finish,
    record,
    start,
)
from ciagent.batch.sources import EpisodeSource
from ciagent.batch.store import ResultStore
from ciagent.budget import DEFAULT_KEEP_DAYS, Hold, Ledger, Reservation
from ciagent.cache import response_cache
from ciagent.errors import BudgetExceeded
from ciagent.settings import Settings
from ciagent.shared import Shared

__all__ = ["ActorLedger", "BudgetLedger", "map_enrich", "run_batch"]

_Refusal = tuple[str, str, str, float, float, bool]


class BudgetLedger:
    """The run's one ledger, as a Ray actor: every reservation in the cluster goes through it,
    one at a time, so no two workers can both take the last dollar."""

    def __init__(self, path: str | None = None, keep_days: float = DEFAULT_KEEP_DAYS) -> None:
        """`path`: the ledger file; by default a fresh one beside the actor."""
        fresh = Path(tempfile.mkdtemp(prefix="ciagent-ledger-")) / "ledger.sqlite"
        self._ledger = Ledger(Path(path) if path else fresh, keep_days)

    def reserve(self, hold: Hold) -> Reservation | _Refusal:
        try:
            return self._ledger.reserve(hold)
        except BudgetExceeded as refused:
            # Returned, not raised: the caller re-raises the same typed error.
            return (
                refused.scope,
                refused.unit,
                refused.kind,
                refused.limit,
                refused.spent,
                refused.pending,
            )

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        self._ledger.settle(reservation, usd, tokens)

    def release(self, reservation: Reservation) -> None:
        self._ledger.release(reservation)

    def spent(self, scope: str) -> tuple[float, int]:
        spend = self._ledger.spent(scope)
        return spend.usd, spend.tokens


class ActorLedger:
    """A `SpendLedger` that forwards to a `BudgetLedger` actor (what each worker holds)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def reserve(self, hold: Hold) -> Reservation:
        answer = ray.get(self.actor.reserve.remote(replace(hold, caps=list(hold.caps))))
        if isinstance(answer, Reservation):
            return answer
        scope, unit, kind, limit, spent, pending = answer
        raise BudgetExceeded(
            scope,
            unit,
            limit,
            spent,
            kind=kind,
            pending=pending,
        )

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        ray.get(self.actor.settle.remote(reservation, usd, tokens))

    def release(self, reservation: Reservation) -> None:
        ray.get(self.actor.release.remote(reservation))


class _Enricher:
    """A Ray Data actor: its own settings, result folder, ledger handle, router and open
    response cache, and one event loop for all its batches (the router's concurrency slots
    belong to a loop)."""

    def __init__(self, settings: Settings, out: str, ledger: Any, concurrency: int) -> None:
        self.settings = settings
        self.store = ResultStore(Path(out))
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        cache = response_cache(settings) if settings.cache else None
        self.shared = Shared(
            ledger=ActorLedger(ledger) if ledger is not None else None,
            router=batch_router(settings),
            cache=cache,
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        sources = [
            EpisodeSource(id=str(i), path=Path(str(p)), metadata=json.loads(str(m)))
            for i, p, m in zip(batch["id"], batch["path"], batch["metadata"], strict=True)
        ]
        items = self.loop.run_until_complete(self._enrich(sources))
        for item in items:
            record(self.store, item)
        return _rows(items)

    async def _enrich(self, sources: list[EpisodeSource]) -> list[BatchItem]:
        return [
            item
            async for item in enrich_many(
                sources, self.settings, concurrency=self.concurrency, shared=self.shared
            )
        ]

    def __del__(self) -> None:
        if self.shared.cache is not None:
            self.shared.cache.close()
        self.loop.close()


def _rows(items: list[BatchItem]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        key: []
        for key in ("id", "status", "error", "run_budget", "usd", "prompt", "completion", "calls")
    }
    for item in items:
        cost = item.result.cost if item.result is not None else None
        rows["id"].append(item.source.id)
        rows["status"].append(item.result.status if item.result is not None else "failed")
        rows["error"].append(type(item.error).__name__ if item.error is not None else "")
        rows["run_budget"].append(item.run_budget_reached)
        rows["usd"].append(cost.usd if cost else 0.0)
        rows["prompt"].append(cost.prompt_tokens if cost else 0)
        rows["completion"].append(cost.completion_tokens if cost else 0)
        rows["calls"].append(cost.calls if cost else 0)
    return rows


def map_enrich(
    dataset: ray.data.Dataset,
    out: Path,
    settings: Settings,
    ledger: Any,
    *,
    actors: int = 2,
    concurrency: int = 4,
    episodes_per_batch: int = 8,
    num_cpus: float = 1.0,
) -> ray.data.Dataset:
    """Enrich a dataset of rows `{id, path, metadata}` (metadata as a JSON string), writing
    each result to `out`; the returned dataset has one row per episode: id, status, error
    type, whether the run's cap stopped it, usd, prompt/completion tokens and calls. Lazy, as
    any Ray Dataset."""
    return dataset.map_batches(
        _Enricher,
        fn_constructor_kwargs={
            "settings": settings,
            "out": str(out),
            "ledger": ledger,
            "concurrency": concurrency,
        },
        batch_size=episodes_per_batch,
        batch_format="numpy",
        concurrency=actors,
        num_cpus=num_cpus,
    )


def run_batch(
    sources: list[EpisodeSource],
    out: Path,
    settings: Settings | None = None,
    *,
    actors: int = 2,
    concurrency: int = 4,
    episodes_per_batch: int = 8,
    retry_failed: bool = False,
    num_cpus: float = 1.0,
) -> BatchSummary:
    """`ciagent.batch.run_batch` on the Ray cluster this process is connected to (`ray.init`):
    the episodes not finished in `out` are enriched by `actors` Ray Data actors, under one run
    budget kept by a `BudgetLedger` actor. `out` must be a folder every node can reach."""
    settings = batch_settings(settings)
    store = ResultStore(out)
    work, summary = start(sources, store, retry_failed)
    started = time.perf_counter()
    if work:
        owner: Any = ray.remote(BudgetLedger)
        ledger = owner.options(num_cpus=0).remote(
            str(settings.ledger_path) if settings.ledger_path else None, settings.ledger_keep_days
        )
        rows = [{"id": s.id, "path": str(s.path), "metadata": json.dumps(s.metadata)} for s in work]
        # One block per batch of episodes, so every actor gets work from the start.
        blocks = -(-len(rows) // episodes_per_batch)
        dataset = ray.data.from_items(rows, override_num_blocks=blocks)
        done = map_enrich(
            dataset,
            out,
            settings,
            ledger,
            actors=actors,
            concurrency=concurrency,
            episodes_per_batch=episodes_per_batch,
            num_cpus=num_cpus,
        )
        try:
            for row in done.iter_rows():
                _count(summary, row)
        finally:
            ray.kill(ledger)
    store.tidy_failures()
    return finish(summary, store, len(work), started)


def _count(summary: BatchSummary, row: dict[str, Any]) -> None:
    summary.usd += float(row["usd"])
    summary.prompt_tokens += int(row["prompt"])
    summary.completion_tokens += int(row["completion"])
    summary.calls += int(row["calls"])
    if row["status"] == "complete":  # a partial episode is not finished (`record`)
        summary.done += 1
        return
    summary.failed += 1
    summary.failures.append(str(row["id"]))
    summary.budget_reached = summary.budget_reached or bool(row["run_budget"])
