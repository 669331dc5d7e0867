"""`ciagent.ray` on a local Ray instance: the same outputs as the local batch, and one run
budget for every worker."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ciagent import Settings
from ciagent.batch import EpisodeRecord, read_sources, run_batch
from tests.helpers import without_cost
from tests.test_batch import write_episodes
from tests.test_servers import deployment

ray = pytest.importorskip("ray")
ciagent_ray = pytest.importorskip("ciagent.batch.ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def records(folder: Path) -> dict[str, EpisodeRecord]:
    found = [EpisodeRecord.model_validate_json(p.read_text()) for p in folder.glob("*.json")]
    return {r.id: r for r in found}


@pytest.mark.slow
def test_ray_batch_writes_what_the_local_batch_writes(
    local_ray: None, upstream: str, tmp_path: Path
) -> None:
    write_episodes(tmp_path / "in", 6)
    sources = read_sources(tmp_path / "in")
    settings = Settings(
        model="sim", deployments=(deployment("sim", upstream),), cache=False, budget_usd=5.0
    )
    local = asyncio.run(run_batch(sources, tmp_path / "local", settings, concurrency=3))
    spread = ciagent_ray.run_batch(
        sources, tmp_path / "ray", settings, actors=2, concurrency=2, episodes_per_batch=2
    )
    assert (local.done, spread.done, spread.failed) == (6, 6, 0)
    assert spread.calls == local.calls
    assert spread.usd == pytest.approx(local.usd)
    here, there = records(tmp_path / "local"), records(tmp_path / "ray")
    assert sorted(there) == sorted(here) == [s.id for s in sources]
    for key, mine in here.items():
        theirs = there[key]
        assert (theirs.path, theirs.metadata) == (mine.path, mine.metadata)
        assert without_cost(theirs.result) == without_cost(mine.result)

    again = ciagent_ray.run_batch(sources, tmp_path / "ray", settings)
    assert (again.skipped, again.done, again.calls) == (6, 0, 0)


@pytest.mark.slow
def test_one_run_budget_holds_across_every_ray_worker(
    local_ray: None, upstream: str, tmp_path: Path
) -> None:
    write_episodes(tmp_path / "in", 12)
    sources = read_sources(tmp_path / "in")
    settings = Settings(
        model="sim",
        deployments=(deployment("sim", upstream),),
        cache=False,
        # About half of what the 12 episodes cost ($0.0034): calls wait for holds in flight to
        # settle rather than being refused on worst cases, so the cap is reached by real spend.
        budget_usd=0.002,
        max_output_tokens=512,
    )
    summary = ciagent_ray.run_batch(
        sources, tmp_path / "out", settings, actors=2, concurrency=2, episodes_per_batch=3
    )
    assert summary.budget_reached
    assert 0 < summary.done < 12
    assert summary.usd <= 0.002
    assert len(list((tmp_path / "out").glob("*.json"))) == summary.done
