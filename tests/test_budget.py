"""The spend ledger: caps hold under threads and processes; a refused call keeps finished work."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import ciagent
from ciagent import BudgetExceeded, EpisodeEnrichment, Settings
from ciagent.budget import BudgetGuard, Cap, Hold, Ledger
from ciagent.testing import FakeModel

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EPISODE = EXAMPLES / "harvest-notes-ep7.txt"


def test_reserve_settle_release(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    caps = [Cap("run:a", usd=1.0, tokens=1000), Cap("episode:x", usd=0.5)]
    first = ledger.reserve(Hold(caps, 0.4, 400, "call 1"))
    assert ledger.held("run:a").usd == pytest.approx(0.4)
    with pytest.raises(BudgetExceeded) as refused:
        ledger.reserve(Hold(caps, 0.2, 10, "call 2"))  # the episode cap: 0.4 + 0.2 > 0.5
    assert refused.value.cap == "episode:x usd"
    ledger.settle(first, 0.25, 300)
    second = ledger.reserve(Hold(caps, 0.2, 10, "call 2"))
    ledger.release(second)
    assert ledger.spent("run:a").usd == pytest.approx(0.25)
    assert ledger.spent("run:a").tokens == 300
    assert ledger.held("run:a").usd == 0
    with pytest.raises(BudgetExceeded, match="run:a tokens"):
        ledger.reserve(Hold(caps, 0.0, 701, "too many tokens"))


def test_threads_never_overshoot(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    cap = [Cap("run:t", usd=0.1)]

    def attempt(_: int) -> bool:
        try:
            reservation = ledger.reserve(Hold(cap, 0.01, 1, "t"))
        except BudgetExceeded:
            return False
        ledger.settle(reservation, 0.01, 1)
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = sum(pool.map(attempt, range(60)))
    assert granted == 10
    assert ledger.spent("run:t").usd == pytest.approx(0.1)


PRICE = {"input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0}


def _process(ledger: str, run_id: str, cap: float, episodes: int) -> list[str]:
    """One process enriching episodes concurrently under the shared run cap."""
    fake = FakeModel(name=f"budget-{run_id}", **PRICE)
    settings = Settings(
        model=fake,
        cache=False,
        budget_usd=cap,
        run_id=run_id,
        ledger_path=Path(ledger),
        chunk_tokens=120,
        chunk_overlap_tokens=0,
        max_output_tokens=256,
    )

    async def run() -> list[EpisodeEnrichment]:
        return list(
            await asyncio.gather(*(ciagent.aenrich(EPISODE, settings) for _ in range(episodes)))
        )

    return [result.to_json() for result in asyncio.run(run())]


def test_processes_sharing_a_tight_cap_stay_under_it(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    cap = 0.2
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        batches = pool.starmap(_process, [(str(ledger_path), "shared", cap, 16)] * 2)
    results = [EpisodeEnrichment.model_validate_json(text) for batch in batches for text in batch]
    assert len(results) == 32

    spent = Ledger(ledger_path).spent("run:shared")
    # What each episode did, for a failure message: status, calls, usd, entities, failures.
    seen = [
        (r.status, r.cost.calls, r.cost.usd, len(r.entities), [f.step for f in r.failures])
        for r in results
    ]
    assert spent.usd <= cap, seen
    assert Ledger(ledger_path).held("run:shared").usd == 0, seen  # nothing left reserved
    # The ledger equals the sum of every call's cost in the episodes' own reports.
    assert spent.usd == pytest.approx(sum(r.cost.usd for r in results), abs=1e-8), seen
    statuses = {r.status for r in results}
    assert "budget_exceeded" in statuses, seen  # the cap was tight enough to bite
    # Work finished before the cap is kept: chunks answered within it still give entities.
    assert any(r.cost.calls > 0 and r.entities for r in results), seen
    for result in results:
        if result.status == "budget_exceeded":
            notes = [f.error for f in result.failures if f.step == "notes"]
            assert all("budget" in error for error in notes), notes


def test_cli_budget_exceeded_exits_3_and_writes_the_partial_result(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ciagent",
            "enrich",
            str(EPISODE),
            "--budget-usd",
            "0.0000001",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3, done.stderr
    assert "budget exceeded" in done.stderr
    assert "Traceback" not in done.stderr
    result = EpisodeEnrichment.model_validate_json(out.read_text())
    assert result.status == "budget_exceeded"
    assert result.cost.calls == 0  # refused before the embedded model was even asked


def test_a_refusal_that_only_holds_in_flight_cause_waits_for_them(tmp_path: Path) -> None:
    """Worst cases of calls in flight can fill a cap while little is spent: the next call waits
    for them to settle instead of being refused."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    guard = BudgetGuard(ledger, [Cap("episode:a", usd=1.0)])

    async def main() -> None:
        first = await guard.areserve(0.6, 10, "first", patience_s=10)

        async def settle_soon() -> None:
            await asyncio.sleep(0.2)
            ledger.settle(first, 0.1, 5)

        settling = asyncio.create_task(settle_soon())
        await guard.areserve(0.6, 10, "second", patience_s=10)  # fits once the first settles
        await settling

    asyncio.run(main())
    assert not guard.exceeded
    assert ledger.spent("episode:a").usd == pytest.approx(0.1)
    assert ledger.held("episode:a").usd == pytest.approx(0.6)


