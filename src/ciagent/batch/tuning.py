"""What a batch asks of the Python process it runs in, so that the client keeps its servers busy.

- The heap is settled while a batch runs (`ciagent.heap.settled`, after a collection): what
  exists when it starts is moved out of the cyclic collector's sight until the last batch or
  episode in flight ends.
- While a batch runs, threads switch every 0.5 ms instead of Python's default 5 ms. litellm
  builds every request on a worker thread (`run_in_executor`); with the default interval that
  thread waits up to 5 ms for the interpreter each time the event loop is busy with another
  episode, and with many episodes between calls at once their requests reach the server late.
  At 8 episodes on an 8-slot simulated server the share of time with no request outstanding
  went from 8.6-11.3% to 2.1-2.6% (`tools/bench_batch.py`). The previous interval comes back
  when the last batch running in the process ends, and a host that set its own interval keeps it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ciagent.heap import settled

__all__ = ["BATCH_SWITCH_INTERVAL_S", "batch_process"]

BATCH_SWITCH_INTERVAL_S = 0.0005
_PYTHON_DEFAULT_S = 0.005

_lock = threading.Lock()
_batches = 0
_restore: float | None = None


@contextmanager
def batch_process() -> Iterator[None]:
    """The process tuned for a batch for as long as the block runs (nested and concurrent
    batches share one tuning); when the last ends, the heap and the switch interval are as
    they were."""
    global _batches, _restore
    from ciagent import api  # noqa: F401  (the heavy imports happen before the heap is settled)

    with _lock:
        _batches += 1
        if _batches == 1 and sys.getswitchinterval() == _PYTHON_DEFAULT_S:
            _restore = sys.getswitchinterval()
            sys.setswitchinterval(BATCH_SWITCH_INTERVAL_S)
    try:
        with settled(collect=True):
            yield
    finally:
        with _lock:
            _batches -= 1
            if _batches == 0 and _restore is not None:
                sys.setswitchinterval(_restore)
                _restore = None
