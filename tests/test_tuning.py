"""The process tuning a batch asks for: set while batches run, given back after."""

from __future__ import annotations

import gc
import sys

from ciagent.batch.tuning import BATCH_SWITCH_INTERVAL_S, batch_process


def test_switch_interval_is_tuned_while_batches_run_and_restored() -> None:
    default = sys.getswitchinterval()
    assert default == 0.005  # the test runs in a process that never changed it
    with batch_process():
        assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S
        with batch_process():  # a second batch at once shares the tuning
            assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S
        assert sys.getswitchinterval() == BATCH_SWITCH_INTERVAL_S  # the first still runs
    assert sys.getswitchinterval() == default
    assert gc.get_freeze_count() > 0  # the heap was settled


def test_a_host_that_set_its_own_interval_keeps_it() -> None:
    sys.setswitchinterval(0.002)
    try:
        with batch_process():
            assert sys.getswitchinterval() == 0.002
        assert sys.getswitchinterval() == 0.002
    finally:
        sys.setswitchinterval(0.005)
