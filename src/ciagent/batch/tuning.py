"""What a batch asks of the Python process it runs in, so that the client keeps its servers busy.

- The heap is settled while a batch runs: what exists when it starts (litellm's, langgraph's and
  pydantic's import-time objects) is moved out of the cyclic collector's sight. A batch allocates
  steadily, and every full collection would walk them again (a quarter of the client's own time
  per episode, measured). They are still freed by reference counting, and go back in the
  collector's sight when the last batch ends (a host that froze objects itself keeps its own).
- While a batch runs, threads switch every 0.5 ms instead of Python's default 5 ms. litellm
  builds every request on a worker thread (`run_in_executor`); with the default interval that
  thread waits up to 5 ms for the interpreter each time the event loop is busy with another
  episode, and with many episodes between calls at once their requests reach the server late.
  At 8 episodes on an 8-slot simulated server the share of time with no request outstanding
  went from 8.6-11.3% to 2.1-2.6% (`tools/bench_batch.py`). The previous interval comes back
  when the last batch running in the process ends, and a host that set its own interval keeps it.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BATCH_SWITCH_INTERVAL_S", "batch_process"]

BATCH_SWITCH_INTERVAL_S = 0.0005
_PYTHON_DEFAULT_S = 0.005

_lock = threading.Lock()
_batches = 0
_restore: float | None = None
_froze = False


def _settle_heap() -> None:
    """Freeze what the heap holds now (after the heavy imports), unless the host froze objects
    itself: then its freezing stands and is not undone after."""
    global _froze
    from ciagent import api  # noqa: F401  (the heavy imports happen first)

    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        _froze = True


@contextmanager
def batch_process() -> Iterator[None]:
    """The process tuned for a batch for as long as the block runs (nested and concurrent
    batches share one tuning); when the last ends, the heap and the switch interval are as
    they were."""
    global _batches, _restore, _froze
    with _lock:
        _batches += 1
        if _batches == 1:
            _settle_heap()
            if sys.getswitchinterval() == _PYTHON_DEFAULT_S:
                _restore = sys.getswitchinterval()
                sys.setswitchinterval(BATCH_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        with _lock:
            _batches -= 1
            if _batches == 0:
                if _restore is not None:
                    sys.setswitchinterval(_restore)
                    _restore = None
                if _froze:
                    gc.unfreeze()
                    _froze = False
