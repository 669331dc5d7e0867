"""Batch throughput against the simulated server, and cache replay.

    python -m tools.bench_batch

- batch efficiency: wall time of `enrich_many` over N episodes / the lower bound the server's
  capacity sets (its simulated service seconds / its slots), at concurrency 1, 8 and 32;
- orchestration overhead: the share of wall time with no model request outstanding (everything
  ciagent does between calls: chunking, merging, verification, writing), one episode at a time;
- cache replay: the same episode again from the response cache / its first run.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ciagent import Settings
from ciagent.api import aenrich
from ciagent.batch import EpisodeSource, enrich_many
from tools.simulated import ROOT, Latency, served, settings_for, stats

__all__ = ["BatchRun", "batch_run", "cache_replay", "main"]

SAMPLE = ROOT / "examples" / "long-tide-ep41.vtt"
HOUR = ROOT.parent / "shared" / "datasets" / "qmsum" / "Bro011.json"
LATENCY = Latency(base_ms=150, per_prompt_token_ms=0.05, per_output_token_ms=1.0, slots=8)


@dataclass(frozen=True)
class BatchRun:
    concurrency: int
    episodes: int
    wall_s: float
    bound_s: float
    busy_s: float
    requests: int

    @property
    def efficiency(self) -> float:
        """The capacity bound over the wall time: 1.0 keeps the server busy all along."""
        return self.bound_s / self.wall_s

    @property
    def overhead(self) -> float:
        """The share of wall time with no request outstanding."""
        return max(0.0, 1 - self.busy_s / self.wall_s)


async def _drain(sources: list[EpisodeSource], settings: Settings, concurrency: int) -> int:
    done = 0
    async for item in enrich_many(sources, settings, concurrency=concurrency):
        if item.result is None:
            raise RuntimeError(f"{item.source.id} failed: {item.error}")
        done += 1
    return done


def batch_run(base: str, slots: int, episodes: int, concurrency: int) -> BatchRun:
    """`episodes` copies of the sample episode through `enrich_many`, timed."""
    sources = [EpisodeSource(id=f"ep{n:03d}", path=SAMPLE) for n in range(episodes)]
    settings = settings_for(base)
    stats(base, reset=True)
    started = time.perf_counter()
    asyncio.run(_drain(sources, settings, concurrency))
    wall = time.perf_counter() - started
    load = stats(base)
    return BatchRun(
        concurrency=concurrency,
        episodes=episodes,
        wall_s=wall,
        bound_s=load["service_s"] / slots,
        busy_s=load["busy_s"],
        requests=int(load["requests"]),
    )


def cache_replay(base: str, transcript: Path) -> tuple[float, float]:
    """Seconds for a first run with an empty cache, and for the same run again."""
    folder = Path(tempfile.mkdtemp(prefix="ciagent-bench-cache-"))
    try:
        settings = settings_for(base, cache=True, cache_dir=folder)
        times = []
        for _ in range(2):
            started = time.perf_counter()
            asyncio.run(aenrich(transcript, settings))
            times.append(time.perf_counter() - started)
        return times[0], times[1]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    print(f"simulated server: {LATENCY.describe()}")
    with served(LATENCY) as base:
        batch_run(base, LATENCY.slots, 2, 2)  # warm up: imports, connection pools
        print("batch of the sample episode (9 min) through enrich_many:")
        print("  concurrency  episodes  requests  wall s  bound s  wall/bound  bound/wall  idle")
        for concurrency, episodes in ((1, 8), (8, 64), (32, 64)):
            run = batch_run(base, LATENCY.slots, episodes, concurrency)
            print(
                f"  {run.concurrency:>11}  {run.episodes:>8}  {run.requests:>8}  "
                f"{run.wall_s:>6.1f}  {run.bound_s:>7.1f}  {run.wall_s / run.bound_s:>10.2f}  "
                f"{run.efficiency:>10.2f}  {run.overhead:>4.1%}"
            )
        print(
            "  (bound: the server's simulated service seconds / its slots; idle: share of wall "
            "time with no request outstanding, i.e. orchestration)"
        )
        first, replay = cache_replay(base, HOUR)
        print(
            f"cache replay of a 1-hour episode ({HOUR.stem}): first run {first:.2f} s, "
            f"replay {replay:.2f} s, replay/first {replay / first:.3f}"
        )


if __name__ == "__main__":
    main()