def test_a_cap_reached_by_spend_or_by_stale_holds_refuses(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    guard = BudgetGuard(ledger, [Cap("episode:a", usd=1.0)])
    spent = ledger.reserve(Hold(guard.caps, 0.6, 10, "spent"))
    ledger.settle(spent, 0.6, 10)
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(guard.areserve(0.6, 10, "next", patience_s=30))
    assert not refused.value.pending  # settled spend: no waiting helps
    assert time.monotonic() - started < 1
    assert guard.exceeded

    other = BudgetGuard(ledger, [Cap("episode:b", usd=1.0)])
    ledger.reserve(Hold(other.caps, 0.6, 10, "a call that never settles"))
    started = time.monotonic()
    with pytest.raises(BudgetExceeded):
        asyncio.run(other.areserve(0.6, 10, "next", patience_s=0.3))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_ledger_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import os

    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    held = ledger.reserve(Hold([Cap("run:r", usd=1.0)], 0.5, 10, "notes[0]"))
    ledger.settle(held, 0.25, 5)
    del ledger
    if damage == "random bytes":
        path.write_bytes(os.urandom(20_000))
    else:
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2 or 100)
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING, logger="ciagent.budget"):
        ledger = Ledger(path)
        again = ledger.reserve(Hold([Cap("run:r", usd=1.0)], 0.5, 10, "notes[1]"))
    assert again.usd == 0.5
    assert "could not be read" in caplog.text
    assert list(tmp_path.glob("ledger.sqlite.damaged-*"))


def test_episodes_gathered_under_one_cap_complete_as_many_as_one_at_a_time(
    tmp_path: Path,
) -> None:
    """Each episode holds what it will need before its first call (an admission): those in
    flight finish and the others wait, instead of all sharing the cap call by call and all
    stopping half done."""
    episode = Path(__file__).resolve().parents[1] / "examples" / "harvest-notes-ep7.txt"
    fake = FakeModel(input_usd_per_mtok=20.0, output_usd_per_mtok=80.0)
    cap = 0.5

    def settings(run: str) -> Settings:
        return Settings(
            model=fake,
            cache=False,
            budget_usd=cap,
            run_id=run,
            ledger_path=tmp_path / "ledger.sqlite",
        )

    async def gathered() -> list[EpisodeEnrichment]:
        return list(
            await asyncio.gather(*(ciagent.aenrich(episode, settings("g")) for _ in range(20)))
        )

    async def one_at_a_time() -> list[EpisodeEnrichment]:
        return [await ciagent.aenrich(episode, settings("s")) for _ in range(20)]

    together = asyncio.run(gathered())
    alone = asyncio.run(one_at_a_time())
    done = {
        name: sum(r.status == "complete" for r in results)
        for name, results in (("together", together), ("alone", alone))
    }
    assert done["alone"] >= 2
    assert done["together"] >= done["alone"], done
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for run in ("g", "s"):
        assert ledger.spent(f"run:{run}").usd <= cap
        assert ledger.held(f"run:{run}").usd == 0  # every admission given back
