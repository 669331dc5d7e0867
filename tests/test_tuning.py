"""The process tuning a batch asks for: set while batches run, given back after."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from ciagent.batch.tuning import BATCH_SWITCH_INTERVAL_S, batch_process


def test_switch_interval_and_heap_are_tuned_while_batches_run_and_restored() -> None:
    default = sys.getswitchinterval()
    assert default == 0.005  # the test runs in a process that never changed it
    assert gc.get_freeze_count() == 0
    with batch_process():
        assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S
        assert gc.get_freeze_count() > 0  # the heap was settled
        with batch_process():  # a second batch at once shares the tuning
            assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S
        assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S  # the first still runs
    assert sys.getswitchinterval() == default
    assert gc.get_freeze_count() == 0  # given back


def test_a_host_that_froze_its_own_heap_keeps_it() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    try:
        with batch_process():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_importing_ciagent_and_running_episodes_leaves_the_host_as_it_was(tmp_path: Path) -> None:
    """In a fresh process: litellm's retries and loggers, the collector and the switch interval
    are the host's after ciagent is imported and has run one episode and a batch."""
    (tmp_path / "a.txt").write_text("Maya: We tagged sharks near Guadalupe Island.\n")
    script = f"""
import gc, logging, sys
import litellm
def state():
    return (litellm.num_retries, logging.getLogger("LiteLLM").level, gc.isenabled(),
            gc.get_freeze_count(), sys.getswitchinterval())
before = state()
import ciagent
from ciagent.testing import FakeModel
fake = FakeModel()
settings = ciagent.Settings(model=fake, cache=False)
ciagent.enrich({str(tmp_path / "a.txt")!r}, settings)
import asyncio
async def batch():
    return [item async for item in ciagent.enrich_many([{str(tmp_path / "a.txt")!r}], settings)]
assert len(asyncio.run(batch())) == 1
assert state() == before, (before, state())
print("ok")
"""
    # A host that imports litellm before ciagent gives it the local cost map itself.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_a_host_that_set_its_own_interval_keeps_it() -> None:
    sys.setswitchinterval(0.002)
    try:
        with batch_process():
            assert sys.getswitchinterval() == 0.002
        assert sys.getswitchinterval() == 0.002
    finally:
        sys.setswitchinterval(0.005)
